import { Controller } from '@nestjs/common';
import {
  EventEnvelope,
  OrdersReevaluationRequested,
  OrdersReevaluationRequestedData,
} from '@realapp/contracts';
import { ConsumeResult, OnEventBatch } from '@realapp/messaging';
import { WaitingOrders } from './waiting-orders';

/**
 * A re-evaluation asked for explicitly: a plan activated, an ops credit adjustment. A top-up's
 * approval needs no such event: its own `billing.topup.approved` re-evaluates (BillingEventsConsumer).
 */
@Controller()
export class OrdersReevaluationConsumer {
  constructor(private readonly waitingOrders: WaitingOrders) {}

  @OnEventBatch(OrdersReevaluationRequested, { max: 64 })
  handle(envelopes: ReadonlyArray<EventEnvelope<OrdersReevaluationRequestedData>>): Promise<ConsumeResult[]> {
    return this.waitingOrders.reevaluate(envelopes);
  }
}
