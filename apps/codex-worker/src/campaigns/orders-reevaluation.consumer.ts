import { Controller } from '@nestjs/common';
import {
  EventEnvelope,
  OrdersReevaluationRequested,
  OrdersReevaluationRequestedData,
} from '@realapp/contracts';
import { ConsumeResult, OnEventBatch } from '@realapp/messaging';
import { WaitingOrders } from './waiting-orders';

/**
 * A re-evaluation asked for: a credit to a tenant with an order waiting (asked in the credit's own
 * transaction, libs/orders CreditReevaluation), a plan activated, an ops credit adjustment, a
 * released hold.
 */
@Controller()
export class OrdersReevaluationConsumer {
  constructor(private readonly waitingOrders: WaitingOrders) {}

  @OnEventBatch(OrdersReevaluationRequested, { max: 64 })
  handle(envelopes: ReadonlyArray<EventEnvelope<OrdersReevaluationRequestedData>>): Promise<ConsumeResult[]> {
    return this.waitingOrders.reevaluate(envelopes);
  }
}
