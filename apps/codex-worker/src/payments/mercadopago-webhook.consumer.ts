import { Controller, Logger } from '@nestjs/common';
import { EventEnvelope, MercadoPagoWebhookReceived, WebhookReceivedData } from '@realapp/contracts';
import { ack, ConsumeResult, failureResult, messageContext, OnEventBatch } from '@realapp/messaging';
import { MercadoPagoClient, MercadoPagoPayment, SubscriptionService, TopupService } from '@realapp/payments';
import { runWithContext } from '@realapp/platform';
import { subscriptionEffect, topupEffect } from './apply-results';
import { describeError, SettleWithin, WebhookEffect, WebhookOutcomes } from './webhook-outcomes';

export const MERCADO_PAGO_CONSUMER = 'codex-worker.payments.mercadopago';

/** Notifications taken together at most: what one batch transaction locks and writes. */
export const MERCADO_PAGO_BATCH = 128;

/** A payment looked up for a notification: the payment, or why the lookup failed. */
type Lookup = { payment: MercadoPagoPayment } | { error: unknown };

/**
 * Mercado Pago notifications (SPEC §8). The notification only says "look at payment X": its body
 * is not even signed. The payment (or pre-approval) is fetched from Mercado Pago before any money
 * moves, so what is applied is always the provider's current state, whatever order the
 * notifications came in. Provider outages throw (retried with backoff, then dead-lettered).
 *
 * Notifications arrive in batches (what the broker delivered in one read). Their payments are
 * looked up at once, and the plain approvals among them (pending top-up, approved payment) are
 * credited together in one transaction: on a busy PIX day that is nearly all of them, and a credit
 * costs a share of a dozen statements instead of a dozen (docs/performance.md). Everything else —
 * refunds, chargebacks, pre-approvals, a failed lookup, a batch the ledger refuses — is attempted
 * one message at a time, exactly as before batches existed.
 */
@Controller()
export class MercadoPagoWebhookConsumer {
  private readonly logger = new Logger('mercadopago-consumer');

  constructor(
    private readonly outcomes: WebhookOutcomes,
    private readonly mercadoPago: MercadoPagoClient,
    private readonly topups: TopupService,
    private readonly subscriptions: SubscriptionService,
  ) {}

  @OnEventBatch(MercadoPagoWebhookReceived, { max: MERCADO_PAGO_BATCH })
  async handleBatch(envelopes: ReadonlyArray<EventEnvelope<WebhookReceivedData>>): Promise<ConsumeResult[]> {
    const lookups = await Promise.all(envelopes.map((envelope) => this.lookUpPayment(envelope)));
    const candidates = envelopes.flatMap((envelope, index) => {
      const lookup = lookups[index];
      return lookup && 'payment' in lookup ? [{ index, envelope, payment: lookup.payment }] : [];
    });
    const settled = new Set<number>();
    if (candidates.length > 0) {
      try {
        const applied = await this.outcomes.applyBatch(
          MERCADO_PAGO_CONSUMER,
          candidates.map(({ envelope }) => envelope),
          async (tx) =>
            (
              await this.topups.approveMercadoPagoPayments(
                tx,
                candidates.map(({ envelope, payment }) => ({
                  payment,
                  causationId: envelope.id,
                  correlationId: envelope.correlationId,
                })),
              )
            ).map((result) => (result ? topupEffect(result) : null)),
        );
        applied.forEach((done, i) => done && settled.add(candidates[i].index));
      } catch (error) {
        this.logger.warn(
          { err: error, messages: candidates.map(({ envelope }) => envelope.id) },
          'batch not applied; applying its notifications one by one',
        );
      }
    }
    return Promise.all(
      envelopes.map((envelope, index) =>
        settled.has(index)
          ? ack()
          : runWithContext(messageContext(envelope), () => this.handleOne(envelope, lookups[index])),
      ),
    );
  }

  /**
   * One notification on its own; `lookup` is the payment already fetched for it, if any. A throw
   * is this message's alone: it becomes its retry or dead letter, as the transport does for a
   * consumer of single messages.
   */
  private async handleOne(
    envelope: EventEnvelope<WebhookReceivedData>,
    lookup: Lookup | null,
  ): Promise<ConsumeResult> {
    try {
      return await this.outcomes.attempt(MERCADO_PAGO_CONSUMER, envelope, (settle) =>
        this.apply(envelope.data, settle, lookup),
      );
    } catch (error) {
      this.logger.warn({ err: error, type: envelope.type, messageId: envelope.id }, 'handler failed');
      return failureResult(error);
    }
  }

  private async lookUpPayment(envelope: EventEnvelope<WebhookReceivedData>): Promise<Lookup | null> {
    const { topic, resourceId } = envelope.data;
    if (topic !== 'payment' || !resourceId) return null;
    return runWithContext(messageContext(envelope), async () => {
      try {
        return { payment: await this.mercadoPago.getPayment(resourceId) };
      } catch (error) {
        // Thrown again by this message's own attempt, which records and retries it.
        this.logger.debug({ err: describeError(error), resourceId }, 'payment lookup failed');
        return { error };
      }
    });
  }

  private async apply(
    { topic, resourceId }: WebhookReceivedData,
    settle: SettleWithin,
    lookup: Lookup | null,
  ): Promise<WebhookEffect> {
    if (!resourceId) return { kind: 'done', tenantId: null, note: 'no data.id: nothing to look up' };
    switch (topic) {
      case 'payment': {
        // The lookup stays outside the transaction; the outcome commits with the credit.
        if (lookup && 'error' in lookup) throw lookup.error;
        const payment = lookup ? lookup.payment : await this.mercadoPago.getPayment(resourceId);
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
