import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { MetricsService } from '@realapp/platform';
import { ConfirmChannel } from 'amqplib';
import { declareTopology } from './declare-topology';
import { AmqpConnection } from './amqp-connection';
import { Topology } from './topology';

const BATCH = 200;
export const OUTBOX_CHANNEL = 'realapp_outbox';

export interface OutboxRelayOptions {
  databaseUrl: string;
  pollIntervalMs: number;
}

/**
 * Publishes committed outbox rows with publisher confirms, and marks them published only after
 * the broker confirmed them. Rows are claimed with FOR UPDATE SKIP LOCKED, so any number of
 * replicas relay side by side without publishing a row twice in the normal case; a crash between
 * the confirm and the commit republishes, which consumers' inboxes absorb.
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('outbox-relay');
  private listener: Client | null = null;
  private running = false;
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
  ) {
    this.published = metrics.counter('outbox_published_total', 'Outbox rows published to the broker', ['type']);
    this.lag = metrics.gauge('outbox_lag_seconds', 'Age of the oldest unpublished outbox row', [], async () => {
      const rows = (await this.dataSource
        .query(`SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float AS lag FROM messaging.outbox WHERE published_at IS NULL`)
        .catch(() => [{ lag: 0 }])) as Array<{ lag: number }>;
      this.lag.set(rows[0]?.lag ?? 0);
    });
  }

  onApplicationBootstrap(): void {
    this.running = true;
    this.loop = this.run();
    void this.listen();
  }

  async onModuleDestroy(): Promise<void> {
    this.running = false;
    this.nudge();
    if (this.timer) clearTimeout(this.timer);
    await this.loop;
    await this.listener?.end().catch(() => undefined);
  }

  /** Wakes the relay now (after a NOTIFY, or in tests). */
  nudge(): void {
    this.pending = true;
    this.wake?.();
  }

  private async listen(): Promise<void> {
    if (!this.running) return;
    const client = new Client({ connectionString: this.options.databaseUrl, application_name: 'outbox-listener' });
    client.on('error', () => undefined);
    client.on('notification', () => this.nudge());
    client.on('end', () => {
      if (this.listener === client) this.listener = null;
      if (this.running) setTimeout(() => void this.listen(), 1000).unref();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
      this.listener = client;
      this.nudge();
    } catch {
      await client.end().catch(() => undefined);
    }
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

  /** Publishes one batch; returns how many rows it published. */
  async publishBatch(): Promise<number> {
    return this.dataSource.transaction(async (tx) => {
      const rows = (await tx.query(
        `SELECT seq, id, routing_key, envelope::text AS envelope FROM messaging.outbox
         WHERE published_at IS NULL ORDER BY seq LIMIT ${BATCH} FOR UPDATE SKIP LOCKED`,
      )) as Array<{ seq: string; id: string; routing_key: string; envelope: string }>;
      if (rows.length === 0) return 0;
      const channel = await this.amqp.confirmChannel();
      if (this.declaredOn !== channel) {
        await declareTopology(channel, this.topology);
        this.declaredOn = channel;
      }
      for (const row of rows) {
        const envelope = JSON.parse(row.envelope) as { correlationId?: string; type: string };
        channel.publish(this.topology.eventsExchange, row.routing_key, Buffer.from(row.envelope), {
          persistent: true,
          messageId: row.id,
          type: envelope.type,
          contentType: 'application/json',
          timestamp: Math.floor(Date.now() / 1000),
          headers: { 'x-correlation-id': envelope.correlationId },
        });
      }
      await channel.waitForConfirms();
      await tx.query(`UPDATE messaging.outbox SET published_at = now() WHERE seq = ANY($1::bigint[])`, [rows.map((r) => r.seq)]);
      for (const row of rows) this.published.inc({ type: row.routing_key });
      return rows.length;
    });
  }
}
