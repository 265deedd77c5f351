import { Controller } from '@nestjs/common';
import { EventEnvelope, OrderActionRequested, OrderActionRequestedData } from '@realapp/contracts';
import { ack, ConsumeResult, OnEvent } from '@realapp/messaging';
import { CampaignReconciler } from './campaign-reconciler';

/**
 * A customer paused, resumed or stopped an order (its status already says so). The worker makes
 * Meta match the order as it is now rather than replaying the action, so actions that arrive out
 * of order or twice still end with Meta in the last state the customer asked for.
 */
@Controller()
export class OrderActionConsumer {
  constructor(private readonly reconciler: CampaignReconciler) {}

  @OnEvent(OrderActionRequested)
  async handle(envelope: EventEnvelope<OrderActionRequestedData>): Promise<ConsumeResult> {
    await this.reconciler.reconcile(envelope.data.orderId);
    return ack();
  }
}
