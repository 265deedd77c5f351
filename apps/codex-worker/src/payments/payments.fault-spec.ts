import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { connect } from 'amqplib';
import { Client, Pool } from 'pg';
import { SUBSCRIPTIONS } from '@realapp/contracts';
import { destroyTopology, Topology } from '@realapp/messaging';
import {
  createTestDatabase,
  expectEventually,
  startTestSandbox,
  testEnv,
  TestDatabase,
  TestSandbox,
} from '@realapp/testing';
import { ROOT, ServiceProcess, startServiceProcess } from '../testing/service-process.test-helper';

// The projects' testTimeout in jest.config.js does not take effect (jest 30 reads it globally only).
jest.setTimeout(180_000);

/*
 * Kills the worker and restarts the machine's RabbitMQ: runs alone, after every other suite (jest
 * project "fault", --runInBand). The gateway and the worker are the built services (dist/), as
 * they run in production, each in its own process.
 */
const sh = (command: string, args: string[]): string =>
  execFileSync(command, args, { encoding: 'utf8', timeout: 120000 });
const GATEWAY_MAIN = join(ROOT, 'dist/apps/webhook-gateway/src/main.js');
const WORKER_MAIN = join(ROOT, 'dist/apps/codex-worker/src/main.js');

describe('payments survive a killed worker and a broker restart (built services, real infrastructure)', () => {
  let db: TestDatabase;
  let sandbox: TestSandbox;
  let gateway: ServiceProcess;
  let worker: ServiceProcess;
  let env: Record<string, string>;
  let pg: Pool;

  const query = async <T>(sql: string, params: unknown[] = []): Promise<T[]> =>
    (await pg.query(sql, params)).rows as T[];
  const balance = async (tenantId: string): Promise<number> =>
    (
      await query<{ b: number }>(`SELECT balance_cents::int AS b FROM ledger.wallets WHERE tenant_id = $1`, [
        tenantId,
      ])
    )[0]?.b ?? 0;
  const entryCount = async (tenantId: string): Promise<number> =>
    (
      await query<{ n: number }>(`SELECT count(*)::int AS n FROM ledger.entries WHERE tenant_id = $1`, [
        tenantId,
      ])
    )[0].n;
  const sandboxPost = async <T = unknown>(path: string, body: unknown = {}): Promise<T> => {
    const response = await fetch(`${sandbox.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: 'Bearer TEST-token',
        'x-idempotency-key': randomUUID(),
      },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`sandbox ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  const readiness = async (url: string): Promise<number> => {
    try {
      return (await fetch(`${url}/health/readiness`, { signal: AbortSignal.timeout(5000) })).status;
    } catch {
      return 0;
    }
  };
  const startWorker = (): Promise<ServiceProcess> =>
    startServiceProcess(WORKER_MAIN, { ...env, WORKER_ID: 'fault-worker' });

  /** A pending PIX top-up as TopupService.createPix leaves it: a Mercado Pago payment and its row. */
  async function aPendingPixTopup(
    amountCents: number,
  ): Promise<{ tenantId: string; topupId: string; paymentId: string }> {
    const tenantId = randomUUID();
    const topupId = randomUUID();
    const payment = await sandboxPost<{ id: number }>('/v1/payments', {
      transaction_amount: amountCents / 100,
      payment_method_id: 'pix',
      payer: { email: 'buyer@example.com' },
      description: 'RealApp - saldo de tráfego',
      external_reference: topupId,
      notification_url: `${gateway.url}/v1/webhooks/mercadopago`,
    });
    await pg.query(
      `INSERT INTO billing.topups (id, tenant_id, provider, status, amount_cents, provider_payment_id, expires_at)
       VALUES ($1, $2, 'mercadopago', 'pending', $3, $4, now() + interval '1 hour')`,
      [topupId, tenantId, amountCents, String(payment.id)],
    );
    return { tenantId, topupId, paymentId: String(payment.id) };
  }

  beforeAll(async () => {
    const build = spawnSync(process.execPath, [join(ROOT, 'tools/dev/build.mjs')], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    if (build.status !== 0) throw new Error(`build failed: ${build.stderr}`);
    db = await createTestDatabase();
    env = testEnv(db.url, { MESSAGE_RETRY_BASE_DELAY_MS: '100', HEARTBEAT_INTERVAL_MS: '500' });
    gateway = await startServiceProcess(GATEWAY_MAIN, env);
    sandbox = await startTestSandbox(gateway.url);
    env = {
      ...env,
      MERCADO_PAGO_BASE_URL: sandbox.url,
      STRIPE_API_BASE_URL: sandbox.url,
      META_GRAPH_BASE_URL: sandbox.url,
      PUBLIC_WEBHOOK_BASE_URL: gateway.url,
    };
    worker = await startWorker();
    pg = new Pool({ connectionString: db.url, max: 4 });
    await expectEventually(async () => expect(await readiness(worker.url)).toBe(200), { timeoutMs: 30000 });
  });

  afterAll(async () => {
    try {
      sh('rabbitmqctl', ['start_app']);
    } catch {
      // already running (the usual case)
    }
    await worker?.stop();
    await gateway?.stop();
    await sandbox?.close();
    await pg?.end();
    if (env) {
      const amqp = await connect(env.AMQP_URL).catch(() => null);
      if (amqp) {
        const channel = await amqp.createChannel();
        await destroyTopology(channel, new Topology(env.AMQP_PREFIX, 3, 100, SUBSCRIPTIONS)).catch(
          () => undefined,
        );
        await amqp.close().catch(() => undefined);
      }
    }
    await db?.drop();
  });

  it('credits exactly once when the worker is SIGKILLed mid-payment and restarted', async () => {
    // A: killed while it waits for Mercado Pago's answer (the lookup is delayed).
    const a = await aPendingPixTopup(9000);
    await sandboxPost('/_sandbox/faults', { provider: 'mercadopago', delayMs: 15000, count: 1 });
    await sandboxPost(`/_sandbox/mercadopago/payments/${a.paymentId}/status`, {
      status: 'approved',
      notify: true,
    });
    await expectEventually(async () => {
      const pending = (await (await fetch(`${sandbox.url}/_sandbox/faults?provider=mercadopago`)).json()) as {
        items: unknown[];
      };
      expect(pending.items).toHaveLength(0);
    });
    await worker.stop('SIGKILL');
    expect(await balance(a.tenantId)).toBe(0);

    // B: killed inside its database transaction (the test holds one top-up's row lock): eight
    // approvals notified at once arrive in batches, so the kill lands in a batch transaction.
    worker = await startWorker();
    await expectEventually(async () => expect(await balance(a.tenantId)).toBe(9000), { timeoutMs: 30000 });
    const b = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => ({
        ...(await aPendingPixTopup(6000 + i)),
        amountCents: 6000 + i,
      })),
    );
    const locker = new Client({ connectionString: db.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query(`SELECT 1 FROM billing.topups WHERE id = $1 FOR UPDATE`, [b[0].topupId]);
    for (const { paymentId } of b) {
      await sandboxPost(`/_sandbox/mercadopago/payments/${paymentId}/status`, { status: 'approved' });
    }
    await Promise.all(
      b.map(({ paymentId }) => sandboxPost(`/_sandbox/mercadopago/payments/${paymentId}/notify`)),
    );
    await expectEventually(async () => {
      const waiting = await query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'codex-worker' AND wait_event_type = 'Lock'`,
      );
      expect(waiting[0].n).toBeGreaterThanOrEqual(1);
    });
    await worker.stop('SIGKILL');
    await locker.query('ROLLBACK');
    await locker.end();

    worker = await startWorker();
    await expectEventually(
      async () => {
        for (const { tenantId, amountCents } of b) expect(await balance(tenantId)).toBe(amountCents);
      },
      { timeoutMs: 30000 },
    );
    for (const { tenantId, paymentId, amountCents } of [{ ...a, amountCents: 9000 }, ...b]) {
      expect(await balance(tenantId)).toBe(amountCents);
      expect(await entryCount(tenantId)).toBe(1);
      const [event] = await query<{ status: string }>(
        `SELECT status FROM webhooks.events WHERE resource_id = $1`,
        [paymentId],
      );
      expect(event.status).toBe('processed');
    }
  });

  it('loses nothing when RabbitMQ restarts during a burst: readiness 503 then 200, every payment credited once', async () => {
    const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => aPendingPixTopup(3000 + i)));
    for (const { paymentId } of burst)
      await sandboxPost(`/_sandbox/mercadopago/payments/${paymentId}/status`, { status: 'approved' });

    const notify = (items: typeof burst): Promise<number[]> =>
      Promise.all(
        items.map(async ({ paymentId }) => {
          const result = await sandboxPost<{ notified: { status: number } }>(
            `/_sandbox/mercadopago/payments/${paymentId}/notify`,
          );
          return result.notified.status;
        }),
      );

    expect(await notify(burst.slice(0, 10))).toEqual(Array(10).fill(200));
    sh('rabbitmqctl', ['stop_app']);
    try {
      // The gateway keeps accepting: the event and its outbox row are in PostgreSQL.
      expect(await notify(burst.slice(10, 20))).toEqual(Array(10).fill(200));
      await expectEventually(async () => expect(await readiness(gateway.url)).toBe(503), {
        timeoutMs: 15000,
        intervalMs: 200,
      });
      await expectEventually(async () => expect(await readiness(worker.url)).toBe(503), {
        timeoutMs: 15000,
        intervalMs: 200,
      });
    } finally {
      sh('rabbitmqctl', ['start_app']);
    }
    await expectEventually(async () => expect(await readiness(gateway.url)).toBe(200), {
      timeoutMs: 60000,
      intervalMs: 500,
    });
    await expectEventually(async () => expect(await readiness(worker.url)).toBe(200), {
      timeoutMs: 60000,
      intervalMs: 500,
    });
    expect(await notify(burst.slice(20))).toEqual(Array(10).fill(200));

    await expectEventually(
      async () => {
        for (const { tenantId, topupId } of burst) {
          const amount = (
            await query<{ a: number }>(`SELECT amount_cents::int AS a FROM billing.topups WHERE id = $1`, [
              topupId,
            ])
          )[0].a;
          expect(await balance(tenantId)).toBe(amount);
        }
      },
      { timeoutMs: 60000 },
    );
    for (const { tenantId } of burst) expect(await entryCount(tenantId)).toBe(1);
    await expectEventually(async () => {
      const unpublished = await query<{ n: number }>(
        `SELECT count(*)::int AS n FROM messaging.outbox`,
      );
      expect(unpublished[0].n).toBe(0);
    });
  });
});
