import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit, Optional } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { InjectDataSource } from '@nestjs/typeorm';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { DataSource, EntityManager } from 'typeorm';
import { BaseConfig } from '../config/base.config';
import { currentCorrelationId } from '../context/request-context';
import { AppError } from '../http/app-error';
import { cursorAtSql, decodeCursor, Page, toPage } from '../http/pagination';
import { Problem } from '../http/problem';
import { ObservedRequest, ProblemFilter } from '../http/problem.filter';
import { redactValue } from '../logging/redact';
import { MetricsService } from '../metrics/metrics.service';
import {
  higherLevel,
  httpIncidentCode,
  IncidentLevel,
  incidentFingerprint,
  incidentReportFileName,
  INCIDENT_QUIET_MINUTES,
  INCIDENT_WINDOW_MINUTES,
  levelForCount,
  levelRank,
  reportLevelsCrossed,
} from './incident-rules';
import { readCorrelatedLogLines, renderIncidentReport, ReportOccurrence } from './incident-report';
import {
  IncidentInput,
  IncidentReportRef,
  IncidentSample,
  IncidentsOptions,
  IncidentView,
  INCIDENTS_OPTIONS,
  RecordedIncident,
} from './incident.types';

interface Occurrence {
  fingerprint: string;
  code: string;
  place: string;
  message: string;
  correlationId: string | null;
  stack: string | null;
}

interface Waiter {
  occurrence: Occurrence;
  resolve: (result: RecordedIncident) => void;
  reject: (error: unknown) => void;
}

interface IncidentRow {
  id: string;
  fingerprint: string;
  code: string;
  place: string;
  level: IncidentLevel;
  status: 'open' | 'resolved';
  count: number;
  first_seen_at: Date;
  last_seen_at: Date;
  sample: IncidentSample;
  services: string[];
  reports: IncidentReportRef[];
  created_at: Date;
  resolved_at: Date | null;
}

interface FlushResult {
  recorded: RecordedIncident;
  crossed: IncidentLevel[];
  incident: IncidentRow | null;
}

const MAX_BATCH = 200;
const MAX_MESSAGE_CHARS = 2000;
const MAX_STACK_CHARS = 16000;
/** Marks requests served by this tracker's app: in tests several apps share one process (and ProblemFilter's observers). */
const TRACKER = Symbol('incident-tracker');

/** The stack of an error and of each error in its `cause` chain, as one text. */
export function fullTrace(error: unknown): string | null {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    if (current instanceof Error) {
      parts.push(
        depth === 0
          ? (current.stack ?? `${current.name}: ${current.message}`)
          : `Caused by: ${current.stack ?? current.message}`,
      );
      current = (current as { cause?: unknown }).cause;
    } else {
      parts.push(depth === 0 ? String(current) : `Caused by: ${String(current)}`);
      break;
    }
  }
  return parts.length ? (redactValue(parts.join('\n')) as string).slice(0, MAX_STACK_CHARS) : null;
}

/**
 * The incident tracker every service shares (SPEC §9). Each error is stored as an occurrence of
 * its fingerprint (code + place) in PostgreSQL, so the 15-minute count spans services and
 * replicas. Crossing 3 / 5 / 8 opens or escalates one incident per fingerprint; L2 and L3 write
 * `incident-<timestamp>-<fingerprint>.md` to DEBUG_LOG_DIR. Occurrences of one fingerprint are
 * batched per process and serialised across processes with an advisory lock, so an error storm
 * costs one short transaction at a time per fingerprint instead of a connection per error.
 */
@Injectable()
export class IncidentService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('incidents');
  readonly instanceId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private readonly queues = new Map<string, Waiter[]>();
  private readonly draining = new Map<string, Promise<void>>();
  private closed = false;
  private lastFailureLogAt = 0;
  private readonly occurrences;
  private readonly escalations;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: BaseConfig,
    @Inject(INCIDENTS_OPTIONS) private readonly options: IncidentsOptions,
    metrics: MetricsService,
    @Optional() private readonly adapterHost?: HttpAdapterHost,
  ) {
    this.occurrences = metrics.counter(
      'incident_occurrences_total',
      'Errors recorded by the incident tracker, by code',
      ['code'],
    );
    this.escalations = metrics.counter(
      'incident_escalations_total',
      'Incidents opened or escalated, by the level reached',
      ['level'],
    );
  }

  get service(): string {
    return this.options.service;
  }

  onModuleInit(): void {
    const fastify = this.adapterHost?.httpAdapter?.getInstance<FastifyInstance>();
    if (fastify && typeof fastify.addHook === 'function') {
      fastify.addHook('onRequest', (request, _reply, done) => {
        (request as FastifyRequest & { [TRACKER]?: IncidentService })[TRACKER] = this;
        done();
      });
    }
    ProblemFilter.observe((error, problem, request) => this.observeHttp(error, problem, request));
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.draining.values()]);
  }

  /**
   * Records one failure and escalates its incident when a threshold is crossed. Resolves once the
   * occurrence is stored (and any report written); rejects only if the database refused it.
   */
  record(input: IncidentInput): Promise<RecordedIncident> {
    const occurrence = this.normalise(input);
    this.occurrences.inc({ code: occurrence.code });
    return new Promise<RecordedIncident>((resolvePromise, reject) => {
      const queue = this.queues.get(occurrence.fingerprint) ?? [];
      queue.push({ occurrence, resolve: resolvePromise, reject });
      this.queues.set(occurrence.fingerprint, queue);
      if (!this.draining.has(occurrence.fingerprint)) {
        const drain = this.drain(occurrence.fingerprint);
        this.draining.set(occurrence.fingerprint, drain);
      }
    });
  }

  /** Like `record`, for callers that must not fail because the tracker could not write (consumers, jobs). */
  async recordQuietly(input: IncidentInput): Promise<RecordedIncident | null> {
    try {
      return await this.record(input);
    } catch (error) {
      this.reportFailure(error);
      return null;
    }
  }

  /** Open incidents, newest first: those resolved by ops or quiet for an hour are left out. */
  async listOpen(limit: number, cursor?: string): Promise<Page<IncidentView>> {
    const position = decodeCursor(cursor);
    const rows = (await this.dataSource.query(
      `SELECT *, ${cursorAtSql('created_at')} AS cursor_at FROM ops.incidents
       WHERE status = 'open' AND last_seen_at > now() - make_interval(mins => $1)
         AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
       ORDER BY created_at DESC, id DESC LIMIT $4`,
      [INCIDENT_QUIET_MINUTES, position?.at ?? null, position?.id ?? null, limit + 1],
    )) as Array<IncidentRow & { cursor_at: string }>;
    return toPage(
      rows,
      limit,
      (r) => ({ at: r.cursor_at, id: r.id }),
      (r) => this.view(r),
    );
  }

  async find(id: string): Promise<IncidentView> {
    const rows = UUID.test(id)
      ? ((await this.dataSource.query(`SELECT * FROM ops.incidents WHERE id = $1`, [id])) as IncidentRow[])
      : [];
    if (!rows[0]) throw new AppError('not_found', 404, 'No such incident.');
    return this.view(rows[0]);
  }

  /** On-call closes an incident once handled; the next occurrences start a new count. Idempotent. */
  async resolve(id: string, by: string): Promise<IncidentView> {
    if (!UUID.test(id)) throw new AppError('not_found', 404, 'No such incident.');
    const rows = (await this.dataSource.query(
      `WITH updated AS (
         UPDATE ops.incidents SET status = 'resolved', resolved_at = now(), resolved_by = $2
         WHERE id = $1 AND status = 'open' RETURNING *)
       SELECT * FROM updated UNION ALL SELECT * FROM ops.incidents WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM updated)`,
      [id, by.slice(0, 200)],
    )) as IncidentRow[];
    if (!rows[0]) throw new AppError('not_found', 404, 'No such incident.');
    return this.view(rows[0]);
  }

  /** Marks a request served outside Fastify's hooks (bare routes) as this tracker's, as the onRequest hook does. */
  markRequest(): object {
    return { [TRACKER]: this };
  }

  private observeHttp(error: unknown, problem: Problem, request: ObservedRequest): void {
    if (this.closed || problem.status < 500) return;
    const owner = (request as ObservedRequest & { [TRACKER]?: IncidentService })[TRACKER];
    if (owner !== this) return;
    void this.recordQuietly({
      code: httpIncidentCode(problem.code, error),
      place: `${request.method} ${request.routeOptions?.url ?? 'unmatched'}`,
      message:
        error instanceof AppError ? error.detail : error instanceof Error ? error.message : problem.detail,
      correlationId: problem.correlationId,
      error,
    });
  }

  private normalise(input: IncidentInput): Occurrence {
    const code = String(input.code).slice(0, 200) || 'unknown';
    const place = String(input.place).slice(0, 300) || 'unknown';
    const correlationId = input.correlationId ?? currentCorrelationId() ?? null;
    return {
      fingerprint: incidentFingerprint(code, place),
      code,
      place,
      message: (redactValue(String(input.message ?? '')) as string).slice(0, MAX_MESSAGE_CHARS),
      correlationId: correlationId ? correlationId.slice(0, 128) : null,
      stack: input.error === undefined ? null : fullTrace(input.error),
    };
  }

  private async drain(fingerprint: string): Promise<void> {
    // Starts on the next tick, so `record` has registered this drain before it can end.
    await Promise.resolve();
    for (;;) {
      const queue = this.queues.get(fingerprint) ?? [];
      if (queue.length === 0) {
        // Synchronously with the emptiness check: a `record` that runs next starts a new drain.
        this.queues.delete(fingerprint);
        this.draining.delete(fingerprint);
        return;
      }
      const batch = queue.splice(0, MAX_BATCH);
      try {
        const result = await this.dataSource.transaction((tx) =>
          this.flush(
            tx,
            fingerprint,
            batch.map((w) => w.occurrence),
          ),
        );
        const top = result.crossed[result.crossed.length - 1];
        if (top && result.incident) {
          const file = await this.writeReport(top, result.incident).catch((error: unknown) => {
            this.logger.error({ err: error, fingerprint }, 'could not write the incident report');
            return null;
          });
          if (file) result.recorded.reports.push(file);
        }
        for (const waiter of batch) waiter.resolve(result.recorded);
      } catch (error) {
        for (const waiter of batch) waiter.reject(error);
      }
    }
  }

  private async flush(tx: EntityManager, fingerprint: string, batch: Occurrence[]): Promise<FlushResult> {
    const { code, place } = batch[0];
    await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('ops.incident:' || $1, 0))`, [fingerprint]);
    await tx.query(
      `INSERT INTO ops.incident_occurrences (fingerprint, code, place, service, instance_id, message, correlation_id, stack)
       SELECT $1, $2, $3, $4, $5, m, c, s FROM unnest($6::text[], $7::text[], $8::text[]) AS t(m, c, s)`,
      [
        fingerprint,
        code,
        place,
        this.options.service,
        this.instanceId,
        batch.map((o) => o.message),
        batch.map((o) => o.correlationId),
        batch.map((o) => o.stack),
      ],
    );

    let open: (IncidentRow & { quiet: boolean }) | undefined = (
      (await tx.query(
        `SELECT *, last_seen_at < now() - make_interval(mins => $2) AS quiet FROM ops.incidents
         WHERE fingerprint = $1 AND status = 'open' FOR UPDATE`,
        [fingerprint, INCIDENT_QUIET_MINUTES],
      )) as Array<IncidentRow & { quiet: boolean }>
    )[0];
    if (open?.quiet) {
      // Quiet for an hour: that incident is over; these occurrences start a new count.
      await tx.query(
        `UPDATE ops.incidents SET status = 'resolved', resolved_at = last_seen_at + make_interval(mins => $2), resolved_by = 'quiet'
         WHERE id = $1`,
        [open.id, INCIDENT_QUIET_MINUTES],
      );
      open = undefined;
    }

    const [window] = (await tx.query(
      `SELECT count(*)::int AS n, min(at) AS first_at, array_agg(DISTINCT service) AS services
       FROM ops.incident_occurrences
       WHERE fingerprint = $1 AND at > now() - make_interval(mins => $2)
         AND at > COALESCE((SELECT max(resolved_at) FROM ops.incidents WHERE fingerprint = $1 AND status = 'resolved'), '-infinity')`,
      [fingerprint, INCIDENT_WINDOW_MINUTES],
    )) as Array<{ n: number; first_at: Date | null; services: string[] | null }>;

    const latest = batch[batch.length - 1];
    const sample = JSON.stringify({
      code,
      place,
      message: latest.message,
      service: this.options.service,
      correlationId: latest.correlationId,
    });
    const windowLevel = levelForCount(window.n);
    const before = open?.level ?? null;
    const after = higherLevel(before, windowLevel);

    // last_seen_at is the clock, not now(): now() is when this transaction began, and an incident
    // (or an occurrence) committed while it waited for the lock may be younger than that.
    let incident: IncidentRow | null = null;
    if (open) {
      incident = (
        (await tx.query(
          `WITH updated AS (
           UPDATE ops.incidents SET count = count + $2, last_seen_at = GREATEST(first_seen_at, clock_timestamp()), level = $3, sample = $4::jsonb || jsonb_build_object('at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
             services = ARRAY(SELECT DISTINCT s FROM unnest(services || $5::text[]) AS s ORDER BY s)
           WHERE id = $1 RETURNING *)
         SELECT * FROM updated`,
          [open.id, batch.length, after, sample, [this.options.service]],
        )) as IncidentRow[]
      )[0];
    } else if (after) {
      incident = (
        (await tx.query(
          `INSERT INTO ops.incidents (fingerprint, code, place, level, count, first_seen_at, last_seen_at, sample, services)
         VALUES ($1, $2, $3, $4, $5, $6, GREATEST($6::timestamptz, clock_timestamp()), $7::jsonb || jsonb_build_object('at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')), ARRAY(SELECT DISTINCT s FROM unnest($8::text[]) AS s ORDER BY s))
         RETURNING *`,
          [
            fingerprint,
            code,
            place,
            after,
            window.n,
            window.first_at,
            sample,
            window.services ?? [this.options.service],
          ],
        )) as IncidentRow[]
      )[0];
    }

    if (levelRank(after) > levelRank(before) && after) {
      this.escalations.inc({ level: after });
      this.logger.warn(
        { fingerprint, code, place, level: after, windowCount: window.n, incidentId: incident?.id },
        `incident ${after}: ${code} at ${place}`,
      );
    }
    return {
      recorded: {
        fingerprint,
        windowCount: window.n,
        level: after,
        incidentId: incident?.id ?? null,
        reports: [],
      },
      crossed: reportLevelsCrossed(before, after),
      incident,
    };
  }

  /** Writes the L2/L3 report for `incident` to DEBUG_LOG_DIR and notes it on the incident. */
  private async writeReport(level: IncidentLevel, incident: IncidentRow): Promise<string | null> {
    const rows = (await this.dataSource.query(
      `SELECT at, service, instance_id, message, correlation_id, stack FROM ops.incident_occurrences
       WHERE fingerprint = $1 AND at >= $2 ORDER BY at DESC, id DESC LIMIT 200`,
      [incident.fingerprint, incident.first_seen_at],
    )) as Array<{
      at: Date;
      service: string;
      instance_id: string;
      message: string;
      correlation_id: string | null;
      stack: string | null;
    }>;
    const occurrences: ReportOccurrence[] = rows.map((r) => ({
      at: r.at,
      service: r.service,
      instanceId: r.instance_id,
      message: r.message,
      correlationId: r.correlation_id,
      stack: r.stack,
    }));
    const dir = this.config.DEBUG_LOG_DIR ? resolve(this.config.DEBUG_LOG_DIR) : null;
    const ids = new Set(occurrences.map((o) => o.correlationId).filter((id): id is string => id !== null));
    const logLines =
      level === 'L3' && dir
        ? await readCorrelatedLogLines(dir, ids, new Date(incident.first_seen_at.getTime() - 60_000))
        : [];
    const now = new Date();
    const markdown = renderIncidentReport({
      level,
      incident: {
        id: incident.id,
        fingerprint: incident.fingerprint,
        code: incident.code,
        place: incident.place,
        count: incident.count,
        firstSeenAt: incident.first_seen_at,
        lastSeenAt: incident.last_seen_at,
        services: incident.services,
      },
      occurrences,
      logLines,
      logDir: dir,
      generatedAt: now,
      generatedBy: `${this.options.service} (${this.instanceId})`,
    });
    let file: string | null = null;
    if (dir) {
      await mkdir(dir, { recursive: true });
      file = join(dir, incidentReportFileName(now, incident.fingerprint));
      await writeFile(file, markdown, { encoding: 'utf8', flag: 'wx', mode: 0o640 });
    }
    const ref: IncidentReportRef = { level, at: now.toISOString(), file };
    await this.dataSource.query(`UPDATE ops.incidents SET reports = reports || $2::jsonb WHERE id = $1`, [
      incident.id,
      JSON.stringify([ref]),
    ]);
    this.logger.warn({ fingerprint: incident.fingerprint, level, file }, `incident ${level} report written`);
    return file;
  }

  private reportFailure(error: unknown): void {
    // A database outage makes every request fail and every record fail with it: one line a minute says so.
    if (Date.now() - this.lastFailureLogAt < 60_000) return;
    this.lastFailureLogAt = Date.now();
    this.logger.warn({ err: error }, 'the incident tracker could not record an error');
  }

  private view(row: IncidentRow): IncidentView {
    return {
      id: row.id,
      level: row.level,
      fingerprint: row.fingerprint,
      count: row.count,
      firstSeenAt: row.first_seen_at.toISOString(),
      lastSeenAt: row.last_seen_at.toISOString(),
      sample: row.sample,
      code: row.code,
      place: row.place,
      status: row.status,
      services: row.services,
      reports: row.reports,
      resolvedAt: row.resolved_at ? row.resolved_at.toISOString() : null,
    };
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
