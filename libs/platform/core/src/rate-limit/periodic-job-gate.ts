import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { BaseConfig } from '../config/base.config';
import { MetricsService } from '../metrics/metrics.service';
import { RATE_LIMIT_SERVICE_NAME } from './rate-limit.service';

/**
 * A claim lasts 90% of the interval: the replica that ran a job may run it again on its next tick
 * even when its timer fires a little early, while every other replica's tick within the interval
 * finds the claim taken.
 */
const CLAIM_SHARE = 0.9;
const CONNECT_WAIT_MS = 1000;
const COMMAND_TIMEOUT_MS = 500;

/**
 * "Periodic jobs run once per interval across all replicas" (SPEC §8). An advisory lock only
 * stops two replicas from running a job *at the same time*: with one timer per replica, a job
 * whose pass is short still runs once per replica per interval. The gate adds the missing half:
 * the first replica to ask in an interval claims it (`SET NX PX` in Redis) and the others skip
 * that tick. Keep the advisory lock around the work (a pass longer than the interval must still
 * not overlap the next one).
 *
 * Fails open: without Redis every tick runs, which is the lock-only behaviour (jobs are
 * idempotent; running more often costs provider calls, never correctness).
 */
@Injectable()
export class PeriodicJobGate implements OnModuleDestroy {
  private readonly logger = new Logger('periodic-job-gate');
  private readonly instance = randomUUID();
  private redis: Redis | null = null;
  private ready: Promise<void> | null = null;
  private readonly decisions;
  private lastWarnedAt = 0;

  constructor(
    private readonly config: BaseConfig,
    metrics: MetricsService,
    @Inject(RATE_LIMIT_SERVICE_NAME) private readonly service: string,
  ) {
    this.decisions = metrics.counter(
      'periodic_job_ticks_total',
      'Periodic job ticks by job and decision (run, skipped, unguarded)',
      ['job', 'decision'],
    );
  }

  /** True when this replica should run `job` now, false when another replica has this interval. */
  async claim(job: string, intervalMs: number): Promise<boolean> {
    const redis = await this.connected();
    const ttl = Math.max(1, Math.floor(intervalMs * CLAIM_SHARE));
    try {
      if (redis?.status !== 'ready') throw new Error(`Redis connection is ${redis?.status ?? 'absent'}`);
      const claimed =
        (await redis.set(
          `${this.config.RATE_LIMIT_KEY_PREFIX}job:${job}`,
          this.instance,
          'PX',
          ttl,
          'NX',
        )) === 'OK';
      this.decisions.inc({ job, decision: claimed ? 'run' : 'skipped' });
      return claimed;
    } catch (error) {
      this.decisions.inc({ job, decision: 'unguarded' });
      if (Date.now() - this.lastWarnedAt > 10_000) {
        this.lastWarnedAt = Date.now();
        this.logger.warn(
          { job, err: error instanceof Error ? error.message : String(error) },
          'periodic job not gated: Redis unavailable (running anyway)',
        );
      }
      return true;
    }
  }

  async onModuleDestroy(): Promise<void> {
    const redis = this.redis;
    this.redis = null;
    if (!redis) return;
    if (redis.status !== 'ready') return redis.disconnect();
    await redis.quit().catch(() => redis.disconnect());
  }

  /** Connects on first use: most processes never run a periodic job. */
  private async connected(): Promise<Redis | null> {
    if (!this.redis) {
      const redis = new Redis(this.config.REDIS_URL, {
        connectionName: `${this.service}:periodic-jobs`,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout: COMMAND_TIMEOUT_MS,
        retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
      });
      redis.on('error', () => undefined);
      this.redis = redis;
      this.ready = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, CONNECT_WAIT_MS);
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        redis.once('ready', done);
        redis.once('error', done);
      });
    }
    await this.ready;
    return this.redis;
  }
}
