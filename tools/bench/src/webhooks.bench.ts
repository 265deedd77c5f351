import { connect } from 'amqplib';
import autocannon from 'autocannon';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { Client, Pool } from 'pg';
import { SUBSCRIPTIONS } from '@realapp/contracts';
import { destroyTopology, Topology } from '@realapp/messaging';
import { signMercadoPago } from '@realapp/payments';
import { timedAutocannon } from './app-load';
import { freePort, Service, startService } from './processes';
import { percentile, ratePerSecond, round, sortedCopy } from './stats';

/*
 * `npm run bench -- webhooks`: correctly signed Mercado Pago webhooks against the built
 * webhook-gateway, with the codex-worker crediting them as they arrive, next to a bare node:http
 * + one INSERT baseline measured in the same run on the same machine (SPEC issue 4 targets).
 */

export interface WebhookBenchOptions {
  root: string;
  adminDatabaseUrl: string;
  amqpUrl: string;
  /** Distinct pre-signed events (each with its own pending top-up); a gateway run stops when they are spent. */
  events: number;
  /** How long the baseline runs, cycling through the events (it stores bytes; a repeat costs it what a new one does). */
  durationSeconds: number;
  connections: number;
  /** Gateway's connection pool (DATABASE_POOL_SIZE); the baseline gets the same. */
  poolSize: number;
  logLevel: string;
  /** Measure the gateway alone too (worker stopped), to separate intake from crediting. */
  intakeOnly: boolean;
  /** Write V8 CPU profiles of the gateway and the worker to tmp/bench/profiles. */
  cpuProfiles: boolean;
}

export interface LoadFigures {
  label: string;
  /** 1-minute load average when the run started: other work on the machine skews every figure. */
  loadAverage: number;
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  /** First request sent → last response received, measured by the bench (not autocannon's whole-second duration). */
  seconds: number;
  /** 2xx responses per measured second. */
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
}

export interface CreditFigures {
  sent: number;
  credited: number;
  creditedWhenLoadEnded: number;
  p50: number;
  p99: number;
  perSecond: number;
  ledgerTopups: number;
  storedEvents: number;
  exactlyOnce: boolean;
}

export interface WebhookBenchResult {
  options: WebhookBenchOptions;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; postgres: string };
  baseline: LoadFigures;
  gateway: LoadFigures;
  intakeOnly: LoadFigures | null;
  credits: CreditFigures;
  ratio: number;
}

interface PreparedEvent {
  topupId: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

const BENCH_DB = 'realapp_bench';
const AMQP_PREFIX = 'bench.';
const MP_SECRET = 'dev-mercadopago-webhook-secret';
const TENANTS = 1000;

function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function inParallel<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

function log(message: string): void {
  process.stdout.write(`[bench] ${message}\n`);
}

/** A fresh, migrated bench database with the baseline's table beside the platform's. */
async function prepareDatabase(options: WebhookBenchOptions): Promise<string> {
  await withClient(options.adminDatabaseUrl, async (admin) => {
    await admin.query(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${BENCH_DB}`);
  });
  const url = databaseUrl(options.adminDatabaseUrl, BENCH_DB);
  // The migration runner as deploys run it (tools are not imported across projects).
  const migrated = spawnSync(process.execPath, [join(options.root, 'dist/tools/migrations/src/run.js')], {
    cwd: options.root,
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: url },
    encoding: 'utf8',
  });
  if (migrated.status !== 0) throw new Error(`migrations failed: ${migrated.stderr || migrated.stdout}`);
  await withClient(url, async (client) => {
    await client.query(`CREATE SCHEMA bench`);
    // As close to webhooks.events as a single-table insert gets: a key, the bytes, a timestamp.
    await client.query(
      `CREATE TABLE bench.baseline_webhooks (id bigserial PRIMARY KEY, body bytea NOT NULL, received_at timestamptz NOT NULL DEFAULT now())`,
    );
  });
  return url;
}

/** Pending PIX top-ups whose payments the sandbox already reports approved, and their signed notifications. */
async function prepareEvents(
  count: number,
  dbUrl: string,
  sandboxUrl: string,
  gatewayUrl: string,
): Promise<PreparedEvent[]> {
  const tenants = Array.from({ length: TENANTS }, () => randomUUID());
  const rows: Array<{ topupId: string; tenantId: string; paymentId: string; amountCents: number }> = [];
  const indexes = Array.from({ length: count }, (_, i) => i);
  let made = 0;
  await inParallel(indexes, 24, async (i) => {
    const topupId = randomUUID();
    const amountCents = 3000 + (i % 100);
    const created = await fetch(`${sandboxUrl}/v1/payments`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer TEST-bench',
        'content-type': 'application/json',
        'x-idempotency-key': `bench-${topupId}`,
      },
      body: JSON.stringify({
        transaction_amount: amountCents / 100,
        payment_method_id: 'pix',
        payer: { email: 'bench@example.com' },
        description: 'bench',
        external_reference: topupId,
        notification_url: `${gatewayUrl}/v1/webhooks/mercadopago`,
      }),
    });
    const payment = (await created.json()) as { id: number };
    const approved = await fetch(`${sandboxUrl}/_sandbox/mercadopago/payments/${payment.id}/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'approved' }),
    });
    if (!approved.ok) throw new Error(`sandbox refused to approve ${payment.id}: ${approved.status}`);
    rows.push({ topupId, tenantId: tenants[i % TENANTS], paymentId: String(payment.id), amountCents });
    if (++made % 5000 === 0) log(`  ${made}/${count} payments approved at the sandbox`);
  });
  await withClient(dbUrl, (client) =>
    client.query(
      `INSERT INTO billing.topups (id, tenant_id, provider, status, amount_cents, provider_payment_id, expires_at)
       SELECT id, tenant, 'mercadopago', 'pending', amount, payment, now() + interval '1 day'
       FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::text[]) AS t(id, tenant, amount, payment)`,
      [
        rows.map((r) => r.topupId),
        rows.map((r) => r.tenantId),
        rows.map((r) => r.amountCents),
        rows.map((r) => r.paymentId),
      ],
    ),
  );
  // Signed now: the run must start within the 300 s tolerance.
  const ts = Math.floor(Date.now() / 1000);
  let notificationId = 90_000_000_000 + Math.floor(Math.random() * 1_000_000_000);
  return rows.map((row) => {
    const requestId = randomUUID();
    const id = ++notificationId;
    return {
      topupId: row.topupId,
      path: `/v1/webhooks/mercadopago?data.id=${row.paymentId}&type=payment`,
      headers: {
        'content-type': 'application/json',
        'x-request-id': requestId,
        'x-signature': signMercadoPago({
          secret: MP_SECRET,
          dataId: row.paymentId,
          xRequestId: requestId,
          ts,
        }),
      },
      body: JSON.stringify({
        id,
        live_mode: false,
        type: 'payment',
        date_created: new Date().toISOString(),
        user_id: 1000000001,
        api_version: 'v1',
        action: 'payment.updated',
        data: { id: row.paymentId },
      }),
    };
  });
}

function figures(
  label: string,
  result: autocannon.Result,
  seconds: number,
): Omit<LoadFigures, 'loadAverage'> {
  const ok = result['2xx'];
  return {
    label,
    requests: result.requests.total,
    ok,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    seconds: round(seconds, 2),
    perSecond: round(ratePerSecond(ok, seconds), 0),
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
  };
}

interface LoadPlan {
  /**
   * Cycle through the events for this long instead of sending each once. Only for the baseline: it
   * stores bytes, so a repeat costs it what a new event does, and it spends the events in 2-3 s,
   * too short for a steady-state rate.
   */
  cycleForSeconds?: number;
  /** Learns when each event left. */
  onSent?: (event: PreparedEvent, at: number) => void;
}

/** autocannon with one pre-built request per event, each sent once unless the plan cycles them. */
async function load(
  label: string,
  url: string,
  events: readonly PreparedEvent[],
  options: WebhookBenchOptions,
  plan: LoadPlan = {},
): Promise<LoadFigures> {
  let next = 0;
  const cycling = plan.cycleForSeconds !== undefined;
  const loadAverage = round(loadavg()[0], 1);
  const { result, seconds } = await timedAutocannon(
    {
      url,
      connections: options.connections,
      timeout: 10,
      ...(cycling ? { duration: plan.cycleForSeconds } : { amount: events.length }),
    },
    (request) => {
      // Past the pool (a reconnecting connection may ask once more) the last event repeats: a duplicate, still 200.
      const event = cycling ? events[next++ % events.length] : events[Math.min(next++, events.length - 1)];
      plan.onSent?.(event, Date.now());
      return { ...request, method: 'POST', path: event.path, headers: event.headers, body: event.body };
    },
  );
  const figuresOf = { ...figures(label, result, seconds), loadAverage };
  log(
    `  ${label}: ${figuresOf.perSecond}/s over ${figuresOf.seconds.toFixed(2)} s (load average before: ${loadAverage}), ` +
      `p50 ${figuresOf.p50} ms, p99 ${figuresOf.p99} ms, non-2xx ${figuresOf.non2xx}, errors ${figuresOf.errors}`,
  );
  return figuresOf;
}

function profileArgs(options: WebhookBenchOptions, logDir: string): string[] {
  return options.cpuProfiles ? ['--cpu-prof', `--cpu-prof-dir=${join(logDir, 'profiles')}`] : [];
}

/** One connection for all the bench's own polling: PostgreSQL's connection slots are shared with the services. */
const monitors = new Map<string, Pool>();
function monitor(dbUrl: string): Pool {
  let pool = monitors.get(dbUrl);
  if (!pool) {
    pool = new Pool({ connectionString: dbUrl, max: 1 });
    monitors.set(dbUrl, pool);
  }
  return pool;
}

async function countApproved(dbUrl: string, ids: string[]): Promise<number> {
  const result = await monitor(dbUrl).query<{ n: number }>(
    `SELECT count(*)::int AS n FROM billing.topups WHERE id = ANY($1::uuid[]) AND status = 'approved'`,
    [ids],
  );
  return result.rows[0].n;
}

async function creditFigures(
  dbUrl: string,
  sentAt: Map<string, number>,
  creditedWhenLoadEnded: number,
  storedBefore: number,
): Promise<CreditFigures> {
  const ids = [...sentAt.keys()];
  const deadline = Date.now() + 180_000;
  let credited = await countApproved(dbUrl, ids);
  while (credited < ids.length && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    credited = await countApproved(dbUrl, ids);
  }
  return withClient(dbUrl, async (client) => {
    const rows = (
      await client.query<{ id: string; approved_at: Date }>(
        `SELECT id, approved_at FROM billing.topups WHERE id = ANY($1::uuid[]) AND status = 'approved'`,
        [ids],
      )
    ).rows;
    const latencies = sortedCopy(
      rows.map((row) => row.approved_at.getTime() - (sentAt.get(row.id) ?? row.approved_at.getTime())),
    );
    const firstSent = Math.min(...sentAt.values());
    const lastCredit = Math.max(...rows.map((row) => row.approved_at.getTime()));
    // The credits of exactly the top-ups this run sent webhooks for (the warm-up's is not one of them).
    const ledger = (
      await client.query<{ n: number; distinct: number }>(
        `SELECT count(*)::int AS n, count(DISTINCT metadata ->> 'topupId')::int AS distinct
         FROM ledger.entries WHERE kind = 'topup' AND metadata ->> 'topupId' = ANY($1::text[])`,
        [ids],
      )
    ).rows[0];
    const stored =
      (await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM webhooks.events`)).rows[0].n -
      storedBefore;
    return {
      sent: ids.length,
      credited,
      creditedWhenLoadEnded,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      perSecond: round(ratePerSecond(credited, (lastCredit - firstSent) / 1000), 0),
      ledgerTopups: ledger.n,
      storedEvents: stored,
      exactlyOnce: ledger.n === ledger.distinct && ledger.n === credited,
    };
  });
}

/** The bench's own queues (prefix `bench.`), emptied so no earlier run's messages leak into this one. */
async function resetBrokerTopology(amqpUrl: string): Promise<void> {
  const connection = await connect(amqpUrl);
  try {
    const channel = await connection.createChannel();
    await destroyTopology(channel, new Topology(AMQP_PREFIX, 3, 1000, SUBSCRIPTIONS));
    await channel.close();
  } finally {
    await connection.close();
  }
}

export async function runWebhookBench(options: WebhookBenchOptions): Promise<WebhookBenchResult> {
  const logDir = join(options.root, 'tmp/bench');
  // Nothing to delete on a first run; a broker that is down fails the run when the services start.
  await resetBrokerTopology(options.amqpUrl).catch(() => undefined);
  log(`preparing ${BENCH_DB} (fresh, migrated)`);
  const dbUrl = await prepareDatabase(options);
  const [gatewayPort, workerPort, sandboxPort, baselinePort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const common = {
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    DATABASE_URL: dbUrl,
    AMQP_URL: options.amqpUrl,
    AMQP_PREFIX: AMQP_PREFIX,
    LOG_LEVEL: options.logLevel,
    DATABASE_POOL_SIZE: String(options.poolSize),
  };
  const services: Service[] = [];
  try {
    const sandbox = await startService({
      name: 'provider-sandbox',
      root: options.root,
      main: 'dist/tools/provider-sandbox/src/main.js',
      env: { SANDBOX_PORT: String(sandboxPort), SANDBOX_WEBHOOK_BASE_URL: `http://127.0.0.1:${gatewayPort}` },
      port: sandboxPort,
      logDir,
      readyPath: '/_sandbox/health',
    });
    services.push(sandbox);
    const gateway = await startService({
      name: 'webhook-gateway',
      root: options.root,
      main: 'dist/apps/webhook-gateway/src/main.js',
      env: common,
      port: gatewayPort,
      logDir,
      readyPath: '/health/readiness',
      nodeArgs: profileArgs(options, logDir),
    });
    services.push(gateway);
    const baseline = await startService({
      name: 'baseline',
      root: options.root,
      main: 'dist/tools/bench/src/baseline-server.js',
      env: { DATABASE_URL: dbUrl, DATABASE_POOL_SIZE: String(options.poolSize) },
      port: baselinePort,
      logDir,
      readyPath: '/health',
    });
    services.push(baseline);
    const workerEnv = {
      ...common,
      MERCADO_PAGO_BASE_URL: sandbox.url,
      STRIPE_API_BASE_URL: sandbox.url,
      META_GRAPH_BASE_URL: sandbox.url,
      PUBLIC_WEBHOOK_BASE_URL: gateway.url,
      WORKER_ID: 'bench-worker',
      DATABASE_POOL_SIZE: '10',
    };

    const intakeEvents = options.intakeOnly ? Math.floor(options.events / 3) : 0;
    log(
      `creating ${options.events + intakeEvents} pending top-ups with approved PIX payments at the sandbox`,
    );
    const all = await prepareEvents(options.events + intakeEvents + 1, dbUrl, sandbox.url, gateway.url);
    const events = all.slice(0, options.events);
    const intake = all.slice(options.events, options.events + intakeEvents);
    const warmUp = all[all.length - 1];

    log('warming up (500 deliveries of one event to each server: JIT, pools, prepared statements)');
    await load('warm-up gateway', gateway.url, Array<PreparedEvent>(500).fill(warmUp), options);
    await load('warm-up baseline', baseline.url, Array<PreparedEvent>(500).fill(warmUp), options);

    log(
      `baseline: node:http + one INSERT, ${options.connections} connections, the events in turn for ${options.durationSeconds} s`,
    );
    const baselineFigures = await load('baseline', baseline.url, events, options, {
      cycleForSeconds: options.durationSeconds,
    });
    // Its connections go back to PostgreSQL before the gateway's run.
    await baseline.stop();

    let intakeFigures: LoadFigures | null = null;
    if (options.intakeOnly) {
      log('gateway alone (no worker running): intake capacity');
      intakeFigures = await load('gateway (intake only)', gateway.url, intake, options);
    }

    const worker = await startService({
      name: 'codex-worker',
      root: options.root,
      main: 'dist/apps/codex-worker/src/main.js',
      env: workerEnv,
      port: workerPort,
      logDir,
      readyPath: '/health/readiness',
      nodeArgs: profileArgs(options, logDir),
    });
    services.push(worker);
    if (intakeFigures) {
      const started = Date.now();
      const drained = await creditFigures(dbUrl, new Map(intake.map((e) => [e.topupId, started])), 0, 0);
      const seconds = (Date.now() - started) / 1000;
      log(
        `  the worker drained the intake-only backlog (${drained.credited} credits) at ${round(ratePerSecond(drained.credited, seconds), 0)}/s`,
      );
    }

    const storedBefore = await withClient(
      dbUrl,
      async (c) => (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM webhooks.events`)).rows[0].n,
    );
    log(
      `gateway with the worker crediting: ${events.length} distinct signed webhooks, ${options.connections} connections`,
    );
    const sentAt = new Map<string, number>();
    const gatewayFigures = await load('gateway + worker', gateway.url, events, options, {
      onSent: (event, at) => {
        if (!sentAt.has(event.topupId)) sentAt.set(event.topupId, at);
      },
    });
    const creditedWhenLoadEnded = await countApproved(dbUrl, [...sentAt.keys()]);
    log(`waiting for the credits (${creditedWhenLoadEnded}/${sentAt.size} done when the load ended)`);
    const credits = await creditFigures(dbUrl, sentAt, creditedWhenLoadEnded, storedBefore);

    return {
      options,
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? 'unknown',
        memoryGiB: round(totalmem() / 1024 ** 3, 1),
        node: process.version,
        postgres: await withClient(
          dbUrl,
          async (c) =>
            (await c.query<{ server_version: string }>(`SHOW server_version`)).rows[0].server_version,
        ),
      },
      baseline: baselineFigures,
      gateway: gatewayFigures,
      intakeOnly: intakeFigures,
      credits,
      ratio: round(gatewayFigures.perSecond / baselineFigures.perSecond, 2),
    };
  } finally {
    for (const pool of monitors.values()) await pool.end().catch(() => undefined);
    monitors.clear();
    for (const service of services.reverse()) await service.stop();
    await resetBrokerTopology(options.amqpUrl).catch(() => undefined);
  }
}
