import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

export type InboxOutcome<T> = { duplicate: false; result: T } | { duplicate: true };

/**
 * Records a message id in the same transaction as the message's effect (ARCHITECTURE rule 4).
 * A redelivery finds the id and does nothing; two copies processed at once serialise on the
 * primary key, and the second one sees the first one's commit.
 */
@Injectable()
export class InboxService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async runOnce<T>(
    consumer: string,
    messageId: string,
    effect: (tx: EntityManager) => Promise<T>,
  ): Promise<InboxOutcome<T>> {
    return this.dataSource.transaction(async (tx) => {
      if (!(await this.record(tx, consumer, messageId))) return { duplicate: true } as const;
      return { duplicate: false, result: await effect(tx) } as const;
    });
  }

  /**
   * For a consumer whose only effect is in memory (a metric): records the id in one autocommit
   * statement and says whether this is the first time, instead of a transaction around nothing.
   */
  async claim(consumer: string, messageId: string): Promise<boolean> {
    return this.record(this.dataSource.manager, consumer, messageId);
  }

  /**
   * Records the message id in the caller's transaction, for a consumer whose effect already has a
   * transaction of its own (one commit instead of two). False when the id was recorded before: a
   * concurrent copy waits here for the first one's commit, then sees it.
   */
  async record(tx: EntityManager, consumer: string, messageId: string): Promise<boolean> {
    return (await this.recordMany(tx, consumer, [messageId])).size > 0;
  }

  /**
   * `record` for the messages of a batch, in one statement: the ids recorded now (the others were
   * recorded before, or by a concurrent copy that committed while this one waited).
   */
  async recordMany(tx: EntityManager, consumer: string, messageIds: readonly string[]): Promise<Set<string>> {
    if (messageIds.length === 0) return new Set();
    const inserted = (await tx.query(
      `INSERT INTO messaging.inbox (consumer, message_id) SELECT $1, id FROM unnest($2::uuid[]) AS m(id)
       ON CONFLICT DO NOTHING RETURNING message_id`,
      [consumer, messageIds],
    )) as Array<{ message_id: string }>;
    return new Set(inserted.map((row) => row.message_id));
  }
}
