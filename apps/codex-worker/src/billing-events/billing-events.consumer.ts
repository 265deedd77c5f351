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
import { CampaignsModule } from '../campaigns/campaigns.module';
import { WaitingOrders } from '../campaigns/waiting-orders';
import { ack, ConsumeResult, InboxService, OnEvent, OnEventBatch } from '@realapp/messaging';

const CONSUMER = 'codex-worker.billing-events';

/**
 * What arriving money and plans set off in the worker: on-call's counters (credits applied, plans
 * activated), counted through the inbox so a redelivered event is not counted twice, and, for a
 * credit, the tenant's waiting orders re-evaluated. A top-up's approval is itself the event that
 * re-evaluates: one message per credit instead of two (docs/performance.md). A plan's activation
 * comes with an explicit `ads.orders.reevaluation_requested`, consumed in CampaignsModule.
 */
@Controller()
export class BillingEventsConsumer {
  private readonly credits: Counter<string>;
  private readonly creditedCents: Counter<string>;
  private readonly activations: Counter<string>;

  constructor(
    private readonly inbox: InboxService,
    private readonly waitingOrders: WaitingOrders,
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

  /** In batches: one statement claims a whole batch's inbox ids, one tells which tenants have orders waiting. */
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
    // Counted already when one of them is retried: the inbox keeps the second count out.
    return this.waitingOrders.reevaluate(envelopes);
  }

  @OnEvent(SubscriptionActivated)
  async subscriptionActivated(envelope: EventEnvelope<SubscriptionActivatedData>): Promise<ConsumeResult> {
    if (await this.inbox.claim(CONSUMER, envelope.id)) this.activations.inc({ plan: envelope.data.planId });
    return ack();
  }
}

@Module({ imports: [CampaignsModule], controllers: [BillingEventsConsumer] })
export class BillingEventsModule {}
