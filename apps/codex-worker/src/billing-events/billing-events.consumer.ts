import { Controller, Module } from '@nestjs/common';
import { Counter } from 'prom-client';
import {
  EventEnvelope,
  SubscriptionActivated,
  SubscriptionActivatedData,
  TopupApproved,
  TopupApprovedData,
} from '@realapp/contracts';
import { MetricsService } from '@realapp/platform';
import { ack, ConsumeResult, InboxService, OnEvent, OnEventBatch } from '@realapp/messaging';

const CONSUMER = 'codex-worker.billing-events';

/**
 * Counts money and plans as they arrive, for on-call dashboards (credits applied, plans
 * activated). The waiting orders react to `ads.orders.reevaluation_requested`, published in the
 * same transaction; these two events are the business record of what happened. Counted through
 * the inbox so a redelivered event is not counted twice.
 */
@Controller()
export class BillingEventsConsumer {
  private readonly credits: Counter<string>;
  private readonly creditedCents: Counter<string>;
  private readonly activations: Counter<string>;

  constructor(
    private readonly inbox: InboxService,
    metrics: MetricsService,
  ) {
    this.credits = metrics.counter('credits_applied_total', 'Top-ups credited to wallets', ['provider']);
    this.creditedCents = metrics.counter(
      'credits_applied_cents_total',
      'Cents credited to wallets by top-ups',
      ['provider'],
    );
    this.activations = metrics.counter('subscriptions_activated_total', 'Subscriptions that became active', [
      'plan',
    ]);
  }

  /** In batches: one credit is one approval, and one statement claims a whole batch's inbox ids. */
  @OnEventBatch(TopupApproved, { max: 64 })
  async topupApproved(envelopes: ReadonlyArray<EventEnvelope<TopupApprovedData>>): Promise<ConsumeResult[]> {
    const claimed = await this.inbox.claimMany(
      CONSUMER,
      envelopes.map((envelope) => envelope.id),
    );
    for (const envelope of envelopes) {
      // delete, not has: a message the relay published twice is in the batch twice but claimed once.
      if (!claimed.delete(envelope.id.toLowerCase())) continue;
      this.credits.inc({ provider: envelope.data.provider });
      this.creditedCents.inc({ provider: envelope.data.provider }, envelope.data.amountCents);
    }
    return envelopes.map(() => ack());
  }

  @OnEvent(SubscriptionActivated)
  async subscriptionActivated(envelope: EventEnvelope<SubscriptionActivatedData>): Promise<ConsumeResult> {
    if (await this.inbox.claim(CONSUMER, envelope.id)) this.activations.inc({ plan: envelope.data.planId });
    return ack();
  }
}

@Module({ controllers: [BillingEventsConsumer] })
export class BillingEventsModule {}
