import { Injectable } from '@nestjs/common';
import { EventEnvelope } from '@realapp/contracts';
import { ack, ConsumeResult, failureResult, InboxService, messageContext } from '@realapp/messaging';
import { OrderLifecycleService, OrderMetrics } from '@realapp/orders';
import { runWithContext } from '@realapp/platform';

const CONSUMER = 'codex-worker.orders-reevaluation';

/**
 * Money or a plan arrived for some tenants: their waiting orders now covered are queued, oldest
 * first. Shared by the consumers of the events that bring money or a plan (a re-evaluation asked
 * for, and top-up approvals published before credits asked for it themselves), one result per
 * message.
 *
 * Some causes ask whether or not anything waits (a released hold), and one statement tells that
 * for every tenant of a batch.
 * Safe because these events are published only after the money committed: an order that committed
 * as waiting before that is visible here, and one that commits later saw the money itself.
 * Tenants with waiting orders are re-evaluated one message at a time, under the inbox.
 */
@Injectable()
export class WaitingOrders {
  constructor(
    private readonly inbox: InboxService,
    private readonly lifecycle: OrderLifecycleService,
    private readonly metrics: OrderMetrics,
  ) {}

  async reevaluate(envelopes: ReadonlyArray<EventEnvelope<{ tenantId: string }>>): Promise<ConsumeResult[]> {
    const waiting = await this.lifecycle.withWaiting(envelopes.map((envelope) => envelope.data.tenantId));
    const results: ConsumeResult[] = [];
    for (const envelope of envelopes) {
      results.push(
        waiting.has(envelope.data.tenantId.toLowerCase())
          ? await runWithContext(messageContext(envelope), () => this.reevaluateOne(envelope))
          : ack(),
      );
    }
    return results;
  }

  private async reevaluateOne(envelope: EventEnvelope<{ tenantId: string }>): Promise<ConsumeResult> {
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
