import {
  Inject,
  Injectable,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  OnModuleInit,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { META_ADS_API, MetaAdsApi } from '@realapp/meta-ads';
import { OrderLifecycleService } from '@realapp/orders';
import { PeriodicJobGate, ROOT_LOGGER, runWithContext, withAdvisoryLock } from '@realapp/platform';
import { randomUUID } from 'node:crypto';
import { CodexWorkerConfig } from '../config';
import { StaleWorkRegistry } from '../heartbeat/stale-work.registry';
import { CampaignReconciler } from './campaign-reconciler';

const BATCH = 100;

/**
 * The periodic half of campaigns, every META_INSIGHTS_INTERVAL_MS on one replica at a time
 * (advisory lock `meta-insights`): reads spend for every campaign that may be delivering, finishes
 * Meta work and settlements that no event carried through, and re-enqueues stale launches. On
 * start (through the heartbeat's stale-work registry) it re-enqueues launches left
 * `launching`/`queued` longer than MVP_RUNNING_STALE_SECONDS.
 */
@Injectable()
export class CampaignSweeper implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly lifecycle: OrderLifecycleService,
    private readonly reconciler: CampaignReconciler,
    private readonly config: CodexWorkerConfig,
    private readonly staleWork: StaleWorkRegistry,
    @Inject(META_ADS_API) meta: MetaAdsApi,
    @Inject(ROOT_LOGGER) root: Logger,
    private readonly gate: PeriodicJobGate,
  ) {
    this.log = root.child({ component: 'campaign-sweeper', metaMode: meta.mode });
  }

  onModuleInit(): void {
    this.staleWork.register(
      'orders',
      async (staleSeconds) => (await this.recoverStaleLaunches('start', staleSeconds)).length,
    );
  }

  onApplicationBootstrap(): void {
    this.schedule();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** One pass now (also what the timer runs); exposed for ops tooling and tests. */
  async runOnce(): Promise<{ ran: boolean }> {
    const outcome = await withAdvisoryLock(this.dataSource, 'meta-insights', async () => {
      await this.pollSpend();
      await this.reconcileLeftovers();
      await this.recoverStaleLaunches('sweep', this.config.MVP_RUNNING_STALE_SECONDS);
    });
    return { ran: outcome.ran };
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      // The advisory lock stops overlapping sweeps; the gate makes it one sweep per interval across replicas.
      this.running = this.gate
        .claim('meta-insights', this.config.META_INSIGHTS_INTERVAL_MS)
        .then((claimed) =>
          claimed
            ? runWithContext({ correlationId: `meta-insights:${randomUUID()}` }, () => this.runOnce())
            : undefined,
        )
        .then(() => undefined)
        .catch((error: unknown) => this.log.error({ err: error }, 'campaign sweep failed'))
        .finally(() => {
          this.running = null;
          this.schedule();
        });
    }, this.config.META_INSIGHTS_INTERVAL_MS);
    this.timer.unref();
  }

  private async pollSpend(): Promise<void> {
    let after: string | null = null;
    for (;;) {
      const ids = await this.lifecycle.findSpending(BATCH, after);
      for (const id of ids) {
        if (this.stopped) return;
        await this.reconciler
          .pollSpend(id)
          .catch((error: unknown) => this.log.warn({ err: error, orderId: id }, 'insights read failed'));
      }
      if (ids.length < BATCH) return;
      after = ids[ids.length - 1];
    }
  }

  private async reconcileLeftovers(): Promise<void> {
    for (const id of await this.lifecycle.findUnreconciled(BATCH)) {
      if (this.stopped) return;
      await this.reconciler
        .reconcile(id)
        .catch((error: unknown) => this.log.warn({ err: error, orderId: id }, 'order reconciliation failed'));
    }
  }

  private async recoverStaleLaunches(when: 'start' | 'sweep', staleSeconds: number): Promise<string[]> {
    const ids = await this.lifecycle.requeueStaleLaunches(staleSeconds);
    if (ids.length) this.log.warn({ orderIds: ids, when }, 'stale launches put back in the queue');
    return ids;
  }
}
