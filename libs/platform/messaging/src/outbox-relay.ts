import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { MetricsService, withAdvisoryLock } from '@realapp/platform';
import { ConfirmChannel } from 'amqplib';
import { declareTopology } from './declare-topology';
import { AmqpConnection } from './amqp-connection';
import { outboxLagSeconds, OutboxService } from './outbox.service';
import { Topology } from './topology';

const BATCH = 200;

interface ClaimedRow {
  id: string;
  type: string;
  routing_key: string;
  correlation_id: string | null;
  envelope: string;
}

/** Oldest first; FOR UPDATE SKIP LOCKED lets replicas claim disjoint batches side by side. */
const CLAIM_BATCH_SQL = `
WITH moved AS (
  DELETE FROM messaging.outbox WHERE seq IN (
    SELECT seq FROM messaging.outbox ORDER BY seq LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)
  RETURNING *
), logged AS (
  INSERT INTO messaging.outbox_published (seq, id, type, routing_key, envelope, created_at)
  SELECT seq, id, type, routing_key, envelope, created_at FROM moved
)
SELECT id, type, routing_key, envelope ->> 'correlationId' AS correlation_id, envelope::text AS envelope
FROM moved ORDER BY seq`;

/** The published history is for people only (consumers de-duplicate by inbox, not by outbox): kept a week. */
const RETENTION_DAYS = 7;
const PURGE_EVERY_MS = 10 * 60_000;
const PURGE_BATCH = 5000;
/** A batch whose confirms do not arrive by then is rolled back and retried (its rows stay unpublished). */
const CONFIRM_TIMEOUT_MS = 10_000;
/** Shutdown waits this long for a batch in flight; its rows stay unpublished if it is cut short. */
const STOP_WAIT_MS = 5_000;

export interface OutboxRelayOptions {
  pollIntervalMs: number;
}

/**
 * Publishes committed outbox rows with publisher confirms, and moves them out of the outbox (to
 * its week-long history) in a transaction that commits only after the broker confirmed them. Rows
 * are claimed with FOR UPDATE SKIP LOCKED, so any number of replicas relay side by side without
 * publishing a row twice in the normal case; a crash between the confirm and the commit
 * republishes, which consumers' inboxes absorb.
 *
 * Woken by this process's own commits (OutboxService.onCommitted; every wake-up during a batch
 * folds into one more batch), and polling every `pollIntervalMs` for rows whose writer died
 * before relaying them.
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('outbox-relay');
  private running = false;
  private unsubscribe: (() => void) | null = null;
  private lastPurgeAt = Date.now();
  private wake: (() => void) | null = null;
  private pending = false;
  private loop: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly published;
  private declaredOn: ConfirmChannel | null = null;
  private readonly lag;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly amqp: AmqpConnection,
    private readonly topology: Topology,
    private readonly options: OutboxRelayOptions,
    metrics: MetricsService,
    private readonly outbox: OutboxService,
  ) {
    this.published = metrics.counter('outbox_published_total', 'Outbox rows published to the broker', [
      'type',
    ]);
    this.lag = metrics.gauge(
      'outbox_lag_seconds',
      'Age of the oldest unpublished outbox row',
      [],
      async () => {
        this.lag.set(await outboxLagSeconds(this.dataSource).catch(() => 0));
      },
    );
  }

  onApplicationBootstrap(): void {
    this.running = true;
    this.unsubscribe = this.outbox.onCommitted(() => this.nudge());
    this.loop = this.run();
  }

  async onModuleDestroy(): Promise<void> {
    this.running = false;
    this.nudge();
    if (this.timer) clearTimeout(this.timer);
    this.unsubscribe?.();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.loop,
      new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MS))),
    ]);
    clearTimeout(timer);
  }

  /** Wakes the relay now (after a commit that wrote outbox rows, or in tests). */
  nudge(): void {
    this.pending = true;
    this.wake?.();
  }

  private async run(): Promise<void> {
    while (this.running) {
      let published = 0;
      try {
        if (this.amqp.isConnected()) published = await this.publishBatch();
      } catch (error) {
        this.logger.warn({ err: error }, 'outbox batch failed; will retry');
      }
      if (published === BATCH) continue;
      await this.purgeWhenDue();
      await this.sleep();
    }
  }

  private sleep(): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = null;
        this.pending = false;
        if (this.timer) clearTimeout(this.timer);
        resolve();
      };
      this.timer = setTimeout(() => this.wake?.(), this.options.pollIntervalMs);
      this.timer.unref();
    });
  }

  /** One replica at a time deletes published rows past retention, a bounded batch per pass. */
  private async purgeWhenDue(): Promise<void> {
    if (Date.now() - this.lastPurgeAt < PURGE_EVERY_MS) return;
    this.lastPurgeAt = Date.now();
    try {
      await withAdvisoryLock(this.dataSource, 'outbox-retention', () => this.purgePublished());
    } catch (error) {
      this.logger.warn({ err: error }, 'outbox retention pass failed; next one in 10 minutes');
    }
  }

  /** Deletes published rows older than the retention from the history; returns how many. */
  async purgePublished(retentionDays = RETENTION_DAYS): Promise<number> {
    const rows = (await this.dataSource.query(
      `DELETE FROM messaging.outbox_published WHERE ctid = ANY(ARRAY(
         SELECT ctid FROM messaging.outbox_published
         WHERE published_at < now() - make_interval(days => $1)
         LIMIT ${PURGE_BATCH}))
       RETURNING seq`,
      [retentionDays],
    )) as unknown[];
    return rows.length;
  }

  /**
   * Publishes one batch; returns how many rows it published. The rows are claimed by moving them to
   * the history in the statement that reads them (their delete locks them against other relays),
   * and the move commits only once the broker confirmed every one: a failed or unconfirmed batch
   * rolls back and its rows are still in the outbox.
   */
  async publishBatch(): Promise<number> {
    return this.dataSource.transaction(async (tx) => {
      const rows = (await tx.query(CLAIM_BATCH_SQL)) as ClaimedRow[];
      if (rows.length === 0) return 0;
      const channel = await this.amqp.confirmChannel();
      if (this.declaredOn !== channel) {
        await declareTopology(channel, this.topology);
        this.declaredOn = channel;
      }
      const timestamp = Math.floor(Date.now() / 1000);
      for (const row of rows) {
        channel.publish(this.topology.eventsExchange, row.routing_key, Buffer.from(row.envelope), {
          persistent: true,
          messageId: row.id,
          type: row.type,
          contentType: 'application/json',
          timestamp,
          // The AMQP property, not a header: tools show it alike, and a headers table costs the
          // relay a quarter more CPU per publish (measured with amqplib 2.3, docs/performance.md).
          ...(row.correlation_id ? { correlationId: row.correlation_id } : {}),
        });
      }
      await confirmed(channel);
      // One increment per type and batch: the relay is the gateway's busiest code after the intake.
      const perType = new Map<string, number>();
      for (const row of rows) perType.set(row.routing_key, (perType.get(row.routing_key) ?? 0) + 1);
      for (const [type, count] of perType) this.published.inc({ type }, count);
      return rows.length;
    });
  }
}

/**
 * The broker's confirms for everything published on `channel`, or a rejection when the channel
 * closes or they take too long: a channel closed mid-batch (a deleted exchange, a broker restart)
 * must fail the batch so that it rolls back, not hang the relay.
 */
function confirmed(channel: ConfirmChannel): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fail = (error?: Error): void => {
      settle();
      reject(error ?? new Error('publish channel closed before the broker confirmed the batch'));
    };
    const onClose = (): void => fail();
    const timer = setTimeout(
      () => fail(new Error(`no publisher confirms within ${CONFIRM_TIMEOUT_MS} ms`)),
      CONFIRM_TIMEOUT_MS,
    );
    const settle = (): void => {
      clearTimeout(timer);
      channel.off('close', onClose);
      channel.off('error', fail);
    };
    channel.once('close', onClose);
    channel.once('error', fail);
    channel.waitForConfirms().then(
      () => {
        settle();
        resolve();
      },
      (error: Error) => fail(error),
    );
  });
}
