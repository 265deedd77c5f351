import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { hostname } from 'node:os';
import { DataSource } from 'typeorm';
import { MetricsService } from '@realapp/platform';
import { CodexWorkerConfig } from '../config';
import { StaleWorkRegistry } from './stale-work.registry';

/**
 * Writes `ops.worker_heartbeats` as WORKER_ID every HEARTBEAT_INTERVAL_MS (SPEC §8, §9: ops reads
 * it for GET /v1/ops/worker-health), and on start puts stale work back in the queue.
 */
@Injectable()
export class WorkerHeartbeat implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('heartbeat');
  private readonly startedAt = new Date();
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<void> | null = null;
  private readonly lastBeat;
  private readonly failures;

  constructor(
    private readonly config: CodexWorkerConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly staleWork: StaleWorkRegistry,
    metrics: MetricsService,
  ) {
    this.lastBeat = metrics.gauge('worker_heartbeat_timestamp_seconds', 'Unix time of the last heartbeat this worker wrote');
    this.failures = metrics.counter('worker_heartbeat_failures_total', 'Heartbeats that could not be written');
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.config.HEARTBEAT_INTERVAL_MS);
    this.timer.unref();
    // Not awaited: boot (and readiness) must not wait on a sweep of old work.
    void this.recoverStaleWork();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.beating;
  }

  async recoverStaleWork(): Promise<Record<string, number>> {
    const requeued = await this.staleWork.recoverAll(this.config.MVP_RUNNING_STALE_SECONDS);
    this.logger.log({ requeued, staleSeconds: this.config.MVP_RUNNING_STALE_SECONDS }, 'stale work recovery done');
    return requeued;
  }

  /** One upsert; a failure (database away) is logged and the next interval tries again. */
  beat(): Promise<void> {
    // Never two at once: a slow database must not pile up heartbeats.
    this.beating ??= this.write().finally(() => (this.beating = null));
    return this.beating;
  }

  private async write(): Promise<void> {
    try {
      await this.dataSource.query(
        `INSERT INTO ops.worker_heartbeats (worker_id, started_at, last_heartbeat_at, hostname, pid, version)
         VALUES ($1, $2, now(), $3, $4, $5)
         ON CONFLICT (worker_id) DO UPDATE
           SET started_at = EXCLUDED.started_at, last_heartbeat_at = now(), hostname = EXCLUDED.hostname,
               pid = EXCLUDED.pid, version = EXCLUDED.version`,
        [this.config.WORKER_ID, this.startedAt, hostname(), process.pid, this.config.APP_VERSION],
      );
      this.lastBeat.set(Date.now() / 1000);
    } catch (error) {
      this.failures.inc();
      this.logger.warn({ err: error }, 'heartbeat not written; retrying next interval');
    }
  }
}
