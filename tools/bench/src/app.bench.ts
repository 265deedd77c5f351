import { connect } from 'amqplib';
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { cpus, getPriority, totalmem } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { SUBSCRIPTIONS } from '@realapp/contracts';
import { destroyTopology, Topology } from '@realapp/messaging';
import { benchOrderCreate, OrderCreateResult } from './order-create';
import { freePort, Service, startService } from './processes';
import { round } from './stats';
import { benchWalletRead, WalletReadResult } from './wallet-read';

/*
 * `npm run bench -- app`: the app's own hot endpoints (wallet read, order creation) against the
 * built services, each beside a bare node:http baseline on the same PostgreSQL in the same run,
 * with the RSS of every service sampled under load.
 */
export interface AppBenchOptions {
  root: string;
  adminDatabaseUrl: string;
  amqpUrl: string;
  durationSeconds: number;
  connections: number;
  /** queue-api's DATABASE_POOL_SIZE; the baseline gets the same. */
  poolSize: number;
  tenants: number;
  logLevel: string;
  /** Write V8 CPU profiles of queue-api and the worker to tmp/bench-app/profiles. */
  cpuProfiles: boolean;
}

export interface BenchTenant {
  tenantId: string;
  token: string;
  ip: string;
}

export interface AppBenchContext {
  options: AppBenchOptions;
  queueApi: Service;
  queueApiWithoutLimits: Service;
  baseline: Service;
  tenants: BenchTenant[];
  /** The services whose memory is sampled, by name. */
  pids(): Map<string, number | undefined>;
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
}

export interface AppBenchResult {
  options: AppBenchOptions;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; loadGeneratorNice: number };
  walletRead: WalletReadResult;
  orderCreate: OrderCreateResult;
}

const BENCH_DB = 'realapp_bench_app';
const AMQP_PREFIX = 'benchapp.';
const OPS_KEY = 'dev-ops-api-key';

function log(message: string): void {
  process.stdout.write(`[bench] ${message}\n`);
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

async function json<T>(response: Response, what: string): Promise<T> {
  if (!response.ok) throw new Error(`${what} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as T;
}

async function prepareDatabase(options: AppBenchOptions): Promise<string> {
  await withClient(options.adminDatabaseUrl, async (admin) => {
    await admin.query(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${BENCH_DB}`);
  });
  const url = new URL(options.adminDatabaseUrl);
  url.pathname = `/${BENCH_DB}`;
  const migrated = spawnSync(process.execPath, [join(options.root, 'dist/tools/migrations/src/run.js')], {
    cwd: options.root,
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: url.toString() },
    encoding: 'utf8',
  });
  if (migrated.status !== 0) throw new Error(`migrations failed: ${migrated.stderr || migrated.stdout}`);
  await withClient(url.toString(), async (client) => {
    await client.query(`CREATE SCHEMA bench`);
    await client.query(
      `CREATE TABLE bench.baseline_orders (id bigserial PRIMARY KEY, body bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`,
    );
  });
  return url.toString();
}

/** A tenant that can order at once: signed up, its plan authorized at the sandbox, its wallet credited by ops. */
async function prepareTenant(
  auth: string,
  api: string,
  sandbox: string,
  index: number,
): Promise<BenchTenant> {
  const ip = `10.88.${Math.floor(index / 250)}.${(index % 250) + 1}`;
  const suffix = randomBytes(5).toString('hex');
  const session = await json<{ accessToken: string; tenant: { id: string } }>(
    await fetch(`${auth}/v1/auth/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
      body: JSON.stringify({
        email: `bench-${suffix}@example.com`,
        password: `Bench-${suffix}-pw!`,
        name: 'Bench',
        tenantName: `Bench ${suffix}`,
      }),
    }),
    'signup',
  );
  const bearer = { authorization: `Bearer ${session.accessToken}`, 'x-forwarded-for': ip };
  const subscribed = await json<{ checkoutUrl: string }>(
    await fetch(`${api}/v1/billing/subscription`, {
      method: 'POST',
      headers: { ...bearer, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body: '{}',
    }),
    'subscribe',
  );
  const preapproval = new URL(subscribed.checkoutUrl).searchParams.get('preapproval_id');
  await json(
    await fetch(`${sandbox}/_sandbox/mercadopago/preapproval/${preapproval}/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'authorized', notify: true }),
    }),
    'authorize',
  );
  await json(
    await fetch(`${api}/v1/ops/credits/adjust`, {
      method: 'POST',
      headers: { 'x-ops-key': OPS_KEY, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body: JSON.stringify({ tenantId: session.tenant.id, amountCents: 10_000_000, reason: 'bench funds' }),
    }),
    'credit',
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    const current = await json<{ status: string }>(
      await fetch(`${api}/v1/billing/subscription`, { headers: bearer }),
      'subscription',
    );
    if (current.status === 'active') break;
    if (Date.now() > deadline) throw new Error(`the plan of ${session.tenant.id} did not become active`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { tenantId: session.tenant.id, token: session.accessToken, ip };
}

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

export async function runAppBench(options: AppBenchOptions): Promise<AppBenchResult> {
  const logDir = join(options.root, 'tmp/bench-app');
  await resetBrokerTopology(options.amqpUrl).catch(() => undefined);
  log(`preparing ${BENCH_DB} (fresh, migrated)`);
  const dbUrl = await prepareDatabase(options);
  const names = [
    'sandbox',
    'auth-api',
    'queue-api',
    'queue-api-nolimits',
    'webhook-gateway',
    'codex-worker',
    'baseline',
  ] as const;
  const ports = Object.fromEntries(
    await Promise.all(names.map(async (name) => [name, await freePort()])),
  ) as Record<(typeof names)[number], number>;
  const url = (name: (typeof names)[number]): string => `http://127.0.0.1:${ports[name]}`;
  const common: Record<string, string> = {
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    DATABASE_URL: dbUrl,
    AMQP_URL: options.amqpUrl,
    AMQP_PREFIX,
    LOG_LEVEL: options.logLevel,
    RATE_LIMIT_KEY_PREFIX: `rl:benchapp:${randomBytes(3).toString('hex')}:`,
    JWKS_URL: `${url('auth-api')}/.well-known/jwks.json`,
    MERCADO_PAGO_BASE_URL: url('sandbox'),
    STRIPE_API_BASE_URL: url('sandbox'),
    META_GRAPH_BASE_URL: url('sandbox'),
    REAL_ADS_ENABLED: 'true',
    PUBLIC_WEBHOOK_BASE_URL: url('webhook-gateway'),
  };
  const services: Service[] = [];
  const start = async (
    name: (typeof names)[number],
    main: string,
    env: Record<string, string>,
    readyPath = '/health/readiness',
  ): Promise<Service> => {
    const service = await startService({
      name,
      root: options.root,
      main,
      env,
      port: ports[name],
      logDir,
      readyPath,
      nodeArgs:
        options.cpuProfiles && (name === 'queue-api' || name === 'codex-worker')
          ? ['--cpu-prof', `--cpu-prof-dir=${join(logDir, 'profiles')}`]
          : [],
    });
    services.push(service);
    return service;
  };
  try {
    await start(
      'sandbox',
      'dist/tools/provider-sandbox/src/main.js',
      { SANDBOX_PORT: String(ports.sandbox), SANDBOX_WEBHOOK_BASE_URL: url('webhook-gateway') },
      '/_sandbox/health',
    );
    await start('auth-api', 'dist/apps/auth-api/src/main.js', common);
    const queueApi = await start('queue-api', 'dist/apps/queue-api/src/main.js', {
      ...common,
      DATABASE_POOL_SIZE: String(options.poolSize),
    });
    const queueApiWithoutLimits = await start('queue-api-nolimits', 'dist/apps/queue-api/src/main.js', {
      ...common,
      DATABASE_POOL_SIZE: String(options.poolSize),
      RATE_LIMIT_ENABLED: 'false',
    });
    await start('webhook-gateway', 'dist/apps/webhook-gateway/src/main.js', common);
    await start('codex-worker', 'dist/apps/codex-worker/src/main.js', {
      ...common,
      WORKER_ID: 'bench-app-worker',
    });
    const baseline = await start(
      'baseline',
      'dist/tools/bench/src/app-baseline-server.js',
      { DATABASE_URL: dbUrl, DATABASE_POOL_SIZE: String(options.poolSize) },
      '/health',
    );

    log(`preparing ${options.tenants} tenants (sign-up, plan authorized at the sandbox, wallet credited)`);
    const tenants: BenchTenant[] = [];
    await inParallel(
      Array.from({ length: options.tenants }, (_, i) => i),
      4,
      async (i) => void tenants.push(await prepareTenant(url('auth-api'), queueApi.url, url('sandbox'), i)),
    );

    const sampled = ['auth-api', 'queue-api', 'webhook-gateway', 'codex-worker'];
    const context: AppBenchContext = {
      options,
      queueApi,
      queueApiWithoutLimits,
      baseline,
      tenants,
      pids: () => new Map(services.filter((s) => sampled.includes(s.name)).map((s) => [s.name, s.child.pid])),
      query: (sql, params = []) =>
        withClient(dbUrl, async (client) => (await client.query(sql, params)).rows),
    };
    log(`wallet read, ${options.connections} connections, ${options.durationSeconds} s per run`);
    const walletRead = await benchWalletRead(context);
    log(`order creation, ${options.connections} connections, ${options.durationSeconds} s per run`);
    const orderCreate = await benchOrderCreate(context);
    return {
      options,
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? 'unknown',
        memoryGiB: round(totalmem() / 1024 ** 3, 1),
        node: process.version,
        loadGeneratorNice: getPriority(),
      },
      walletRead,
      orderCreate,
    };
  } finally {
    for (const service of services.reverse()) await service.stop();
    await resetBrokerTopology(options.amqpUrl).catch(() => undefined);
  }
}
