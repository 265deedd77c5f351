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
  data: T;
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
    const problems = EVENTS.dataProblems(definition.type, event.data);
    if (problems.length) throw new Error(`invalid ${definition.type} event: ${problems.join('; ')}`);
    const context = currentContext();
    const envelope: EventEnvelope<T> = {
      id: randomUUID(),
      type: definition.type,
      version: definition.version,
      occurredAt: new Date().toISOString(),
      correlationId: context?.correlationId ?? randomUUID(),
      causationId: event.causationId !== undefined ? event.causationId : (context?.causationId ?? null),
      tenantId: event.tenantId ?? null,
      data: event.data,
    };
    await tx.query(
      `INSERT INTO messaging.outbox (id, type, routing_key, envelope) VALUES ($1, $2, $3, $4::jsonb)`,
      [envelope.id, envelope.type, envelope.type, JSON.stringify(envelope)],
    );
    const runner: QueryRunner | undefined = tx.queryRunner;
    if (runner?.isTransactionActive) runner.data[WROTE_OUTBOX] = true;
    else this.committed();
    return envelope;
  }
}
