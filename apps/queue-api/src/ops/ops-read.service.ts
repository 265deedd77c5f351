import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { LedgerService, WalletTotals } from '@realapp/ledger';
import { DeadLetterService, outboxLagSeconds } from '@realapp/messaging';
import { ORDER_STATUSES, OrderStatus } from '@realapp/orders';
import { INCIDENT_LEVELS, INCIDENT_QUIET_MINUTES, IncidentLevel } from '@realapp/platform';

/** SPEC §13: healthy while at least one heartbeat is younger than this. */
export const HEARTBEAT_HEALTHY_SECONDS = 60;
/** Workers silent for longer are left out of the list (SPEC §13). */
export const HEARTBEAT_LISTED_HOURS = 24;
/** A service instance that has not reported for this long is shown as down. */
export const SERVICE_REPORT_STALE_SECONDS = 45;

export interface WorkerHeartbeatView {
  workerId: string;
  lastHeartbeatAt: string;
  ageSeconds: number;
  startedAt: string;
  hostname: string;
  version: string;
}

export interface WorkerHealth {
  healthy: boolean;
  workers: WorkerHeartbeatView[];
}

export type QueueDepth = Record<OrderStatus, number>;

export interface OpsMetrics {
  queueDepth: QueueDepth;
  jobsFailedLastHour: number;
  webhooksFailedLastHour: number;
  deadLettersLast24h: number;
  /** Age of the freshest heartbeat; null when no worker ever reported. */
  workerHeartbeatAgeSeconds: number | null;
  walletTotals: WalletTotals;
  outboxLagSeconds: number;
  openIncidents: Record<IncidentLevel, number>;
}

export interface ServiceStatus {
  service: string;
  ready: boolean;
  instances: Array<{
    instanceId: string;
    ready: boolean;
    stale: boolean;
    checks: Record<string, { up: boolean }>;
    reportedAt: string;
    ageSeconds: number;
  }>;
}

/**
 * The read side of the ops API and the status page: read-only queries over other capabilities'
 * tables (orders, webhook events, heartbeats) and the ledger's own totals. Nothing here writes.
 */
@Injectable()
export class OpsReadService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly ledger: LedgerService,
    private readonly deadLetters: DeadLetterService,
  ) {}

  async workerHealth(): Promise<WorkerHealth> {
    const rows = (await this.dataSource.query(
      `SELECT worker_id, last_heartbeat_at, started_at, hostname, version,
              greatest(0, extract(epoch FROM now() - last_heartbeat_at))::float AS age
       FROM ops.worker_heartbeats
       WHERE last_heartbeat_at > now() - make_interval(hours => $1)
       ORDER BY last_heartbeat_at DESC, worker_id`,
      [HEARTBEAT_LISTED_HOURS],
    )) as Array<{
      worker_id: string;
      last_heartbeat_at: Date;
      started_at: Date;
      hostname: string;
      version: string;
      age: number;
    }>;
    const workers = rows.map((row) => ({
      workerId: row.worker_id,
      lastHeartbeatAt: row.last_heartbeat_at.toISOString(),
      ageSeconds: Math.floor(row.age),
      startedAt: row.started_at.toISOString(),
      hostname: row.hostname,
      version: row.version,
    }));
    return { healthy: rows.some((row) => row.age < HEARTBEAT_HEALTHY_SECONDS), workers };
  }

  async queueDepth(): Promise<QueueDepth> {
    const rows = (await this.dataSource.query(
      `SELECT status, count(*)::int AS n FROM ads.orders GROUP BY status`,
    )) as Array<{
      status: string;
      n: number;
    }>;
    const depth = Object.fromEntries(ORDER_STATUSES.map((status) => [status, 0])) as QueueDepth;
    for (const row of rows) if (row.status in depth) depth[row.status as OrderStatus] = row.n;
    return depth;
  }

  /** Orders whose campaign could not be launched (the worker's jobs), in the last hour. */
  async jobsFailedLastHour(): Promise<number> {
    return this.count(
      `SELECT count(*)::int AS n FROM ads.order_transitions WHERE to_status = 'failed' AND at > now() - interval '1 hour'`,
    );
  }

  /** Stored webhook events whose processing failed (still retrying) or died, last changed in the last hour. */
  async webhooksFailedLastHour(): Promise<number> {
    return this.count(
      `SELECT count(*)::int AS n FROM webhooks.events WHERE status IN ('failed', 'dead') AND updated_at > now() - interval '1 hour'`,
    );
  }

  async heartbeatAgeSeconds(): Promise<number | null> {
    const [row] = (await this.dataSource.query(
      `SELECT greatest(0, extract(epoch FROM now() - max(last_heartbeat_at)))::float AS age FROM ops.worker_heartbeats`,
    )) as Array<{ age: number | null }>;
    return row.age === null ? null : Math.floor(row.age);
  }

  async outboxLagSeconds(): Promise<number> {
    return Math.floor(await outboxLagSeconds(this.dataSource));
  }

  async openIncidents(): Promise<Record<IncidentLevel, number>> {
    const rows = (await this.dataSource.query(
      `SELECT level, count(*)::int AS n FROM ops.incidents
       WHERE status = 'open' AND last_seen_at > now() - make_interval(mins => $1) GROUP BY level`,
      [INCIDENT_QUIET_MINUTES],
    )) as Array<{ level: IncidentLevel; n: number }>;
    const counts = Object.fromEntries(INCIDENT_LEVELS.map((level) => [level, 0])) as Record<
      IncidentLevel,
      number
    >;
    for (const row of rows) counts[row.level] = row.n;
    return counts;
  }

  async metrics(): Promise<OpsMetrics> {
    const [
      queueDepth,
      jobsFailedLastHour,
      webhooksFailedLastHour,
      deadLettersLast24h,
      workerHeartbeatAgeSeconds,
      walletTotals,
      outboxLagSeconds,
      openIncidents,
    ] = await Promise.all([
      this.queueDepth(),
      this.jobsFailedLastHour(),
      this.webhooksFailedLastHour(),
      this.deadLetters.countSince(24),
      this.heartbeatAgeSeconds(),
      this.ledger.totals(),
      this.outboxLagSeconds(),
      this.openIncidents(),
    ]);
    return {
      queueDepth,
      jobsFailedLastHour,
      webhooksFailedLastHour,
      deadLettersLast24h,
      workerHeartbeatAgeSeconds,
      walletTotals,
      outboxLagSeconds,
      openIncidents,
    };
  }

  /** Each service as its instances last reported it (IncidentsModule's readiness reports). */
  async services(): Promise<ServiceStatus[]> {
    const rows = (await this.dataSource.query(
      `SELECT service, instance_id, ready, checks, reported_at,
              greatest(0, extract(epoch FROM now() - reported_at))::float AS age
       FROM ops.service_instances
       WHERE reported_at > now() - interval '1 hour'
       ORDER BY service, reported_at DESC`,
    )) as Array<{
      service: string;
      instance_id: string;
      ready: boolean;
      checks: Record<string, { up: boolean }>;
      reported_at: Date;
      age: number;
    }>;
    const byService = new Map<string, ServiceStatus>();
    for (const row of rows) {
      const status = byService.get(row.service) ?? { service: row.service, ready: false, instances: [] };
      const stale = row.age > SERVICE_REPORT_STALE_SECONDS;
      status.instances.push({
        instanceId: row.instance_id,
        ready: row.ready && !stale,
        stale,
        checks: Object.fromEntries(
          Object.entries(row.checks).map(([name, check]) => [name, { up: check.up }]),
        ),
        reportedAt: row.reported_at.toISOString(),
        ageSeconds: Math.floor(row.age),
      });
      status.ready = status.ready || (row.ready && !stale);
      byService.set(row.service, status);
    }
    return [...byService.values()];
  }

  private async count(sql: string): Promise<number> {
    const [row] = (await this.dataSource.query(sql)) as Array<{ n: number }>;
    return row.n;
  }
}
