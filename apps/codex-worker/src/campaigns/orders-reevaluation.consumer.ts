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
    const outcome = await this.inbox.runOnce(CONSUMER, envelope.id, (tx) =>
      this.lifecycle.reevaluate(tx, envelope.data.tenantId),
    );
    if (!outcome.duplicate) this.metrics.recordTransitions(outcome.result.transitions);
    return ack();
  }
}
