import { Module } from '@nestjs/common';
import { WebhooksModule } from '@realapp/webhooks';
import { MercadoPagoWebhookConsumer } from './mercadopago-webhook.consumer';
import { StripeWebhookConsumer } from './stripe-webhook.consumer';
import { WebhookOutcomes } from './webhook-outcomes';

/**
 * Applies provider webhooks to top-ups and subscriptions. Needs the global PaymentsModule (the
 * services and provider clients) and HeartbeatModule (stale-work registry) at the app root.
 */
@Module({
  imports: [WebhooksModule],
  controllers: [MercadoPagoWebhookConsumer, StripeWebhookConsumer],
  providers: [WebhookOutcomes],
  exports: [WebhookOutcomes],
})
export class PaymentsWorkerModule {}
