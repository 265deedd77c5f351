import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { EventEnvelope, WebhookReceivedData } from '@realapp/contracts';
import { ack, ConsumeResult, deadLetter, DeadLetterService, InboxService } from '@realapp/messaging';
import { MetricsService } from '@realapp/platform';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { WebhookEventStore } from '@realapp/webhooks';
import { StaleWorkRegistry } from '../heartbeat/stale-work.registry';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The stored webhook event a message is about, when it is one of the gateway's. */
export function webhookEventIdOf(envelope: EventEnvelope | null): string | null {
  if (!envelope || typeof envelope.type !== 'string' || !/^webhook\.[a-z]+\.received$/.test(envelope.type))
    return null;
  const id = (envelope.data as Partial<WebhookReceivedData> | null)?.webhookEventId;
  return typeof id === 'string' && UUID.test(id) ? id : null;
}

/** What handling a webhook came to: done (possibly with a note for ops), or dead for a human. */
export type WebhookEffect =
  { kind: 'done'; tenantId: string | null; note?: string } | { kind: 'dead'; reason: string };

/**
 * Records a `done` effect as processed, under the inbox, in the transaction that commits the
 * effect (a `dead` one is left to the dead-letter path). Call it at most once, just before that
 * transaction commits, with the effect the apply then returns.
 */
export type SettleWithin = (tx: EntityManager, effect: WebhookEffect) => Promise<void>;

export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * What a webhook consumer's attempt did, written back on the stored event so ops sees it
 * (SPEC §7): `processed` with processed_at in the transaction of the effect, `failed` with the
 * attempt count and last error when an attempt throws, `dead` when its message is dead-lettered.
 */
@Injectable()
export class WebhookOutcomes implements OnModuleInit {
  private readonly logger = new Logger('webhook-outcomes');
  private readonly processed;
  private readonly failed;
  private readonly dead;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly store: WebhookEventStore,
    private readonly inbox: InboxService,
    private readonly deadLetters: DeadLetterService,
    private readonly staleWork: StaleWorkRegistry,
    metrics: MetricsService,
  ) {
    this.processed = metrics.counter('webhooks_processed_total', 'Webhook events applied by the worker', [
      'provider',
      'topic',
    ]);
    this.failed = metrics.counter(
      'webhook_attempts_failed_total',
      'Failed processing attempts of webhook events',
      ['provider'],
    );
    this.dead = metrics.counter('webhooks_dead_total', 'Webhook events whose message was dead-lettered', [
      'provider',
    ]);
  }

  onModuleInit(): void {
    this.deadLetters.onDeadLetter(async ({ envelope, reason }) => {
      const id = webhookEventIdOf(envelope);
      if (id === null) return;
      try {
        await this.store.markDead(id, reason);
        this.dead.inc({ provider: (envelope?.data as WebhookReceivedData).provider });
      } catch (error) {
        // The dead letter itself is recorded already; the status catches up on a replay.
        this.logger.error({ err: error, webhookEventId: id }, 'could not mark a webhook event dead');
      }
    });
    this.staleWork.register('webhook-events', (staleSeconds) => this.store.republishStale(staleSeconds));
  }

  /**
   * Runs one attempt. `apply` makes the provider calls and the idempotent state change (each
   * service call is its own transaction). `processed` is recorded under the inbox: through
   * `settle`, in the transaction of the effect when `apply` has one (one commit for both), else in
   * a transaction of its own afterwards, where a crash in between redelivers the message and
   * `apply` finds nothing left to do. A redelivery settled in the effect's transaction reapplies
   * the provider's current state (idempotent) and leaves the recorded outcome alone. A throw marks
   * the event `failed` and is rethrown for the transport to retry or dead-letter; a `dead` effect
   * dead-letters at once (trying again cannot help; a human must look).
   */
  async attempt(
    consumer: string,
    envelope: EventEnvelope<WebhookReceivedData>,
    apply: (settle: SettleWithin) => Promise<WebhookEffect>,
  ): Promise<ConsumeResult> {
    const { webhookEventId, provider, topic } = envelope.data;
    // Set by `settle`, from inside `apply` (a holder, not a `let`: TypeScript does not see the write).
    const settled: { outcome?: { duplicate: boolean } } = {};
    const settle: SettleWithin = async (tx, done) => {
      if (done.kind !== 'done') return;
      const first = await this.inbox.record(tx, consumer, envelope.id);
      if (first) await this.markProcessed(tx, envelope, done);
      settled.outcome = { duplicate: !first };
    };
    let effect: WebhookEffect;
    try {
      effect = await apply(settle);
    } catch (error) {
      await this.recordFailure(webhookEventId, provider, describeError(error));
      throw error;
    }
    if (effect.kind === 'dead') {
      await this.recordFailure(webhookEventId, provider, effect.reason);
      return deadLetter(effect.reason);
    }
    const done = effect;
    const outcome =
      settled.outcome ??
      (await this.inbox.runOnce(consumer, envelope.id, (tx) => this.markProcessed(tx, envelope, done)));
    if (!outcome.duplicate) this.processed.inc({ provider, topic });
    return ack();
  }

  /**
   * Applies many webhooks in one transaction: `apply` answers, per envelope, the effect it applied
   * in `tx` or null for one it left alone. The applied ones are recorded under the inbox and
   * marked processed in the same transaction, two statements for all of them. True for each
   * envelope settled here (ack it); the others are the caller's to attempt one by one. Throws,
   * with nothing committed, when the batch cannot be applied as a whole (then attempt every one
   * on its own, where failures are counted per message).
   */
  async applyBatch(
    consumer: string,
    envelopes: ReadonlyArray<EventEnvelope<WebhookReceivedData>>,
    apply: (tx: EntityManager) => Promise<ReadonlyArray<WebhookEffect | null>>,
  ): Promise<boolean[]> {
    const effects = await this.dataSource.transaction(async (tx) => {
      const applied = await apply(tx);
      const done: Array<{
        envelope: EventEnvelope<WebhookReceivedData>;
        effect: Extract<WebhookEffect, { kind: 'done' }>;
      }> = [];
      for (const [i, effect] of applied.entries()) {
        if (effect?.kind === 'dead') throw new Error('a batch apply answers done or nothing, never dead');
        if (effect) done.push({ envelope: envelopes[i], effect });
      }
      const recorded = await this.inbox.recordMany(
        tx,
        consumer,
        done.map(({ envelope }) => envelope.id),
      );
      if (recorded.size !== done.length) {
        throw new Error(`${done.length - recorded.size} message(s) of the batch were handled before`);
      }
      await this.store.markProcessedMany(
        tx,
        done.map(({ envelope, effect }) => ({
          id: envelope.data.webhookEventId,
          tenantId: effect.tenantId ?? envelope.tenantId,
          note: effect.note ?? null,
        })),
      );
      return applied;
    });
    return effects.map((effect, i) => {
      if (effect === null) return false;
      this.processed.inc({ provider: envelopes[i].data.provider, topic: envelopes[i].data.topic });
      return true;
    });
  }

  private markProcessed(
    tx: EntityManager,
    envelope: EventEnvelope<WebhookReceivedData>,
    effect: Extract<WebhookEffect, { kind: 'done' }>,
  ): Promise<void> {
    return this.store.markProcessed(
      tx,
      envelope.data.webhookEventId,
      effect.tenantId ?? envelope.tenantId,
      effect.note ?? null,
    );
  }

  private async recordFailure(webhookEventId: string, provider: string, reason: string): Promise<void> {
    this.failed.inc({ provider });
    await this.store
      .markFailed(webhookEventId, reason)
      .catch((error: unknown) =>
        this.logger.error({ err: error, webhookEventId }, 'could not record a failed webhook attempt'),
      );
  }
}
