import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import {
  DataSource,
  EntityManager,
  EntitySubscriberInterface,
  QueryRunner,
  TransactionCommitEvent,
  TransactionRollbackEvent,
} from 'typeorm';
import { EventDefinition, EventEnvelope, EVENTS } from '@realapp/contracts';
import { currentContext } from '@realapp/platform';

export interface OutgoingEvent<T extends object> {
  tenantId?: string | null;
  /** Defaults to the message or request being handled (from AsyncLocalStorage). */
  causationId?: string | null;
  /** Defaults to the correlation id of the message or request being handled. */
  correlationId?: string;
  data: T;
}

/**
 * Age in seconds of the oldest row still to be published (0 when the outbox is empty): the one
 * figure on-call watches for the relay, read by the metric and by ops' health answer alike.
 */
export async function outboxLagSeconds(db: Pick<DataSource, 'query'>): Promise<number> {
  const [row] = (await db.query(
    `SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float AS lag FROM messaging.outbox`,
  )) as Array<{ lag: number }>;
  return Math.max(0, row.lag);
}

/** Set on a transaction's query runner once it wrote an outbox row; read when it commits. */
const WROTE_OUTBOX = 'realapp.outbox.wrote';

/**
 * The only way business code emits an event: a row written in the caller's transaction, so the
 * event exists if and only if the state change committed (ARCHITECTURE rule 3). The relay
 * publishes it afterwards.
 *
 * The relay of the process that wrote the row is woken right after the commit (a TypeORM
 * transaction subscriber), not by a database NOTIFY: PostgreSQL serialises the commits of every
 * notifying transaction under one lock held through the WAL flush, which turned group commit into
 * one fsync at a time (docs/performance.md). Rows whose writer died before relaying them are
 * picked up by any relay's poll.
 */
@Injectable()
export class OutboxService implements EntitySubscriberInterface {
  private readonly listeners = new Set<() => void>();

  constructor(@InjectDataSource() dataSource: DataSource) {
    dataSource.subscribers.push(this);
  }

  /** `listener` runs after every commit in this process that wrote outbox rows. */
  onCommitted(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** For writers that insert outbox rows without enqueue() (one autocommit statement): call after it returned. */
  committed(): void {
    for (const listener of this.listeners) listener();
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    // A savepoint release is not the commit: wait for the outermost transaction.
    if (event.queryRunner.isTransactionActive || !event.queryRunner.data[WROTE_OUTBOX]) return;
    delete event.queryRunner.data[WROTE_OUTBOX];
    this.committed();
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    if (!event.queryRunner.isTransactionActive) delete event.queryRunner.data[WROTE_OUTBOX];
  }

  async enqueue<T extends object>(
    tx: EntityManager,
    definition: EventDefinition<T>,
    event: OutgoingEvent<T>,
  ): Promise<EventEnvelope<T>> {
    const [envelope] = await this.enqueueMany(tx, [{ definition, event }]);
    return envelope as EventEnvelope<T>;
  }

  /**
   * Several events in one statement, in order. For a caller applying many messages in one
   * transaction: give each event its own `causationId` and `correlationId` (the message it comes
   * from), since the context of the batch is none of theirs.
   */
  async enqueueMany(
    tx: EntityManager,
    events: ReadonlyArray<{ definition: EventDefinition; event: OutgoingEvent<object> }>,
  ): Promise<EventEnvelope[]> {
    if (events.length === 0) return [];
    const context = currentContext();
    const envelopes = events.map(({ definition, event }) => {
      const problems = EVENTS.dataProblems(definition.type, event.data);
      if (problems.length) throw new Error(`invalid ${definition.type} event: ${problems.join('; ')}`);
      const envelope: EventEnvelope = {
        id: randomUUID(),
        type: definition.type,
        version: definition.version,
        occurredAt: new Date().toISOString(),
        correlationId: event.correlationId ?? context?.correlationId ?? randomUUID(),
        causationId: event.causationId !== undefined ? event.causationId : (context?.causationId ?? null),
        tenantId: event.tenantId ?? null,
        data: event.data,
      };
      return envelope;
    });
    // One shape for one row or many: the statement is planned once per connection either way.
    await tx.query(
      `INSERT INTO messaging.outbox (id, type, routing_key, envelope)
       SELECT id, type, type, envelope::jsonb FROM unnest($1::uuid[], $2::text[], $3::text[]) AS e(id, type, envelope)`,
      [envelopes.map((e) => e.id), envelopes.map((e) => e.type), envelopes.map((e) => JSON.stringify(e))],
    );
    const runner: QueryRunner | undefined = tx.queryRunner;
    if (runner?.isTransactionActive) runner.data[WROTE_OUTBOX] = true;
    else this.committed();
    return envelopes;
  }
}
