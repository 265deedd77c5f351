import { Controller } from '@nestjs/common';
import { EventEnvelope, MercadoPagoWebhookReceived, WebhookReceivedData } from '@realapp/contracts';
import { ConsumeResult, OnEvent } from '@realapp/messaging';
import { MercadoPagoClient, SubscriptionService, TopupService } from '@realapp/payments';
import { subscriptionEffect, topupEffect } from './apply-results';
import { SettleWithin, WebhookEffect, WebhookOutcomes } from './webhook-outcomes';

export const MERCADO_PAGO_CONSUMER = 'codex-worker.payments.mercadopago';

/**
 * Mercado Pago notifications (SPEC §8). The notification only says "look at payment X": its body
 * is not even signed. The payment (or pre-approval) is fetched from Mercado Pago before any money
 * moves, so what is applied is always the provider's current state, whatever order the
 * notifications came in. Provider outages throw (retried with backoff, then dead-lettered).
 */
@Controller()
export class MercadoPagoWebhookConsumer {
  constructor(
    private readonly outcomes: WebhookOutcomes,
    private readonly mercadoPago: MercadoPagoClient,
    private readonly topups: TopupService,
    private readonly subscriptions: SubscriptionService,
  ) {}

  @OnEvent(MercadoPagoWebhookReceived)
  handle(envelope: EventEnvelope<WebhookReceivedData>): Promise<ConsumeResult> {
    return this.outcomes.attempt(MERCADO_PAGO_CONSUMER, envelope, (settle) =>
      this.apply(envelope.data, settle),
    );
  }

  private async apply(
    { topic, resourceId }: WebhookReceivedData,
    settle: SettleWithin,
  ): Promise<WebhookEffect> {
    if (!resourceId) return { kind: 'done', tenantId: null, note: 'no data.id: nothing to look up' };
    switch (topic) {
      case 'payment': {
        // The lookup stays outside the transaction; the outcome commits with the credit.
        const payment = await this.mercadoPago.getPayment(resourceId);
        return topupEffect(
          await this.topups.applyMercadoPagoPayment(payment, (tx, result) => settle(tx, topupEffect(result))),
        );
      }
      case 'subscription_preapproval':
        return subscriptionEffect(
          await this.subscriptions.applyPreapproval(await this.mercadoPago.getPreapproval(resourceId)),
        );
      default:
        // e.g. subscription_authorized_payment: the pre-approval notification carries what we act on.
        return { kind: 'done', tenantId: null, note: `topic ${topic} is not acted on` };
    }
  }
}
