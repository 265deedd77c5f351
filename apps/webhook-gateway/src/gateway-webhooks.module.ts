import { Module } from '@nestjs/common';
import { WebhooksModule } from '@realapp/webhooks';
import { WhatsAppNumberMappedConsumer } from './consumers/whatsapp-number-mapped.consumer';
import { WebhookEventsOpsController } from './ops/webhook-events.controller';
import { WebhookIntakeService } from './webhooks/webhook-intake.service';
import { WebhooksController } from './webhooks/webhooks.controller';

/** Everything the gateway does beyond the platform: intake, webhook ops, the routing table. */
@Module({
  imports: [WebhooksModule],
  controllers: [WebhooksController, WebhookEventsOpsController, WhatsAppNumberMappedConsumer],
  providers: [WebhookIntakeService],
})
export class GatewayWebhooksModule {}
