import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { LedgerService } from '@realapp/ledger';
import { DeadLetterService } from '@realapp/messaging';
import { INCIDENT_LEVELS, MetricsService } from '@realapp/platform';
import { OpsReadService } from './ops-read.service';

/** Verifying the ledger reads every entry: often enough to alert within minutes, rarely enough to cost nothing. */
export const LEDGER_VERIFY_INTERVAL_MS = 5 * 60_000;

/**
 * The business gauges of on-call's area on queue-api's `/metrics`, computed when Prometheus scrapes
 * (queries are indexed counts) except the ledger verification, which runs in the background and is
 * served from its last result. Every queue-api replica reports the same values: alert on `max`.
 */
@Injectable()
export class OpsMetricsCollector implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('ops-metrics');
  private timer: NodeJS.Timeout | null = null;
  private verifying: Promise<void> | null = null;
  private lastVerification: { mismatches: number; brokenChains: number; wallets: number; at: number } | null =
    null;

  constructor(
    private readonly metrics: MetricsService,
    private readonly read: OpsReadService,
    private readonly deadLetters: DeadLetterService,
    private readonly ledger: LedgerService,
  ) {
    const safely = (name: string, fn: () => Promise<void>) => async (): Promise<void> => {
      // A failing query must not fail the whole scrape: the gauge keeps its last value.
      await fn().catch((error: unknown) =>
        this.logger.warn({ err: error, metric: name }, 'could not collect a metric'),
      );
    };

    const depth = metrics.gauge(
      'orders_queue_depth',
      'Ads orders by status',
      ['status'],
      safely('orders_queue_depth', async () => {
        for (const [status, n] of Object.entries(await this.read.queueDepth())) depth.set({ status }, n);
      }),
    );
    const failedJobs = metrics.gauge(
      'jobs_failed_last_hour',
      'Orders whose launch failed in the last hour',
      [],
      safely('jobs_failed_last_hour', async () => {
        failedJobs.set(await this.read.jobsFailedLastHour());
      }),
    );
    const failedWebhooks = metrics.gauge(
      'webhooks_failed_last_hour',
      'Stored webhook events failed or dead, last changed in the last hour',
      [],
      safely('webhooks_failed_last_hour', async () => {
        failedWebhooks.set(await this.read.webhooksFailedLastHour());
      }),
    );
    const dead = metrics.gauge(
      'dead_letters_last_24h',
      'Messages dead-lettered in the last 24 hours',
      [],
      safely('dead_letters_last_24h', async () => {
        dead.set(await this.deadLetters.countSince(24));
      }),
    );
    const heartbeat = metrics.gauge(
      'worker_heartbeat_age_seconds',
      'Age of the freshest worker heartbeat (+Inf when no worker ever reported)',
      [],
      safely('worker_heartbeat_age_seconds', async () => {
        heartbeat.set((await this.read.heartbeatAgeSeconds()) ?? Number.POSITIVE_INFINITY);
      }),
    );
    const wallets = metrics.gauge(
      'wallet_totals_cents',
      'Sum over every wallet, by field',
      ['field'],
      safely('wallet_totals_cents', async () => {
        const totals = await this.ledger.totals();
        wallets.set({ field: 'balance' }, totals.balanceCents);
        wallets.set({ field: 'held' }, totals.heldCents);
        wallets.set({ field: 'available' }, totals.availableCents);
      }),
    );
    const incidents = metrics.gauge(
      'incidents_open',
      'Open incidents by level',
      ['level'],
      safely('incidents_open', async () => {
        const counts = await this.read.openIncidents();
        for (const level of INCIDENT_LEVELS) incidents.set({ level }, counts[level]);
      }),
    );
    const ready = metrics.gauge(
      'service_ready',
      'Whether at least one instance of each service reported itself ready in the last 45 s',
      ['service'],
      safely('service_ready', async () => {
        for (const service of await this.read.services())
          ready.set({ service: service.service }, service.ready ? 1 : 0);
      }),
    );
    const mismatches = metrics.gauge(
      'ledger_mismatches',
      'Wallets whose cached totals differ from their entries (last verification)',
      [],
      () => {
        if (this.lastVerification) mismatches.set(this.lastVerification.mismatches);
      },
    );
    const broken = metrics.gauge(
      'ledger_broken_chains',
      'Wallets whose hash chain does not verify (last verification)',
      [],
      () => {
        if (this.lastVerification) broken.set(this.lastVerification.brokenChains);
      },
    );
    const verifiedAt = metrics.gauge(
      'ledger_verified_timestamp_seconds',
      'When the ledger was last verified (unix seconds)',
      [],
      () => {
        if (this.lastVerification) verifiedAt.set(this.lastVerification.at / 1000);
      },
    );
  }

  onApplicationBootstrap(): void {
    const tick = (): void => {
      if (this.verifying) return;
      this.verifying = this.verifyLedger().finally(() => {
        this.verifying = null;
      });
    };
    tick();
    this.timer = setInterval(tick, LEDGER_VERIFY_INTERVAL_MS);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.verifying;
  }

  /** Runs one verification now (also what the timer does). */
  async verifyLedger(): Promise<void> {
    try {
      const result = await this.ledger.verifyAll();
      this.lastVerification = {
        mismatches: new Set(result.mismatches.map((m) => m.tenantId)).size,
        brokenChains: result.brokenChains.length,
        wallets: result.wallets,
        at: Date.now(),
      };
      if (!result.ok)
        this.logger.error(
          { mismatches: result.mismatches.length, brokenChains: result.brokenChains.length },
          'the ledger does not verify',
        );
    } catch (error) {
      this.logger.warn({ err: error }, 'could not verify the ledger');
    }
  }
}
