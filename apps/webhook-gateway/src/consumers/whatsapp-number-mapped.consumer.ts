import { Controller } from '@nestjs/common';
import { EventEnvelope, WhatsAppNumberMapped, WhatsAppNumberMappedData } from '@realapp/contracts';
import { ack, ConsumeResult, InboxService, OnEvent } from '@realapp/messaging';
import { WhatsAppRoutingService } from '@realapp/webhooks';

export const WHATSAPP_ROUTING_CONSUMER = 'webhook-gateway.whatsapp-routing';

/** Keeps the gateway's routing table in step with the numbers mapped to tenants (SPEC §4, §14). */
@Controller()
export class WhatsAppNumberMappedConsumer {
  constructor(
    private readonly inbox: InboxService,
    private readonly routing: WhatsAppRoutingService,
  ) {}

  @OnEvent(WhatsAppNumberMapped)
  async handle(envelope: EventEnvelope<WhatsAppNumberMappedData>): Promise<ConsumeResult> {
    await this.inbox.runOnce(WHATSAPP_ROUTING_CONSUMER, envelope.id, (tx) =>
      this.routing.applyMapping(tx, envelope.data, envelope.occurredAt),
    );
    return ack();
  }
}
