import { Controller } from '@nestjs/common';
import { EventEnvelope, MetaWebhookReceived, WebhookReceivedData } from '@realapp/contracts';
import { ConsumeResult, OnEvent } from '@realapp/messaging';
import { InboundService } from '@realapp/whatsapp';
import { WebhookOutcomes } from '../payments/webhook-outcomes';

/** The inbox name under which the stored webhook event is marked processed. */
export const META_WEBHOOK_OUTCOME_CONSUMER = 'codex-worker.whatsapp.outcome';

/**
 * The worker's one handler of `webhook.meta.received` (SPEC §7, §14): WhatsApp `messages`
 * (answered by the tenant's published flow) and `account_update` partner events. The stored
 * webhook event is marked processed, failed or dead like every other provider's.
 */
@Controller()
export class MetaWebhookConsumer {
  constructor(
    private readonly outcomes: WebhookOutcomes,
    private readonly inbound: InboundService,
  ) {}

  @OnEvent(MetaWebhookReceived)
  handle(envelope: EventEnvelope<WebhookReceivedData>): Promise<ConsumeResult> {
    return this.outcomes.attempt(META_WEBHOOK_OUTCOME_CONSUMER, envelope, async () => {
      const handled = await this.inbound.handleWebhook(envelope);
      return handled.note === null
        ? { kind: 'done', tenantId: handled.tenantId }
        : { kind: 'done', tenantId: handled.tenantId, note: handled.note };
    });
  }
}
