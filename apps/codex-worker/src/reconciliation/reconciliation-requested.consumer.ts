import { Controller } from '@nestjs/common';
import { EventEnvelope, TopupReconciliationRequested, TopupReconciliationRequestedData } from '@realapp/contracts';
import { ack, ConsumeResult, OnEvent } from '@realapp/messaging';
import { TopupReconciliation } from './topup-reconciliation.service';

/** Ops asked for a pass now (POST /v1/ops/billing/topups/reconcile on queue-api). */
@Controller()
export class ReconciliationRequestedConsumer {
  constructor(private readonly reconciliation: TopupReconciliation) {}

  @OnEvent(TopupReconciliationRequested)
  async handle(_envelope: EventEnvelope<TopupReconciliationRequestedData>): Promise<ConsumeResult> {
    // A pass already running (here or on another replica) is as good as the one asked for.
    await this.reconciliation.runPass('ops');
    return ack();
  }
}
