import { Controller } from '@nestjs/common';
import { BalanceNegative, BalanceNegativeData, EventEnvelope } from '@realapp/contracts';
import { ack, ConsumeResult, InboxService, OnEvent } from '@realapp/messaging';
import { OrderLifecycleService, OrderMetrics } from '@realapp/orders';

const CONSUMER = 'codex-worker.orders-balance-negative';

/**
 * A refund or chargeback took the wallet below zero: the tenant's running campaigns pause (each
 * with its own OrderActionRequested, so the pause reaches Meta the same way a customer's does).
 */
@Controller()
export class BalanceNegativeConsumer {
  constructor(
    private readonly inbox: InboxService,
    private readonly lifecycle: OrderLifecycleService,
    private readonly metrics: OrderMetrics,
  ) {}

  @OnEvent(BalanceNegative)
  async handle(envelope: EventEnvelope<BalanceNegativeData>): Promise<ConsumeResult> {
    const outcome = await this.inbox.runOnce(CONSUMER, envelope.id, (tx) =>
      this.lifecycle.pauseForNegativeBalance(tx, envelope.data.tenantId),
    );
    if (!outcome.duplicate) this.metrics.recordTransitions(outcome.result.transitions);
    return ack();
  }
}
