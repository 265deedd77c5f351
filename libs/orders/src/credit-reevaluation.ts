import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { OrdersReevaluationRequested } from '@realapp/contracts';
import { OutboxService } from '@realapp/messaging';
import { AppliedCredit, CreditFollowUp } from '@realapp/payments';
import { OrderLifecycleService } from './order-lifecycle.service';

/**
 * A credit asks for a re-evaluation only where an order waits for money, decided in the credit's
 * own transaction (payments calls it there, after the wallet is locked). Most credits find nothing
 * waiting: they publish nothing, where an approval event per credit cost a message, its relay and
 * its consumer for every credit (docs/performance.md). One request per tenant of the batch, caused
 * by the first of its credits.
 */
@Injectable()
export class CreditReevaluation implements CreditFollowUp {
  constructor(
    private readonly lifecycle: OrderLifecycleService,
    private readonly outbox: OutboxService,
  ) {}

  async credited(tx: EntityManager, credits: readonly AppliedCredit[]): Promise<void> {
    const waiting = await this.lifecycle.withWaiting(
      credits.map((credit) => credit.tenantId),
      tx,
    );
    if (waiting.size === 0) return;
    const first = new Map<string, AppliedCredit>();
    for (const credit of credits) {
      const tenant = credit.tenantId.toLowerCase();
      if (waiting.has(tenant) && !first.has(tenant)) first.set(tenant, credit);
    }
    await this.outbox.enqueueMany(
      tx,
      [...first.values()].map((credit) => ({
        definition: OrdersReevaluationRequested,
        event: {
          tenantId: credit.tenantId,
          ...(credit.causationId !== undefined ? { causationId: credit.causationId } : {}),
          ...(credit.correlationId !== undefined ? { correlationId: credit.correlationId } : {}),
          data: { tenantId: credit.tenantId, cause: 'topup_approved' as const, reference: credit.reference },
        },
      })),
    );
  }
}
