import { BadRequestException, Body, Controller, DynamicModule, Get, Post } from '@nestjs/common';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { DataSource } from 'typeorm';
import { createTestDatabase, expectEventually, testEnv, TestDatabase } from '@realapp/testing';
import { BaseConfig } from '../config/base.config';
import { loadConfig } from '../config/config.loader';
import { createHttpApp } from '../http/bootstrap';
import { probeModule } from '../http/probe-module.test-helper';
import { createRootLogger } from '../logging/logger';
import { incidentFingerprint } from './incident-rules';
import { IncidentService } from './incident.service';
import { IncidentsModule } from './incidents.module';
import { ServiceStatusReporter } from './service-status.reporter';

@Controller('probe')
class FailingController {
  @Get('boom')
  boom(): never {
    throw new Error('the probe exploded', { cause: new Error('because the disk is lava') });
  }

  @Get('bad')
  bad(): never {
    throw new BadRequestException('client mistake');
  }

  @Post('echo')
  echo(@Body() body: unknown): unknown {
    return body;
  }
}

function probeApp(service: string, config: BaseConfig): DynamicModule {
  // Logs go to the JSONL files only, which is where the L3 report reads them from.
  const logger = createRootLogger({
    service,
    level: 'info',
    debugLogDir: config.DEBUG_LOG_DIR,
    destination: pino.destination('/dev/null'),
  });
  return probeModule(
    service,
    config,
    [FailingController],
    [IncidentsModule.forRoot({ service, reportIntervalMs: 60_000 })],
    logger,
  );
}

async function startProbe(service: string, env: Record<string, string>): Promise<NestFastifyApplication> {
  const config = loadConfig(service, BaseConfig, env);
  const app = await createHttpApp(probeApp(service, config), {
    service,
    config,
    title: service,
    description: service,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app;
}

// Starting an app with its broker connection, and the storms below, outlast jest's 5 s default on a busy machine.
jest.setTimeout(60_000);

describe('incident tracker on the real database (SPEC §9)', () => {
  let db: TestDatabase;
  let logDir: string;
  let a: NestFastifyApplication;
  let b: NestFastifyApplication;
  let dataSource: DataSource;

  const incidentsOf = async (
    fingerprint: string,
  ): Promise<
    Array<{
      id: string;
      level: string;
      count: number;
      status: string;
      services: string[];
      reports: Array<{ level: string; file: string | null }>;
    }>
  > =>
    (await dataSource.query(
      `SELECT id, level, count, status, services, reports FROM ops.incidents WHERE fingerprint = $1 ORDER BY created_at`,
      [fingerprint],
    )) as Array<{
      id: string;
      level: string;
      count: number;
      status: string;
      services: string[];
      reports: Array<{ level: string; file: string | null }>;
    }>;

  const reportFiles = async (fingerprint: string): Promise<string[]> =>
    (await readdir(logDir))
      .filter((name) => name.startsWith('incident-') && name.endsWith(`-${fingerprint}.md`))
      .sort();

  const occurrences = async (fingerprint: string): Promise<Array<{ service: string; n: number }>> =>
    (await dataSource.query(
      `SELECT service, count(*)::int AS n FROM ops.incident_occurrences WHERE fingerprint = $1 GROUP BY service ORDER BY service`,
      [fingerprint],
    )) as Array<{ service: string; n: number }>;

  beforeAll(async () => {
    db = await createTestDatabase();
    logDir = await mkdtemp(join(tmpdir(), 'realapp-incidents-'));
    const env = testEnv(db.url, { DEBUG_LOG_DIR: logDir });
    a = await startProbe('probe-a', env);
    b = await startProbe('probe-b', env);
    dataSource = a.get(DataSource);
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
    await rm(logDir, { recursive: true, force: true });
  });

  it('opens L1 at 3 server errors, writes the L2 report at 5 and the full L3 report at 8', async () => {
    const fingerprint = incidentFingerprint('internal_error', 'GET /probe/boom');
    const hit = async (n: number): Promise<void> => {
      const res = await a.inject({
        method: 'GET',
        url: '/probe/boom',
        headers: { 'x-correlation-id': `boom-${n}` },
      });
      expect(res.statusCode).toBe(500);
      await expectEventually(async () => expect((await occurrences(fingerprint))[0]?.n).toBe(n));
    };

    for (let n = 1; n <= 2; n++) await hit(n);
    expect(await incidentsOf(fingerprint)).toEqual([]);

    await hit(3);
    await expectEventually(async () =>
      expect((await incidentsOf(fingerprint))[0]).toMatchObject({ level: 'L1', count: 3, status: 'open' }),
    );
    expect(await reportFiles(fingerprint)).toEqual([]);

    await hit(4);
    await hit(5);
    await expectEventually(async () =>
      expect((await incidentsOf(fingerprint))[0]).toMatchObject({ level: 'L2', count: 5 }),
    );
    const [l2File] = await expectEventually(async () => {
      const files = await reportFiles(fingerprint);
      expect(files).toHaveLength(1);
      return files;
    });
    expect(l2File).toMatch(new RegExp(`^incident-\\d{8}T\\d{9}Z-${fingerprint}\\.md$`));
    const l2 = await readFile(join(logDir, l2File), 'utf8');
    expect(l2).toContain('# Incident L2: `internal_error` at `GET /probe/boom`');
    expect(l2).toContain('the probe exploded');
    expect(l2).toContain('boom-5');

    for (let n = 6; n <= 8; n++) await hit(n);
    await expectEventually(async () =>
      expect((await incidentsOf(fingerprint))[0]).toMatchObject({ level: 'L3', count: 8 }),
    );
    const files = await expectEventually(async () => {
      const found = await reportFiles(fingerprint);
      expect(found).toHaveLength(2);
      return found;
    });
    const l3 = await readFile(join(logDir, files[1]), 'utf8');
    expect(l3).toContain('# Incident L3');
    // The full trace, cause included, and the failing requests' own log lines.
    expect(l3).toContain('Caused by: Error: because the disk is lava');
    expect(l3).toMatch(/at FailingController\.boom/);
    expect(l3).toContain('### correlation id boom-1');
    expect(l3).toMatch(
      /probe-a-\d{4}-\d{2}-\d{2}\.jsonl: \{.*"correlationId":"boom-8".*"msg":"request failed"/,
    );

    const [incident] = await incidentsOf(fingerprint);
    expect(incident.reports.map((r) => r.level)).toEqual(['L2', 'L3']);
    expect(incident.reports.every((r) => r.file?.startsWith(logDir))).toBe(true);
    // Only the app that served the requests recorded them, although both share ProblemFilter's observers.
    expect(await occurrences(fingerprint)).toEqual([{ service: 'probe-a', n: 8 }]);

    const page = await a.get(IncidentService).listOpen(20);
    expect(page.items.find((i) => i.fingerprint === fingerprint)).toMatchObject({
      id: incident.id,
      level: 'L3',
      count: 8,
      sample: {
        code: 'internal_error',
        place: 'GET /probe/boom',
        service: 'probe-a',
        correlationId: 'boom-8',
      },
    });
  });

  it('never records client errors', async () => {
    for (let i = 0; i < 4; i++)
      expect((await a.inject({ method: 'GET', url: '/probe/bad' })).statusCode).toBe(400);
    const rows = (await dataSource.query(
      `SELECT count(*)::int AS n FROM ops.incident_occurrences WHERE place = 'GET /probe/bad'`,
    )) as Array<{ n: number }>;
    expect(rows[0].n).toBe(0);
  });

  it('counts one fingerprint across services and replicas, under concurrency, into one incident', async () => {
    const input = {
      code: 'meta_unavailable',
      place: 'consumer:codex-worker:ads.order.queued',
      message: 'Graph answered 503',
    };
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (i % 2 ? a : b)
          .get(IncidentService)
          .record({ ...input, correlationId: `storm-${i}`, error: new Error('503') }),
      ),
    );
    const fingerprint = incidentFingerprint(input.code, input.place);
    expect(results.every((r) => r.fingerprint === fingerprint)).toBe(true);
    expect(Math.max(...results.map((r) => r.windowCount))).toBe(30);
    const incidents = await incidentsOf(fingerprint);
    expect(incidents).toHaveLength(1);
    expect(incidents[0]).toMatchObject({
      level: 'L3',
      count: 30,
      status: 'open',
      services: ['probe-a', 'probe-b'],
    });
    // Each report level is written once however the occurrences were batched.
    const levels = incidents[0].reports.map((r) => r.level);
    expect(levels.filter((l) => l === 'L3')).toHaveLength(1);
    expect(levels.filter((l) => l === 'L2').length).toBeLessThanOrEqual(1);
    expect((await reportFiles(fingerprint)).length).toBe(levels.length);
    expect(await occurrences(fingerprint)).toEqual([
      { service: 'probe-a', n: 15 },
      { service: 'probe-b', n: 15 },
    ]);
  });

  it('counts only the last 15 minutes', async () => {
    const input = { code: 'old_news', place: 'job:probe', message: 'x' };
    const fingerprint = incidentFingerprint(input.code, input.place);
    await dataSource.query(
      `INSERT INTO ops.incident_occurrences (fingerprint, code, place, service, instance_id, message, at)
       SELECT $1, $2, $3, 'probe-a', 'old', 'x', now() - interval '16 minutes' FROM generate_series(1, 7)`,
      [fingerprint, input.code, input.place],
    );
    const result = await a.get(IncidentService).record(input);
    expect(result).toMatchObject({ windowCount: 1, level: null, incidentId: null });
    expect(await incidentsOf(fingerprint)).toEqual([]);
  });

  it('starts a new count after on-call resolves an incident, and after an hour of quiet', async () => {
    const service = a.get(IncidentService);
    const input = { code: 'resolvable', place: 'job:probe', message: 'x' };
    const fingerprint = incidentFingerprint(input.code, input.place);
    for (let i = 0; i < 3; i++) await service.record(input);
    const [first] = await incidentsOf(fingerprint);
    expect(first).toMatchObject({ level: 'L1', status: 'open' });

    const resolved = await service.resolve(first.id, 'ops:abc');
    expect(resolved).toMatchObject({ status: 'resolved' });
    expect((await service.resolve(first.id, 'ops:abc')).resolvedAt).toBe(resolved.resolvedAt);
    expect((await service.listOpen(100)).items.some((i) => i.id === first.id)).toBe(false);

    // The three before the resolution no longer count.
    expect(await service.record(input)).toMatchObject({ windowCount: 1, level: null });
    await service.record(input);
    const third = await service.record(input);
    expect(third).toMatchObject({ windowCount: 3, level: 'L1' });
    expect(third.incidentId).not.toBe(first.id);

    // An incident quiet for over an hour is hidden, and closed when the fingerprint comes back.
    await dataSource.query(
      `UPDATE ops.incidents SET first_seen_at = now() - interval '3 hours', last_seen_at = now() - interval '2 hours' WHERE id = $1`,
      [third.incidentId],
    );
    await dataSource.query(
      `UPDATE ops.incident_occurrences SET at = now() - interval '2 hours' WHERE fingerprint = $1`,
      [fingerprint],
    );
    expect((await service.listOpen(100)).items.some((i) => i.id === third.incidentId)).toBe(false);
    expect(await service.record(input)).toMatchObject({ windowCount: 1, level: null, incidentId: null });
    const rows = await incidentsOf(fingerprint);
    expect(rows.map((r) => r.status)).toEqual(['resolved', 'resolved']);
  });

  it('writes one access line per request: method, path without query, status, correlation id, no credentials', async () => {
    const url = await a.getUrl();
    await fetch(`${url}/probe/bad?access_token=secret-in-query`, {
      headers: { authorization: 'Bearer secret-in-header', 'x-correlation-id': 'access-line-1' },
    });
    await fetch(`${url}/health`, { headers: { 'x-correlation-id': 'access-line-probe' } });
    await expectEventually(async () => {
      const lines = (
        await Promise.all(
          (await readdir(logDir))
            .filter((f) => f.startsWith('probe-a-'))
            .map((f) => readFile(join(logDir, f), 'utf8')),
        )
      )
        .join('')
        .split('\n')
        .filter((line) => line.includes('"context":"http"'));
      const line = lines.find((l) => l.includes('"correlationId":"access-line-1"'));
      expect(line).toBeDefined();
      expect(JSON.parse(line as string)).toMatchObject({
        level: 'warn',
        method: 'GET',
        path: '/probe/bad',
        status: 400,
        msg: 'GET /probe/bad 400',
      });
      expect(line).not.toContain('secret-in');
      expect(lines.some((l) => l.includes('access-line-probe'))).toBe(false);
    });
  });

  it('answers every body over the limit with its 413, not a reset connection, however much the client sends', async () => {
    const url = await a.getUrl();
    const body = JSON.stringify({ padding: 'x'.repeat(3 * 1024 * 1024) });
    const answers = await Promise.all(
      Array.from({ length: 24 }, () =>
        fetch(`${url}/probe/echo`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        }).then(
          async (response) => ({
            status: response.status,
            code: ((await response.json()) as { code?: string }).code,
          }),
          (error: unknown) => ({ status: 0, code: String((error as Error).cause ?? error) }),
        ),
      ),
    );
    expect(answers).toEqual(answers.map(() => ({ status: 413, code: 'payload_too_large' })));
    // The connection that carried a refused body still serves the next request.
    const after = await fetch(`${url}/probe/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ok: true }),
    });
    expect(after.status).toBe(201);
  });

  it('answers 404 for unknown incidents', async () => {
    await expect(a.get(IncidentService).find('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({
      status: 404,
    });
    await expect(a.get(IncidentService).resolve('not-a-uuid', 'x')).rejects.toMatchObject({ status: 404 });
  });

  it('reports each process readiness for the status page', async () => {
    await a.get(ServiceStatusReporter).report();
    await b.get(ServiceStatusReporter).report();
    const rows = (await dataSource.query(
      `SELECT service, ready, checks FROM ops.service_instances ORDER BY service`,
    )) as Array<{
      service: string;
      ready: boolean;
      checks: Record<string, { up: boolean }>;
    }>;
    expect(rows).toEqual([
      { service: 'probe-a', ready: true, checks: { database: { up: true } } },
      { service: 'probe-b', ready: true, checks: { database: { up: true } } },
    ]);
    const metrics = await a.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('readiness_check_up{check="database"} 1');
    expect(metrics.body).toMatch(/incident_occurrences_total\{code="internal_error"\} 8/);
  });
});
