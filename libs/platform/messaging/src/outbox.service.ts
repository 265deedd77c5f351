import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { EventDefinition, EventEnvelope, EVENTS } from '@realapp/contracts';
import { currentContext } from '@realapp/platform';

export interface OutgoingEvent<T extends object> {
  tenantId?: string | null;
  /** Defaults to the message or request being handled (from AsyncLocalStorage). */
  causationId?: string | null;
  data: T;
}

/**
 * The only way business code emits an event: a row written in the caller's transaction, so the
 * event exists if and only if the state change committed (ARCHITECTURE rule 3). The relay
 * publishes it afterwards.
 */
@Injectable()
export class OutboxService {
  async enqueue<T extends object>(tx: EntityManager, definition: EventDefinition<T>, event: OutgoingEvent<T>): Promise<EventEnvelope<T>> {
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
    await tx.query(`INSERT INTO messaging.outbox (id, type, routing_key, envelope) VALUES ($1, $2, $3, $4::jsonb)`, [
      envelope.id,
      envelope.type,
      envelope.type,
      JSON.stringify(envelope),
    ]);
    return envelope;
  }
}
