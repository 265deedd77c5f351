import { Controller } from '@nestjs/common';
import { EventEnvelope, OrderQueued, OrderQueuedData } from '@realapp/contracts';
import { ack, ConsumeResult, OnEvent } from '@realapp/messaging';
import { CampaignReconciler } from './campaign-reconciler';

/**
 * The budget is held: create the campaign at Meta. No inbox here on purpose: the launch is
 * idempotent by the order's status and the campaign's name, and a re-enqueued launch (after a
 * crash) is a new message that must run.
 */
@Controller()
export class OrderQueuedConsumer {
  constructor(private readonly reconciler: CampaignReconciler) {}

  @OnEvent(OrderQueued)
  async handle(envelope: EventEnvelope<OrderQueuedData>): Promise<ConsumeResult> {
    // 'busy': the worker holding the order re-reads it when done and launches it then.
    await this.reconciler.reconcile(envelope.data.orderId);
    return ack();
  }
}
