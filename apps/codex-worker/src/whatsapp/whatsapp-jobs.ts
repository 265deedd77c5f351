import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { CronJob, CronTime } from 'cron';
import { ConnectionsService, InboundService, NightlyCleanupService } from '@realapp/whatsapp';
import { CodexWorkerConfig } from '../config';

/** When a UTC cron expression fires next after `from` (what the jobs below are scheduled with). */
export function nextRunAt(expression: string, from: Date): Date {
  return new CronTime(expression, 'UTC').getNextDateFrom(from).toJSDate();
}

/**
 * The channel's periodic work on this replica; each run takes its advisory lock, so it happens
 * once across replicas (SPEC §8):
 * - token health at WHATSAPP_TOKEN_CHECK_CRON (02:00 UTC),
 * - nightly cleanup at WHATSAPP_CLEANUP_CRON (00:00 UTC),
 * - the reply sweeper every WHATSAPP_REPLY_SWEEP_INTERVAL_MS,
 * - and one token re-encryption pass at start, so a deploy with a new key first re-seals at once.
 */
@Injectable()
export class WhatsAppJobs implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('whatsapp-jobs');
  private readonly crons: CronJob[] = [];
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweeping: Promise<unknown> | null = null;
  private stopped = false;

  constructor(
    private readonly config: CodexWorkerConfig,
    private readonly connections: ConnectionsService,
    private readonly cleanup: NightlyCleanupService,
    private readonly inbound: InboundService,
  ) {}

  onApplicationBootstrap(): void {
    this.crons.push(
      this.cron('whatsapp-token-health', this.config.WHATSAPP_TOKEN_CHECK_CRON, () => this.connections.runTokenHealthCheck()),
      this.cron('whatsapp-nightly-cleanup', this.config.WHATSAPP_CLEANUP_CRON, () => this.cleanup.run()),
    );
    this.sweepTimer = setInterval(() => this.sweep(), this.config.WHATSAPP_REPLY_SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
    void this.connections.resealTokens().catch((error: unknown) => this.logger.error({ err: error }, 'token re-encryption at start failed'));
  }

  /** Whether anything is still scheduled on this replica. */
  get active(): boolean {
    return this.sweepTimer !== null || this.crons.some((job) => job.isActive);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    await Promise.all(this.crons.map((job) => job.stop()));
    await this.sweeping;
  }

  private cron(name: string, expression: string, run: () => Promise<unknown>): CronJob {
    return CronJob.from({
      cronTime: expression,
      timeZone: 'UTC',
      start: true,
      waitForCompletion: true,
      unrefTimeout: true,
      name,
      onTick: async () => {
        try {
          const result = await run();
          if (result === null) this.logger.log({ job: name }, 'another replica ran this job');
        } catch (error) {
          this.logger.error({ err: error, job: name }, 'whatsapp job failed; it runs again at its next time');
        }
      },
    });
  }

  private sweep(): void {
    if (this.stopped || this.sweeping) return;
    this.sweeping = this.inbound
      .sweep()
      .catch((error: unknown) => this.logger.error({ err: error }, 'whatsapp reply sweep failed'))
      .finally(() => (this.sweeping = null));
  }
}
