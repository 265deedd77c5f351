import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { IncidentLevel, INCIDENT_QUIET_MINUTES } from '@realapp/platform';
import { HEARTBEAT_HEALTHY_SECONDS, OpsReadService, QueueDepth } from '../ops/ops-read.service';

/** The services of SPEC §2; one that never reported is shown as such rather than left out. */
export const EXPECTED_SERVICES = ['auth-api', 'queue-api', 'webhook-gateway', 'codex-worker'] as const;
/** A public page must not let a crowd of visitors turn into a crowd of queries. */
const CACHE_MS = 2000;

export interface StatusSnapshot {
  generatedAt: string;
  overall: 'operational' | 'degraded';
  services: Array<{
    service: string;
    ready: boolean;
    instances: number;
    readyInstances: number;
    checks: Record<string, boolean>;
    reported: boolean;
  }>;
  workers: { healthy: boolean; items: Array<{ workerId: string; ageSeconds: number; healthy: boolean }> };
  queueDepth: QueueDepth;
  incidents: Array<{
    level: IncidentLevel;
    code: string;
    place: string;
    count: number;
    firstSeenAt: string;
    lastSeenAt: string;
  }>;
}

/**
 * What the public status page shows: readiness, heartbeats, queue depth and open incidents, with
 * nothing that identifies a tenant or leaks a secret (no messages, samples, hostnames or ids).
 */
@Injectable()
export class StatusService {
  private cached: { at: number; snapshot: Promise<StatusSnapshot> } | null = null;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly read: OpsReadService,
  ) {}

  snapshot(): Promise<StatusSnapshot> {
    if (this.cached && Date.now() - this.cached.at < CACHE_MS) return this.cached.snapshot;
    const snapshot = this.build();
    this.cached = { at: Date.now(), snapshot };
    snapshot.catch(() => {
      this.cached = null;
    });
    return snapshot;
  }

  private async build(): Promise<StatusSnapshot> {
    const [reported, health, queueDepth, incidents] = await Promise.all([
      this.read.services(),
      this.read.workerHealth(),
      this.read.queueDepth(),
      this.dataSource.query(
        `SELECT level, code, place, count, first_seen_at, last_seen_at FROM ops.incidents
         WHERE status = 'open' AND last_seen_at > now() - make_interval(mins => $1)
         ORDER BY level DESC, last_seen_at DESC LIMIT 50`,
        [INCIDENT_QUIET_MINUTES],
      ) as Promise<
        Array<{
          level: IncidentLevel;
          code: string;
          place: string;
          count: number;
          first_seen_at: Date;
          last_seen_at: Date;
        }>
      >,
    ]);
    const names = [...new Set([...EXPECTED_SERVICES, ...reported.map((s) => s.service)])];
    const services = names.map((service) => {
      const status = reported.find((s) => s.service === service);
      const fresh = status?.instances.filter((i) => !i.stale) ?? [];
      const checks: Record<string, boolean> = {};
      for (const instance of fresh) {
        for (const [name, check] of Object.entries(instance.checks))
          checks[name] = (checks[name] ?? true) && check.up;
      }
      return {
        service,
        ready: status?.ready ?? false,
        instances: fresh.length,
        readyInstances: fresh.filter((i) => i.ready).length,
        checks,
        reported: status !== undefined,
      };
    });
    const workers = {
      healthy: health.healthy,
      items: health.workers.map((w) => ({
        workerId: w.workerId,
        ageSeconds: w.ageSeconds,
        healthy: w.ageSeconds < HEARTBEAT_HEALTHY_SECONDS,
      })),
    };
    const degraded =
      services.some((s) => !s.ready) || !workers.healthy || incidents.some((i) => i.level !== 'L1');
    return {
      generatedAt: new Date().toISOString(),
      overall: degraded ? 'degraded' : 'operational',
      services,
      workers,
      queueDepth,
      incidents: incidents.map((i) => ({
        level: i.level,
        code: i.code,
        place: i.place,
        count: i.count,
        firstSeenAt: i.first_seen_at.toISOString(),
        lastSeenAt: i.last_seen_at.toISOString(),
      })),
    };
  }
}
