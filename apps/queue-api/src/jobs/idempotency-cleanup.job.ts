import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { APP_CONFIG, IdempotencyService, withAdvisoryLock } from '@realapp/platform';

export const IDEMPOTENCY_CLEANUP_LOCK = 'idempotency-key-cleanup';

export interface IdempotencyCleanupSettings {
  IDEMPOTENCY_CLEANUP_INTERVAL_MS: number;
}

/**
 * Deletes expired Idempotency-Key records (kept ≥ 24 h, SPEC §3) every interval (hourly by
 * default). Every queue-api replica schedules it; the advisory lock lets one of them run it.
 */
@Injectable()
export class IdempotencyCleanupJob implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(IdempotencyCleanupJob.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly idempotency: IdempotencyService,
    @Inject(APP_CONFIG) private readonly config: IdempotencyCleanupSettings,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.running ??= this.runOnce().finally(() => (this.running = undefined));
    }, this.config.IDEMPOTENCY_CLEANUP_INTERVAL_MS);
    // A pending cleanup must never keep a stopping process alive.
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass: `{ran: false}` when another replica holds the lock. Errors are logged, never thrown. */
  async runOnce(): Promise<{ ran: boolean; purged: number }> {
    try {
      const outcome = await withAdvisoryLock(this.dataSource, IDEMPOTENCY_CLEANUP_LOCK, () =>
        this.idempotency.purgeExpired(),
      );
      if (!outcome.ran) return { ran: false, purged: 0 };
      if (outcome.result > 0) this.logger.log({ purged: outcome.result }, 'expired idempotency keys deleted');
      return { ran: true, purged: outcome.result };
    } catch (error) {
      this.logger.error({ err: error }, 'idempotency key cleanup failed; next interval retries');
      return { ran: false, purged: 0 };
    }
  }
}
