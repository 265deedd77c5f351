import { EventPattern } from '@nestjs/microservices';
import { EventDefinition, EventEnvelope } from '@realapp/contracts';
import { RequestContext } from '@realapp/platform';

/** Handler metadata the transport reads: how many messages a batch consumer takes at once. */
export const BATCH_EXTRA = 'realapp.batch';

/**
 * Marks a consumer method for one event type: `@OnEvent(TopupApproved) handle(envelope)`. The
 * method receives the validated envelope and returns a ConsumeResult (or throws: retried unless
 * the error says `retryable: false`).
 */
export function OnEvent(definition: EventDefinition): MethodDecorator {
  return EventPattern(definition.type) as MethodDecorator;
}

/**
 * Marks a consumer method that takes the messages of one event type in batches:
 * `@OnEventBatch(WebhookReceived, { max: 64 }) handle(envelopes)` returns one ConsumeResult per
 * envelope, in order. A batch is what the broker delivered in one read, up to `max`: nothing
 * waits for a batch to fill. For consumers whose per-message cost is mostly round trips that one
 * multi-row statement can share (docs/performance.md). The method must settle every envelope
 * itself; a throw retries the whole batch message by message.
 */
export function OnEventBatch(definition: EventDefinition, options: { max: number }): MethodDecorator {
  if (!Number.isInteger(options.max) || options.max < 1)
    throw new Error(`batch max must be a positive integer`);
  return EventPattern(definition.type, { [BATCH_EXTRA]: options.max }) as MethodDecorator;
}

/** The logging and causation context a message's handling runs in (one message at a time or one of a batch). */
export function messageContext(envelope: EventEnvelope): RequestContext {
  return { correlationId: envelope.correlationId, causationId: envelope.id, tenantId: envelope.tenantId };
}
