import { Module } from '@nestjs/common';
import { WebhookEventStore } from './webhook-event.store';
import { WhatsAppRoutingService } from './whatsapp-routing.service';

/** Needs the platform's database and the messaging module's OutboxService (both global). */
@Module({
  providers: [WebhookEventStore, WhatsAppRoutingService],
  exports: [WebhookEventStore, WhatsAppRoutingService],
})
export class WebhooksModule {}
