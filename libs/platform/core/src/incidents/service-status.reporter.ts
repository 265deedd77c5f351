import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { InjectDataSource } from '@nestjs/typeorm';
import { hostname } from 'node:os';
import { DataSource } from 'typeorm';
import { withAdvisoryLock } from '../database/database';
import { READINESS_CHECKS, ReadinessCheck, withTimeout } from '../health/readiness';
import { MetricsService } from '../metrics/metrics.service';
import { IncidentService } from './incident.service';
import { IncidentsOptions, INCIDENTS_OPTIONS } from './incident.types';

export const DEFAULT_REPORT_INTERVAL_MS = 15_000;
/** Occurrences are only needed for the window and the reports; a week keeps enough history for a post-mortem. */
const RETENTION_DAYS = 7;
const PURGE_EVERY_MS = 60 * 60_000;

export interface ReadinessSnapshot {
  ready: boolean;
  checks: Record<string, { up: boolean; message?: string }>;
}

/**
 * Each process says, every few seconds, whether its own readiness checks pass. The status page and
 * the `service_ready` gauge read these reports, so they work the same for one replica or ten and
 * need no list of service URLs. A process that stops reporting is shown as down.
 */
@Injectable()
export class ServiceStatusReporter implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('service-status');
  private readonly startedAt = new Date();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  /** The first purge waits a few minutes: a starting process has better things to do, and short-lived ones (tests) none. */
  private lastPurgeAt = Date.now() - PURGE_EVERY_MS + 5 * 60_000;
  private readonly gauge;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly moduleRef: ModuleRef,
    private readonly incidents: IncidentService,
    @Inject(INCIDENTS_OPTIONS) private readonly options: IncidentsOptions,
    metrics: MetricsService,
  ) {
    this.gauge = metrics.gauge(
      'readiness_check_up',
      'Whether each readiness check of this process passes (1) or not (0)',
      ['check'],
      async () => {
        const snapshot = await this.snapshot();
        for (const [check, state] of Object.entries(snapshot.checks))
          this.gauge.set({ check }, state.up ? 1 : 0);
      },
    );
  }

  onApplicationBootstrap(): void {
    const interval = this.options.reportIntervalMs ?? DEFAULT_REPORT_INTERVAL_MS;
    const tick = (): void => {
      this.running = this.report().finally(() => {
        this.running = null;
      });
    };
    tick();
    this.timer = setInterval(tick, interval);
    this.timer.unref();
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Runs this process's readiness checks (the same ones as `GET /health/readiness`). */
  async snapshot(): Promise<ReadinessSnapshot> {
    const checks = this.moduleRef.get<ReadinessCheck[]>(READINESS_CHECKS, { strict: false }) ?? [];
    const results = await Promise.all(
      checks.map(async (check): Promise<[string, { up: boolean; message?: string }]> => {
        try {
          return [check.name, { up: await withTimeout(check.isReady(), 2000, check.name) }];
        } catch (error) {
          return [
            check.name,
            { up: false, message: error instanceof Error ? error.message.slice(0, 200) : 'unavailable' },
          ];
        }
      }),
    );
    const byName = Object.fromEntries(results);
    return { ready: results.every(([, state]) => state.up), checks: byName };
  }

  /** One report now; also called by tests that do not want to wait for the interval. */
  async report(): Promise<void> {
    try {
      const snapshot = await this.snapshot();
      await this.dataSource.query(
        `INSERT INTO ops.service_instances (service, instance_id, hostname, pid, ready, checks, started_at, reported_at)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, now())
         ON CONFLICT (service, instance_id) DO UPDATE
           SET ready = EXCLUDED.ready, checks = EXCLUDED.checks, reported_at = now()`,
        [
          this.options.service,
          this.incidents.instanceId,
          hostname(),
          process.pid,
          snapshot.ready,
          JSON.stringify(snapshot.checks),
          this.startedAt,
        ],
      );
      if (Date.now() - this.lastPurgeAt > PURGE_EVERY_MS) {
        this.lastPurgeAt = Date.now();
        await withAdvisoryLock(this.dataSource, 'ops-retention', () => this.purge());
      }
    } catch (error) {
      // The database being down is exactly what readiness reports elsewhere; nothing to add here.
      this.logger.debug({ err: error }, 'could not report service status');
    }
  }

  private async purge(): Promise<void> {
    await this.dataSource.query(
      `DELETE FROM ops.incident_occurrences WHERE at < now() - make_interval(days => $1)`,
      [RETENTION_DAYS],
    );
    await this.dataSource.query(
      `DELETE FROM ops.service_instances WHERE reported_at < now() - make_interval(days => $1)`,
      [RETENTION_DAYS],
    );
  }
}
