import { Controller } from '@nestjs/common';
import {
  EventEnvelope,
  OrdersReevaluationRequested,
  OrdersReevaluationRequestedData,
} from '@realapp/contracts';
import {
  ack,
  ConsumeResult,
  failureResult,
  InboxService,
  messageContext,
  OnEventBatch,
} from '@realapp/messaging';
import { runWithContext } from '@realapp/platform';
import { OrderLifecycleService, OrderMetrics } from '@realapp/orders';

const CONSUMER = 'codex-worker.orders-reevaluation';

/** Money or a plan arrived: the tenant's waiting orders now covered are queued, oldest first. */
@Controller()
export class OrdersReevaluationConsumer {
  constructor(
    private readonly inbox: InboxService,
    private readonly lifecycle: OrderLifecycleService,
    private readonly metrics: OrderMetrics,
  ) {}

  /**
   * In batches: most credits find nothing waiting, and one statement tells that for every tenant
   * of the batch instead of one read each. Safe because this event is published only after the
   * credit committed: an order that committed as waiting before that is visible here, and one
   * that commits later saw the money itself. Tenants with waiting orders are re-evaluated one
   * message at a time, under the inbox, as before.
   */
  @OnEventBatch(OrdersReevaluationRequested, { max: 64 })
  async handle(
    envelopes: ReadonlyArray<EventEnvelope<OrdersReevaluationRequestedData>>,
  ): Promise<ConsumeResult[]> {
    const waiting = await this.lifecycle.withWaiting(envelopes.map((envelope) => envelope.data.tenantId));
    const results: ConsumeResult[] = [];
    for (const envelope of envelopes) {
      results.push(
        waiting.has(envelope.data.tenantId.toLowerCase())
          ? await runWithContext(messageContext(envelope), () => this.reevaluate(envelope))
          : ack(),
      );
    }
    return results;
  }

  private async reevaluate(envelope: EventEnvelope<OrdersReevaluationRequestedData>): Promise<ConsumeResult> {
    try {
      const outcome = await this.inbox.runOnce(CONSUMER, envelope.id, (tx) =>
        this.lifecycle.reevaluate(tx, envelope.data.tenantId),
      );
      if (!outcome.duplicate) this.metrics.recordTransitions(outcome.result.transitions);
      return ack();
    } catch (error) {
      return failureResult(error);
    }
  }
}
