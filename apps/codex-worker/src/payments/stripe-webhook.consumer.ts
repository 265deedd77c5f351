import { Controller } from '@nestjs/common';
import { EventEnvelope, StripeWebhookReceived, WebhookReceivedData } from '@realapp/contracts';
import { ConsumeResult, OnEvent } from '@realapp/messaging';
import { PaymentsError, StripeGateway, TopupService } from '@realapp/payments';
import { topupEffect } from './apply-results';
import { WebhookEffect, WebhookOutcomes } from './webhook-outcomes';

export const STRIPE_CONSUMER = 'codex-worker.payments.stripe';

type Json = Record<string, unknown>;
const objectAt = (value: unknown): Json | null =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : null;
const stringAt = (value: unknown): string | null =>
  typeof value === 'string' && value.length > 0 ? value : null;
/** `payment_intent` / `charge` are ids, or whole objects when the sender expanded them. */
const idAt = (value: unknown): string | null => stringAt(value) ?? stringAt(objectAt(value)?.id);

function centsAt(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  throw new PaymentsError('invalid_amount', `Stripe ${field} is not a count of cents: ${String(value)}`, {
    provider: 'stripe',
  });
}

/**
 * Stripe events (SPEC §8, PROVIDERS.md). Checkout Session events are applied from the session as
 * Stripe reports it now (fetched), so events out of order converge; only a `paid` session credits.
 * Refunds and disputes are debits matched by the PaymentIntent metadata (top-up id) the top-up
 * creation put there.
 */
@Controller()
export class StripeWebhookConsumer {
  constructor(
    private readonly outcomes: WebhookOutcomes,
    private readonly stripe: StripeGateway,
    private readonly topups: TopupService,
  ) {}

  @OnEvent(StripeWebhookReceived)
  handle(envelope: EventEnvelope<WebhookReceivedData>): Promise<ConsumeResult> {
    return this.outcomes.attempt(STRIPE_CONSUMER, envelope, () => this.apply(envelope.data));
  }

  private async apply({ topic, resourceId, payload }: WebhookReceivedData): Promise<WebhookEffect> {
    const object = objectAt(objectAt(payload.data)?.object) ?? {};
    switch (topic) {
      case 'checkout.session.completed':
      case 'checkout.session.async_payment_succeeded': {
        if (!resourceId) return { kind: 'dead', reason: `${topic} without a session id` };
        // The fetched session decides: complete + paid credits, complete + unpaid waits.
        return topupEffect(
          await this.topups.applyStripeCheckoutSession(await this.stripe.getCheckoutSession(resourceId)),
        );
      }
      case 'checkout.session.async_payment_failed':
      case 'checkout.session.expired': {
        if (!resourceId) return { kind: 'dead', reason: `${topic} without a session id` };
        // The session alone is ambiguous for these two; the event type says what happened.
        return topupEffect(
          await this.topups.applyStripeCheckoutSession(
            await this.stripe.getCheckoutSession(resourceId),
            topic,
          ),
        );
      }
      case 'charge.refunded':
        return topupEffect(
          await this.topups.applyStripeRefund({
            topupId: stringAt(objectAt(object.metadata)?.topupId),
            paymentIntentId: idAt(object.payment_intent),
            amountRefundedCents: centsAt(object.amount_refunded, 'amount_refunded'),
            chargeId: stringAt(object.id),
          }),
        );
      case 'charge.dispute.created':
        return topupEffect(
          await this.topups.applyStripeDispute({
            topupId: stringAt(objectAt(object.metadata)?.topupId),
            paymentIntentId: idAt(object.payment_intent),
            amountCents: centsAt(object.amount, 'amount'),
            disputeId: stringAt(object.id),
          }),
        );
      default:
        return { kind: 'done', tenantId: null, note: `event type ${topic} is not acted on` };
    }
  }
}
