import { Controller } from '@nestjs/common';
import {
  EventEnvelope,
  OrdersReevaluationRequested,
  OrdersReevaluationRequestedData,
} from '@realapp/contracts';
import { ack, ConsumeResult, InboxService, OnEvent } from '@realapp/messaging';
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

  @OnEvent(OrdersReevaluationRequested)
  async handle(envelope: EventEnvelope<OrdersReevaluationRequestedData>): Promise<ConsumeResult> {
    // Most credits find nothing waiting: one indexed read instead of a locking transaction. Safe
    // because this event is published only after the credit committed: an order that committed
    // as waiting before that is visible here, and one that commits later saw the money itself.
    if (!(await this.lifecycle.hasWaiting(envelope.data.tenantId))) return ack();
    const outcome = await this.inbox.runOnce(CONSUMER, envelope.id, (tx) =>
      this.lifecycle.reevaluate(tx, envelope.data.tenantId),
    );
    if (!outcome.duplicate) this.metrics.recordTransitions(outcome.result.transitions);
    return ack();
  }
}
