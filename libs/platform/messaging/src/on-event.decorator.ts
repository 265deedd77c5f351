import { EventPattern } from '@nestjs/microservices';
import { EventDefinition } from '@realapp/contracts';

/**
 * Marks a consumer method for one event type: `@OnEvent(TopupApproved) handle(envelope)`. The
 * method receives the validated envelope and returns a ConsumeResult (or throws: retried unless
 * the error says `retryable: false`).
 */
export function OnEvent(definition: EventDefinition): MethodDecorator {
  return EventPattern(definition.type) as MethodDecorator;
}
