import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createHash, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AmqpConnection, declareTopology, destroyTopology, Topology } from '@realapp/messaging';
import { IncidentService } from '@realapp/platform';
import {
  createTestDatabase,
  expectEventually,
  startTestSandbox,
  testEnv,
  TestDatabase,
  TestSandbox,
} from '@realapp/testing';
import { createQueueApi } from '../app';
import { OpsMetricsCollector } from './ops-metrics.collector';

const KEY = 'ops-key-current-0001';
const NEXT_KEY = 'ops-key-next-000002';
const fingerprintOf = (key: string): string => createHash('sha256').update(key).digest('hex').slice(0, 12);

// Starting an app with its broker connection, and the storms below, outlast jest's 5 s default on a busy machine.
jest.setTimeout(60_000);

describe('queue-api ops API (SPEC §9, §13) on the real database and broker', () => {
  let db: TestDatabase;
  let sandbox: TestSandbox;
  let app: NestFastifyApplication;
  let dataSource: DataSource;

  type Res = {
    statusCode: number;
    body: string;
    headers: Record<string, unknown>;
    json: <T = Record<string, unknown>>() => T;
  };
  const call = async (
    method: 'GET' | 'POST',
    url: string,
    options: { body?: unknown; headers?: Record<string, string>; key?: string | null } = {},
  ): Promise<Res> => {
    const headers: Record<string, string> = {
      ...(options.key === null ? {} : { 'x-ops-key': options.key ?? KEY }),
      ...options.headers,
    };
    const res = await app.inject({
      method,
      url,
      headers,
      ...(options.body === undefined ? {} : { payload: options.body as object }),
    });
    return { statusCode: res.statusCode, body: res.body, headers: res.headers, json: <T>() => res.json<T>() };
  };

  const aTenant = async (): Promise<string> => {
    const [row] = (await dataSource.query(
      `INSERT INTO auth.tenants (name) VALUES ('ops test tenant') RETURNING id`,
    )) as Array<{ id: string }>;
    return row.id;
  };
  const adjust = (
    body: Record<string, unknown>,
    key: string = randomUUID(),
    extra: Record<string, string> = {},
  ): Promise<Res> =>
    call('POST', '/v1/ops/credits/adjust', { body, headers: { 'idempotency-key': key, ...extra } });
  const entriesOf = async (
    tenantId: string,
  ): Promise<Array<{ kind: string; amount_cents: string; reference: string }>> =>
    (await dataSource.query(
      `SELECT kind, amount_cents, reference FROM ledger.entries WHERE tenant_id = $1 ORDER BY seq`,
      [tenantId],
    )) as Array<{
      kind: string;
      amount_cents: string;
      reference: string;
    }>;
  const auditRows = async (
    action: string,
  ): Promise<
    Array<{ actor: string; target: string | null; details: Record<string, unknown>; correlation_id: string }>
  > =>
    (await dataSource.query(
      `SELECT actor, target, details, correlation_id FROM ops.audit_log WHERE action = $1 ORDER BY at`,
      [action],
    )) as Array<{
      actor: string;
      target: string | null;
      details: Record<string, unknown>;
      correlation_id: string;
    }>;
  const anOrder = async (status: string): Promise<string> => {
    const id = randomUUID();
    await dataSource.query(
      `INSERT INTO ads.orders (id, tenant_id, name, objective, status, waiting_reason, budget_cents, targeting, creative)
       VALUES ($1, $2, 'o', 'traffic', $3, $4, 5000, '{}'::jsonb, '{}'::jsonb)`,
      [id, randomUUID(), status, status === 'waiting_payment' ? 'insufficient_balance' : null],
    );
    return id;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    sandbox = await startTestSandbox();
    const env = testEnv(db.url, {
      OPS_API_KEY: `${KEY},${NEXT_KEY}`,
      MERCADO_PAGO_BASE_URL: sandbox.url,
      STRIPE_API_BASE_URL: sandbox.url,
    });
    ({ app } = await createQueueApi(env));
    await app.listen({ port: 0, host: '127.0.0.1' });
    dataSource = app.get(DataSource);
    await expectEventually(() => expect(app.get(AmqpConnection).isConnected()).toBe(true));
  });

  afterAll(async () => {
    if (app) {
      const amqp = app.get(AmqpConnection);
      await expectEventually(() => expect(amqp.isConnected()).toBe(true));
      const channel = await amqp.channel();
      await destroyTopology(channel, app.get(Topology));
      await channel.close();
      await app.close();
    }
    await sandbox?.close();
    await db?.drop();
  });

  describe('X-Ops-Key', () => {
    it.each([
      ['GET', '/v1/ops/worker-health'],
      ['GET', '/v1/ops/metrics'],
      ['GET', '/v1/ops/dead-letters'],
      ['POST', '/v1/ops/dead-letters/00000000-0000-4000-8000-000000000000/replay'],
      ['POST', '/v1/ops/credits/adjust'],
      ['GET', '/v1/ops/ledger/verify'],
      ['GET', '/v1/ops/incidents'],
      ['GET', '/v1/ops/audit'],
    ] as const)('%s %s: 401 without a key, 403 with a wrong key or a bearer token', async (method, url) => {
      const missing = await call(method, url, { key: null });
      expect(missing.statusCode).toBe(401);
      expect(missing.json()).toMatchObject({ code: 'api_key_required', status: 401 });
      expect(missing.headers['content-type']).toContain('application/problem+json');
      expect((await call(method, url, { key: 'not-the-key' })).json()).toMatchObject({
        code: 'invalid_api_key',
        status: 403,
      });
      expect(
        (await call(method, url, { key: null, headers: { authorization: 'Bearer eyJhbGciOi.x.y' } })).json(),
      ).toMatchObject({
        code: 'invalid_api_key',
        status: 403,
      });
    });

    it('accepts both keys while one is being rotated', async () => {
      expect((await call('GET', '/v1/ops/worker-health', { key: KEY })).statusCode).toBe(200);
      expect((await call('GET', '/v1/ops/worker-health', { key: NEXT_KEY })).statusCode).toBe(200);
    });
  });

  it('documents the ops API in the OpenAPI document, behind the ops key', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/docs-json' })).json<{
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    }>();
    for (const [path, method] of [
      ['/v1/ops/worker-health', 'get'],
      ['/v1/ops/metrics', 'get'],
      ['/v1/ops/dead-letters', 'get'],
      ['/v1/ops/dead-letters/{id}/replay', 'post'],
      ['/v1/ops/credits/adjust', 'post'],
      ['/v1/ops/ledger/verify', 'get'],
      ['/v1/ops/incidents', 'get'],
      ['/v1/ops/incidents/{id}/resolve', 'post'],
      ['/v1/ops/audit', 'get'],
      ['/status/data', 'get'],
    ] as const) {
      expect([path, method, Boolean(doc.paths[path]?.[method])]).toEqual([path, method, true]);
      if (path.startsWith('/v1/ops/')) expect(doc.paths[path][method].security).toEqual([{ 'ops-key': [] }]);
    }
  });

  describe('GET /v1/ops/worker-health', () => {
    const beat = (workerId: string, ageSeconds: number): Promise<unknown> =>
      dataSource.query(
        `INSERT INTO ops.worker_heartbeats (worker_id, started_at, last_heartbeat_at, hostname, pid, version)
         VALUES ($1, now() - interval '2 days', now() - make_interval(secs => $2), 'host-1', 42, '1.0.0')
         ON CONFLICT (worker_id) DO UPDATE SET last_heartbeat_at = EXCLUDED.last_heartbeat_at`,
        [workerId, ageSeconds],
      );

    it('is unhealthy with no heartbeat under 60 s, healthy with one, and leaves out workers silent for a day', async () => {
      expect((await call('GET', '/v1/ops/worker-health')).json()).toEqual({ healthy: false, workers: [] });

      await beat('worker-stale', 120);
      await beat('worker-ancient', 25 * 3600);
      const stale = (await call('GET', '/v1/ops/worker-health')).json<{
        healthy: boolean;
        workers: Array<{ workerId: string; ageSeconds: number }>;
      }>();
      expect(stale.healthy).toBe(false);
      expect(stale.workers.map((w) => w.workerId)).toEqual(['worker-stale']);
      expect(stale.workers[0].ageSeconds).toBeGreaterThanOrEqual(120);

      await beat('worker-fresh', 5);
      const res = await call('GET', '/v1/ops/worker-health');
      expect(res.statusCode).toBe(200);
      const body = res.json<{
        healthy: boolean;
        workers: Array<{ workerId: string; lastHeartbeatAt: string; ageSeconds: number }>;
      }>();
      expect(body.healthy).toBe(true);
      expect(body.workers.map((w) => w.workerId)).toEqual(['worker-fresh', 'worker-stale']);
      expect(body.workers[0]).toMatchObject({
        workerId: 'worker-fresh',
        lastHeartbeatAt: expect.stringMatching(/Z$/),
      });
      expect(body.workers[0].ageSeconds).toBeGreaterThanOrEqual(5);
      expect(body.workers[0].ageSeconds).toBeLessThan(60);
    });
  });

  describe('GET /v1/ops/metrics', () => {
    type Metrics = {
      queueDepth: Record<string, number>;
      jobsFailedLastHour: number;
      webhooksFailedLastHour: number;
      deadLettersLast24h: number;
      workerHeartbeatAgeSeconds: number | null;
      walletTotals: { balanceCents: number; heldCents: number; availableCents: number };
    };
    const metrics = async (): Promise<Metrics> => (await call('GET', '/v1/ops/metrics')).json<Metrics>();

    it('has the SPEC §13 shape with every order status present', async () => {
      const body = await metrics();
      expect(Object.keys(body.queueDepth).sort()).toEqual([
        'active',
        'completed',
        'failed',
        'launching',
        'paused',
        'queued',
        'stopped',
        'waiting_payment',
      ]);
      expect(Object.values(body.queueDepth).every((n) => Number.isInteger(n))).toBe(true);
      expect(body).toEqual(
        expect.objectContaining({
          jobsFailedLastHour: expect.any(Number),
          webhooksFailedLastHour: expect.any(Number),
          deadLettersLast24h: expect.any(Number),
          walletTotals: {
            balanceCents: expect.any(Number),
            heldCents: expect.any(Number),
            availableCents: expect.any(Number),
          },
        }),
      );
    });

    it('counts orders by status, failed launches, failed webhooks and dead letters', async () => {
      const before = await metrics();
      await anOrder('queued');
      await anOrder('queued');
      await anOrder('waiting_payment');
      const failed = await anOrder('failed');
      await dataSource.query(
        `INSERT INTO ads.order_transitions (order_id, tenant_id, from_status, to_status, reason) VALUES ($1, $2, 'launching', 'failed', 'meta refused')`,
        [failed, randomUUID()],
      );
      await dataSource.query(
        `INSERT INTO ads.order_transitions (order_id, tenant_id, from_status, to_status, reason, at) VALUES ($1, $2, 'launching', 'failed', 'old', now() - interval '2 hours')`,
        [failed, randomUUID()],
      );
      for (const [status, age] of [
        ['failed', '5 minutes'],
        ['dead', '10 minutes'],
        ['dead', '3 hours'],
        ['processed', '1 minute'],
      ]) {
        await dataSource.query(
          `INSERT INTO webhooks.events (id, provider, provider_event_id, topic, status, raw_body, updated_at)
           VALUES ($1, 'stripe', $2, 'checkout.session.completed', $3, '\\x7b7d', now() - $4::interval)`,
          [randomUUID(), `evt_${randomUUID()}`, status, age],
        );
      }
      await dataSource.query(
        `INSERT INTO messaging.dead_letters (queue, type, attempts, last_error, body, dead_at)
         VALUES ('q', 't', 3, 'boom', '{}', now() - interval '1 hour'), ('q', 't', 3, 'boom', '{}', now() - interval '25 hours')`,
      );

      const after = await metrics();
      expect(after.queueDepth.queued - before.queueDepth.queued).toBe(2);
      expect(after.queueDepth.waiting_payment - before.queueDepth.waiting_payment).toBe(1);
      expect(after.queueDepth.failed - before.queueDepth.failed).toBe(1);
      expect(after.queueDepth.active - before.queueDepth.active).toBe(0);
      expect(after.jobsFailedLastHour - before.jobsFailedLastHour).toBe(1);
      expect(after.webhooksFailedLastHour - before.webhooksFailedLastHour).toBe(2);
      expect(after.deadLettersLast24h - before.deadLettersLast24h).toBe(1);
    });

    it('reports the freshest heartbeat age and the wallet totals', async () => {
      const tenantId = await aTenant();
      const before = await metrics();
      expect((await adjust({ tenantId, amountCents: 12345, reason: 'metrics check' })).statusCode).toBe(201);
      const after = await metrics();
      expect(after.walletTotals.balanceCents - before.walletTotals.balanceCents).toBe(12345);
      expect(after.walletTotals.availableCents - before.walletTotals.availableCents).toBe(12345);
      expect(after.walletTotals.heldCents).toBe(before.walletTotals.heldCents);
      const health = (await call('GET', '/v1/ops/worker-health')).json<{
        workers: Array<{ ageSeconds: number }>;
      }>();
      if (health.workers.length)
        expect(after.workerHeartbeatAgeSeconds).toBe(Math.min(...health.workers.map((w) => w.ageSeconds)));
    });

    it('exposes the business gauges to Prometheus', async () => {
      await app.get(OpsMetricsCollector).verifyLedger();
      const res = await app.inject({ method: 'GET', url: '/metrics' });
      expect(res.statusCode).toBe(200);
      for (const line of [
        /^orders_queue_depth\{status="queued"\} \d+$/m,
        /^orders_queue_depth\{status="waiting_payment"\} \d+$/m,
        /^jobs_failed_last_hour \d+$/m,
        /^webhooks_failed_last_hour \d+$/m,
        /^dead_letters_last_24h \d+$/m,
        /^worker_heartbeat_age_seconds (\d+|\+Inf)$/m,
        /^wallet_totals_cents\{field="balance"\} -?\d+$/m,
        /^ledger_mismatches 0$/m,
        /^ledger_broken_chains 0$/m,
        /^incidents_open\{level="L3"\} \d+$/m,
        /^readiness_check_up\{check="database"\} 1$/m,
        /^outbox_lag_seconds /m,
      ]) {
        expect(res.body).toMatch(line);
      }
    });
  });

  describe('dead letters', () => {
    it('lists dead letters newest first with a cursor, and replays one to its queue with 202', async () => {
      const topology = app.get(Topology);
      const queue = topology.queue('codex-worker', 'billing.topup.approved');
      const channel = await app.get(AmqpConnection).channel();
      await declareTopology(channel, topology);
      const messageId = randomUUID();
      const [letter] = (await dataSource.query(
        `INSERT INTO messaging.dead_letters (queue, message_id, type, attempts, last_error, body)
         VALUES ($1, $2, 'billing.topup.approved', 3, 'consumer failed', $3) RETURNING id`,
        [queue, messageId, JSON.stringify({ id: messageId, type: 'billing.topup.approved' })],
      )) as Array<{ id: string }>;

      const first = (await call('GET', '/v1/ops/dead-letters?limit=1')).json<{
        items: Array<{ id: string }>;
        nextCursor: string | null;
      }>();
      expect(first.items).toHaveLength(1);
      expect(first.items[0].id).toBe(letter.id);
      expect(first.nextCursor).toEqual(expect.any(String));
      const second = (await call('GET', `/v1/ops/dead-letters?limit=1&cursor=${first.nextCursor}`)).json<{
        items: Array<{ id: string }>;
      }>();
      expect(second.items[0]?.id).not.toBe(letter.id);
      expect((await call('GET', '/v1/ops/dead-letters?limit=0')).statusCode).toBe(400);
      expect((await call('GET', '/v1/ops/dead-letters?cursor=%%%')).json()).toMatchObject({
        code: 'validation_failed',
      });

      const before = (await channel.checkQueue(queue)).messageCount;
      const replay = await call('POST', `/v1/ops/dead-letters/${letter.id}/replay`, {
        headers: { 'x-correlation-id': 'replay-corr-1' },
      });
      expect(replay.statusCode).toBe(202);
      expect(replay.json()).toMatchObject({ id: letter.id, replayCount: 1, replayedAt: expect.any(String) });
      await expectEventually(async () =>
        expect((await channel.checkQueue(queue)).messageCount).toBe(before + 1),
      );
      // Replaying again is always accepted: the consumer's inbox absorbs the duplicate.
      expect((await call('POST', `/v1/ops/dead-letters/${letter.id}/replay`)).json()).toMatchObject({
        replayCount: 2,
      });
      await channel.close();

      const audit = await auditRows('dead_letters.replay');
      expect(audit[0]).toMatchObject({
        actor: `ops-key:${fingerprintOf(KEY)}`,
        target: `dead_letter:${letter.id}`,
        correlation_id: 'replay-corr-1',
      });
      expect(audit[0].details).toMatchObject({ status: 202 });
    });

    it('answers 404 for unknown or malformed ids', async () => {
      expect((await call('POST', `/v1/ops/dead-letters/${randomUUID()}/replay`)).json()).toMatchObject({
        status: 404,
        code: 'not_found',
      });
      expect((await call('POST', '/v1/ops/dead-letters/not-an-id/replay')).statusCode).toBe(404);
      // 36 characters of the loose [0-9a-f-] alphabet, but no UUID: it must never reach the ::uuid cast.
      for (const id of ['-'.repeat(36), 'a'.repeat(36), `${randomUUID().slice(0, 35)}-`]) {
        const res = await call('POST', `/v1/ops/dead-letters/${id}/replay`);
        expect(res.statusCode).toBe(404);
        expect(res.json()).toMatchObject({ status: 404, code: 'not_found' });
      }
    });
  });

  describe('malformed cursors', () => {
    const cursorOf = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
    const badCursors: Array<[string, string]> = [
      ['an id that is no UUID', cursorOf(['2026-01-01T00:00:00Z', 'x'])],
      ['an id of 36 dashes', cursorOf(['2026-01-01T00:00:00Z', '-'.repeat(36)])],
      ['a time of "1"', cursorOf(['1', randomUUID()])],
      ['February 30', cursorOf(['2026-02-30T00:00:00.000Z', randomUUID()])],
      ['year 0000', cursorOf(['0000-01-01T00:00:00Z', randomUUID()])],
    ];
    const lists = ['/v1/ops/dead-letters', '/v1/ops/audit', '/v1/ops/incidents', '/v1/ops/whatsapp/orphans'];

    it.each(lists.flatMap((list) => badCursors.map(([what, cursor]) => [list, what, cursor])))(
      '%s refuses a cursor with %s: 400 validation_failed, never a 500',
      async (list, _what, cursor) => {
        const res = await call('GET', `${list}?cursor=${cursor}`);
        expect(res.statusCode).toBe(400);
        expect(res.headers['content-type']).toContain('application/problem+json');
        expect(res.json()).toMatchObject({
          status: 400,
          code: 'validation_failed',
          errors: [{ field: 'cursor', message: 'cursor is malformed' }],
        });
      },
    );
  });

  describe('POST /v1/ops/credits/adjust [idem]', () => {
    it('posts a new adjustment entry, asks for a re-evaluation of waiting orders and audits it', async () => {
      const tenantId = await aTenant();
      const res = await adjust(
        { tenantId, amountCents: 5000, reason: '  Goodwill credit for ticket #4521  ' },
        'adjust-key-1',
        { 'x-correlation-id': 'adjust-corr-1' },
      );
      expect(res.statusCode).toBe(201);
      const body = res.json<{ id: string; reference: string }>();
      expect(body).toMatchObject({
        tenantId,
        kind: 'adjustment',
        amountCents: 5000,
        balanceAfterCents: 5000,
        reason: 'Goodwill credit for ticket #4521',
        wallet: { balanceCents: 5000, heldCents: 0, availableCents: 5000 },
      });
      expect(await entriesOf(tenantId)).toEqual([
        { kind: 'adjustment', amount_cents: '5000', reference: body.reference },
      ]);

      const outbox = (await dataSource.query(
        `SELECT type, envelope FROM messaging.outbox_log WHERE envelope ->> 'tenantId' = $1`,
        [tenantId],
      )) as Array<{
        type: string;
        envelope: { data: Record<string, unknown>; correlationId: string };
      }>;
      expect(outbox).toHaveLength(1);
      expect(outbox[0].type).toBe('ads.orders.reevaluation_requested');
      expect(outbox[0].envelope).toMatchObject({
        correlationId: 'adjust-corr-1',
        data: { tenantId, cause: 'adjustment', reference: body.reference },
      });

      const audit = (await auditRows('credits.adjust')).filter((row) => row.target === `tenant:${tenantId}`);
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({
        actor: `ops-key:${fingerprintOf(KEY)}`,
        correlation_id: 'adjust-corr-1',
        details: { amountCents: 5000, reason: 'Goodwill credit for ticket #4521', entryId: body.id },
      });

      const listed = (
        await call('GET', `/v1/ops/audit?action=credits.adjust&target=tenant:${tenantId}`)
      ).json<{ items: Array<Record<string, unknown>> }>();
      expect(listed.items).toEqual([
        expect.objectContaining({
          actor: `ops-key:${fingerprintOf(KEY)}`,
          action: 'credits.adjust',
          target: `tenant:${tenantId}`,
          correlationId: 'adjust-corr-1',
          at: expect.any(String),
        }),
      ]);
    });

    it('replays the same key and body, refuses the same key with another body', async () => {
      const tenantId = await aTenant();
      const key = `adjust-${randomUUID()}`;
      const first = await adjust({ tenantId, amountCents: 700, reason: 'first' }, key);
      const again = await adjust({ tenantId, amountCents: 700, reason: 'first' }, key);
      expect(again.statusCode).toBe(201);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.json()).toEqual(first.json());
      const other = await adjust({ tenantId, amountCents: 800, reason: 'first' }, key);
      expect(other.statusCode).toBe(422);
      expect(other.json()).toMatchObject({ code: 'idempotency_key_reused' });
      expect(await entriesOf(tenantId)).toHaveLength(1);
      const audit = (await auditRows('credits.adjust')).filter((row) => row.target === `tenant:${tenantId}`);
      // The first as done, the replay as replayed, the refused reuse with its code.
      expect(audit.map((row) => row.details.replayed ?? row.details.error ?? 'applied')).toEqual([
        'applied',
        true,
        'idempotency_key_reused',
      ]);
    });

    it('applies the same request sent ten times at once exactly once', async () => {
      const tenantId = await aTenant();
      const key = `adjust-${randomUUID()}`;
      const results = await Promise.all(
        Array.from({ length: 10 }, () => adjust({ tenantId, amountCents: 2500, reason: 'storm' }, key)),
      );
      for (const res of results) expect([201, 409]).toContain(res.statusCode);
      expect(results.filter((res) => res.statusCode === 201).length).toBeGreaterThanOrEqual(1);
      expect(await entriesOf(tenantId)).toHaveLength(1);
      const outbox = (await dataSource.query(
        `SELECT count(*)::int AS n FROM messaging.outbox_log WHERE envelope ->> 'tenantId' = $1`,
        [tenantId],
      )) as Array<{ n: number }>;
      expect(outbox[0].n).toBe(1);
    });

    it('applies ten different adjustments at once, each once, and the wallet adds up', async () => {
      const tenantId = await aTenant();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          adjust({ tenantId, amountCents: 100 * (i + 1), reason: `batch ${i}` }),
        ),
      );
      expect(results.map((res) => res.statusCode)).toEqual(Array(10).fill(201));
      expect(await entriesOf(tenantId)).toHaveLength(10);
      const wallet = (await dataSource.query(
        `SELECT balance_cents FROM ledger.wallets WHERE tenant_id = $1`,
        [tenantId],
      )) as Array<{ balance_cents: string }>;
      expect(wallet[0].balance_cents).toBe('5500');
    });

    it('debits with a negative amount, refusing to go below zero unless allowed, with no re-evaluation', async () => {
      const tenantId = await aTenant();
      await adjust({ tenantId, amountCents: 1000, reason: 'seed' });
      const tooMuch = await adjust({ tenantId, amountCents: -1500, reason: 'reverse a duplicate credit' });
      expect(tooMuch.statusCode).toBe(422);
      expect(tooMuch.json()).toMatchObject({ code: 'insufficient_balance' });
      const refused = (await auditRows('credits.adjust')).filter(
        (row) => row.target === `tenant:${tenantId}` && row.details.status === 422,
      );
      expect(refused).toHaveLength(1);

      const allowed = await adjust({
        tenantId,
        amountCents: -1500,
        reason: 'reverse a duplicate credit',
        allowNegative: true,
      });
      expect(allowed.statusCode).toBe(201);
      expect(allowed.json()).toMatchObject({
        amountCents: -1500,
        balanceAfterCents: -500,
        wallet: { balanceCents: -500, availableCents: -500 },
      });
      expect((await entriesOf(tenantId)).map((e) => [e.kind, e.amount_cents])).toEqual([
        ['adjustment', '1000'],
        ['adjustment', '-1500'],
      ]);
      const reevaluations = (await dataSource.query(
        `SELECT count(*)::int AS n FROM messaging.outbox_log WHERE type = 'ads.orders.reevaluation_requested' AND envelope ->> 'tenantId' = $1`,
        [tenantId],
      )) as Array<{ n: number }>;
      expect(reevaluations[0].n).toBe(1);
    });

    it.each([
      ['a zero amount', { amountCents: 0 }, 'amountCents'],
      ['a fractional amount', { amountCents: 10.5 }, 'amountCents'],
      ['an amount as a string', { amountCents: '1000' }, 'amountCents'],
      ['an amount over the limit', { amountCents: 100_000_001 }, 'amountCents'],
      ['a negative amount over the limit', { amountCents: -100_000_001 }, 'amountCents'],
      ['no reason', { reason: undefined }, 'reason'],
      ['a blank reason', { reason: '   ' }, 'reason'],
      ['a tenant id that is not a UUID', { tenantId: 'tenant-1' }, 'tenantId'],
      ['an unknown field', { extra: true }, 'extra'],
    ])('refuses %s with 400 validation_failed and writes nothing', async (_name, patch, field) => {
      const tenantId = await aTenant();
      const body = { tenantId, amountCents: 1000, reason: 'valid reason', ...patch };
      const res = await adjust(body);
      expect(res.statusCode).toBe(400);
      const problem = res.json<{ code: string; errors: Array<{ field: string }> }>();
      expect(problem.code).toBe('validation_failed');
      expect(problem.errors.map((e) => e.field)).toContain(field);
      expect(await entriesOf(tenantId)).toEqual([]);
      expect(
        (await auditRows('credits.adjust')).filter((row) => row.target === `tenant:${tenantId}`),
      ).toEqual([]);
    });

    it('needs an Idempotency-Key and a known tenant', async () => {
      const tenantId = await aTenant();
      const missing = await call('POST', '/v1/ops/credits/adjust', {
        body: { tenantId, amountCents: 100, reason: 'x y z' },
      });
      expect(missing.json()).toMatchObject({ status: 400, code: 'idempotency_key_required' });
      const unknown = await adjust({ tenantId: randomUUID(), amountCents: 100, reason: 'nobody' });
      expect(unknown.json()).toMatchObject({ status: 404, code: 'tenant_not_found' });
      expect(await entriesOf(tenantId)).toEqual([]);
    });
  });

  describe('GET /v1/ops/ledger/verify', () => {
    it('recomputes every wallet and reports a cached total that disagrees with its entries', async () => {
      const tenantId = await aTenant();
      await adjust({ tenantId, amountCents: 4200, reason: 'verify me' });
      const clean = (await call('GET', '/v1/ops/ledger/verify')).json<{
        ok: boolean;
        wallets: number;
        mismatches: unknown[];
        brokenChains: unknown[];
      }>();
      expect(clean).toMatchObject({ ok: true, mismatches: [], brokenChains: [] });
      expect(clean.wallets).toBeGreaterThanOrEqual(1);

      await dataSource.query(
        `UPDATE ledger.wallets SET balance_cents = balance_cents + 1 WHERE tenant_id = $1`,
        [tenantId],
      );
      try {
        const broken = (await call('GET', '/v1/ops/ledger/verify')).json<{
          ok: boolean;
          mismatches: unknown[];
        }>();
        expect(broken.ok).toBe(false);
        expect(broken.mismatches).toEqual([
          { tenantId, field: 'balance', cachedCents: 4201, computedCents: 4200 },
        ]);
        await app.get(OpsMetricsCollector).verifyLedger();
        expect((await app.inject({ method: 'GET', url: '/metrics' })).body).toMatch(/^ledger_mismatches 1$/m);
      } finally {
        await dataSource.query(
          `UPDATE ledger.wallets SET balance_cents = balance_cents - 1 WHERE tenant_id = $1`,
          [tenantId],
        );
      }
      expect((await call('GET', '/v1/ops/ledger/verify')).json()).toMatchObject({ ok: true });
    });
  });

  describe('incidents', () => {
    it('lists open incidents with level, fingerprint, count, first/last seen and a sample; resolving closes one', async () => {
      const incidents = app.get(IncidentService);
      const input = {
        code: 'meta_unavailable',
        place: 'consumer:codex-worker:ads.order.queued',
        message: 'Graph answered 503',
      };
      for (let i = 0; i < 3; i++) await incidents.record({ ...input, correlationId: `inc-${i}` });
      const page = (await call('GET', '/v1/ops/incidents')).json<{
        items: Array<Record<string, unknown>>;
        nextCursor: string | null;
      }>();
      const incident = page.items.find((item) => item.code === 'meta_unavailable');
      expect(incident).toMatchObject({
        id: expect.any(String),
        level: 'L1',
        fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/),
        count: 3,
        firstSeenAt: expect.stringMatching(/Z$/),
        lastSeenAt: expect.stringMatching(/Z$/),
        sample: {
          code: 'meta_unavailable',
          place: input.place,
          message: 'Graph answered 503',
          service: 'queue-api',
          correlationId: 'inc-2',
        },
      });
      expect(page.nextCursor).toBeNull();
      expect((await call('GET', `/v1/ops/incidents/${String(incident?.id)}`)).json()).toMatchObject({
        id: incident?.id,
        status: 'open',
      });

      const resolved = await call('POST', `/v1/ops/incidents/${String(incident?.id)}/resolve`, {
        body: { note: 'Meta recovered' },
      });
      expect(resolved.statusCode).toBe(200);
      expect(resolved.json()).toMatchObject({ status: 'resolved', resolvedAt: expect.any(String) });
      expect(
        (await call('GET', '/v1/ops/incidents'))
          .json<{ items: Array<{ id: string }> }>()
          .items.some((i) => i.id === incident?.id),
      ).toBe(false);
      expect((await auditRows('incidents.resolve'))[0]).toMatchObject({
        target: `incident:${String(incident?.id)}`,
        details: { status: 200, body: { note: 'Meta recovered' } },
      });
      expect((await call('GET', `/v1/ops/incidents/${randomUUID()}`)).statusCode).toBe(404);
    });

    it('records this service’s own 5xx answers as incidents', async () => {
      // A table gone missing (as after a botched migration) stands in for a real bug: every call answers 500.
      await dataSource.query(`ALTER TABLE ops.worker_heartbeats RENAME TO worker_heartbeats_gone`);
      try {
        for (let i = 0; i < 3; i++) expect((await call('GET', '/v1/ops/worker-health')).statusCode).toBe(500);
      } finally {
        await dataSource.query(`ALTER TABLE ops.worker_heartbeats_gone RENAME TO worker_heartbeats`);
      }
      await expectEventually(async () => {
        const page = (await call('GET', '/v1/ops/incidents')).json<{
          items: Array<{ code: string; level: string; count: number; sample: { place: string } }>;
        }>();
        expect(page.items.find((i) => i.sample.place === 'GET /v1/ops/worker-health')).toMatchObject({
          code: 'internal_error:42P01',
          level: 'L1',
          count: 3,
        });
      });
    });
  });

  describe('GET /v1/ops/audit', () => {
    it('pages newest first with a cursor and refuses a malformed one', async () => {
      const first = (await call('GET', '/v1/ops/audit?limit=2')).json<{
        items: Array<{ id: string; at: string }>;
        nextCursor: string | null;
      }>();
      expect(first.items).toHaveLength(2);
      expect(first.nextCursor).toEqual(expect.any(String));
      expect(first.items[0].at >= first.items[1].at).toBe(true);
      const second = (await call('GET', `/v1/ops/audit?limit=2&cursor=${first.nextCursor}`)).json<{
        items: Array<{ id: string; at: string }>;
      }>();
      expect(second.items.length).toBeGreaterThanOrEqual(1);
      expect(second.items.some((item) => first.items.some((seen) => seen.id === item.id))).toBe(false);
      expect(second.items[0].at <= first.items[1].at).toBe(true);
      expect(
        (await call('GET', '/v1/ops/audit?cursor=WyIyMDI2LTAxLTAxVDAwOjAwOjAwWiIsIngiXQ')).json(),
      ).toMatchObject({ status: 400, code: 'validation_failed' });
      // Reading is not an action: the audit log does not grow by being read.
      const count = async (): Promise<number> =>
        ((await dataSource.query(`SELECT count(*)::int AS n FROM ops.audit_log`)) as Array<{ n: number }>)[0]
          .n;
      const n = await count();
      await call('GET', '/v1/ops/audit');
      await call('GET', '/v1/ops/metrics');
      expect(await count()).toBe(n);
    });

    it('is append-only in the database', async () => {
      await expect(dataSource.query(`UPDATE ops.audit_log SET actor = 'someone else'`)).rejects.toThrow(
        /append-only/,
      );
      await expect(dataSource.query(`DELETE FROM ops.audit_log`)).rejects.toThrow(/append-only/);
    });
  });
});
