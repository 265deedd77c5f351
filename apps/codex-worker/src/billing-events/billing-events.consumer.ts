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
 * What plans and (until every outbox and queue has drained) top-up approvals set off in the
 * worker. A plan's activation is counted here; it comes with an explicit
 * `ads.orders.reevaluation_requested`, consumed in CampaignsModule.
 *
 * `billing.topup.approved` is no longer published: a credit asks for a re-evaluation in its own
 * transaction, only where an order waits (libs/orders CreditReevaluation), and the credit counters
 * move when it commits (libs/payments CreditEffects). The handler below re-evaluates for approvals
 * published before that change, which may still sit in an outbox or this queue across the deploy;
 * remove it, the subscription and the event in the release after.
 */
@Controller()
export class BillingEventsConsumer {
  private readonly activations: Counter<string>;

  constructor(
    private readonly inbox: InboxService,
    private readonly waitingOrders: WaitingOrders,
    metrics: MetricsService,
  ) {
    this.activations = metrics.counter('subscriptions_activated_total', 'Subscriptions that became active', [
      'plan',
    ]);
  }

  @OnEventBatch(TopupApproved, { max: 128 })
  topupApproved(envelopes: ReadonlyArray<EventEnvelope<TopupApprovedData>>): Promise<ConsumeResult[]> {
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
