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
 * activated) and, for a credit, the tenant's waiting orders re-evaluated. A top-up's approval is
 * itself the event that re-evaluates: one message per credit instead of two (docs/performance.md).
 * A plan's activation comes with an explicit `ads.orders.reevaluation_requested`, consumed in
 * CampaignsModule.
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

  /**
   * In batches: one statement tells which tenants have orders waiting. The credit counters count
   * deliveries, without an inbox row per credit (a third of this consumer's writes, for a number on
   * a dashboard): the rare event delivered twice — a relay that died between the broker's confirm
   * and its commit, a retried batch — counts twice. Prometheus counters restart at zero with the
   * process anyway; the ledger is the record of what was credited, and
   * `GET /v1/ops/ledger/verify` its check.
   */
  @OnEventBatch(TopupApproved, { max: 128 })
  async topupApproved(envelopes: ReadonlyArray<EventEnvelope<TopupApprovedData>>): Promise<ConsumeResult[]> {
    const results = await this.waitingOrders.reevaluate(envelopes);
    envelopes.forEach((envelope, i) => {
      if (results[i].kind !== 'ack') return;
      this.credits.inc({ provider: envelope.data.provider });
      this.creditedCents.inc({ provider: envelope.data.provider }, envelope.data.amountCents);
    });
    return results;
  }

  @OnEvent(SubscriptionActivated)
  async subscriptionActivated(envelope: EventEnvelope<SubscriptionActivatedData>): Promise<ConsumeResult> {
    if (await this.inbox.claim(CONSUMER, envelope.id)) this.activations.inc({ plan: envelope.data.planId });
    return ack();
  }
}

@Module({ imports: [CampaignsModule], controllers: [BillingEventsConsumer] })
export class BillingEventsModule {}
