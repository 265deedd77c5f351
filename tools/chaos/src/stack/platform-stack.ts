import { connect } from 'amqplib';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { SUBSCRIPTIONS } from '@realapp/contracts';
import { destroyTopology, Topology } from '@realapp/messaging';
import { createSandbox, Sandbox } from '@realapp/provider-sandbox';
import { freePort } from './free-port';
import { Infrastructure, sharedInfrastructure, startPrivateInfrastructure } from './infrastructure';
import { call, waitFor } from './http';
import { repoRoot } from './repo-root';
import { ServiceProcess } from './service-process';

export const SERVICES = ['auth-api', 'queue-api', 'webhook-gateway', 'codex-worker'] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface StackOptions {
  /** Directory holding the compiled `apps/<app>/src/main.js` (dist/, or a private build). */
  buildDir: string;
  /** `private` (default): a PostgreSQL cluster and RabbitMQ node of the run's own; `shared`: the machine's. */
  infrastructure?: 'private' | 'shared';
  /** How many instances of each service (1 by default). */
  replicas?: Partial<Record<ServiceName, number>>;
  /** Extra environment for every service (after the defaults). */
  env?: Record<string, string>;
  /** Extra environment per service. */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /** Where each instance appends its log lines (`<name>.log`); nothing is written without it. */
  logDir?: string;
}

/** The whole platform on loopback: its own database, broker prefix, Redis key prefix and ports. */
export interface PlatformStack {
  infrastructure: Infrastructure;
  databaseUrl: string;
  amqpUrl: string;
  prefix: string;
  sandbox: Sandbox;
  instances: Record<ServiceName, ServiceProcess[]>;
  url(service: ServiceName, index?: number): string;
  all(): ServiceProcess[];
  /** Waits until every running instance answers /health/readiness with 200. */
  waitReady(timeoutMs?: number): Promise<boolean>;
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
  close(options?: { keepDatabase?: boolean }): Promise<void>;
}

interface DevEnvModule {
  devEnv(overrides?: Record<string, string>): Record<string, string>;
}

/** `tools/dev/dev-env.mjs`, the same wiring and §13 development values as `npm start`. */
async function developmentEnv(): Promise<Record<string, string>> {
  const modulePath = join(repoRoot(), 'tools/dev/dev-env.mjs');
  const loaded = (await import(modulePath)) as DevEnvModule;
  return loaded.devEnv();
}

export async function startPlatformStack(options: StackOptions): Promise<PlatformStack> {
  const dev = await developmentEnv();
  const id = randomBytes(4).toString('hex');
  const infrastructure =
    options.infrastructure === 'shared'
      ? sharedInfrastructure(dev.DATABASE_URL, dev.AMQP_URL)
      : await startPrivateInfrastructure(id);
  const databaseUrl = new URL(infrastructure.adminDatabaseUrl);
  databaseUrl.pathname = `/realapp_chaos_${id}`;
  const prefix = `chaos${id}.`;
  // The migration runner as deploys run it (creates the database when missing, then migrates).
  const migrated = spawnSync(process.execPath, [join(options.buildDir, 'tools/migrations/src/run.js')], {
    cwd: repoRoot(),
    env: {
      PATH: process.env.PATH ?? '',
      NODE_PATH: join(repoRoot(), 'node_modules'),
      DATABASE_URL: databaseUrl.toString(),
    },
    encoding: 'utf8',
  });
  if (migrated.status !== 0) {
    await infrastructure.close();
    throw new Error(`migrations failed: ${migrated.stderr || migrated.stdout}`);
  }
  return startServices(options, dev, id, infrastructure, databaseUrl.toString(), prefix);
}

async function startServices(
  options: StackOptions,
  dev: Record<string, string>,
  id: string,
  infrastructure: Infrastructure,
  databaseUrl: string,
  prefix: string,
): Promise<PlatformStack> {
  const amqpUrl = infrastructure.amqpUrl;

  const replicas = (service: ServiceName): number => options.replicas?.[service] ?? 1;
  const ports = Object.fromEntries(
    await Promise.all(
      SERVICES.map(async (service) => [
        service,
        await Promise.all(Array.from({ length: replicas(service) }, () => freePort())),
      ]),
    ),
  ) as Record<ServiceName, number[]>;
  const gatewayUrl = `http://127.0.0.1:${ports['webhook-gateway'][0]}`;
  const sandbox = await createSandbox({ port: 0, webhookBaseUrl: gatewayUrl, requestLogLimit: 20_000 });
  if (options.logDir) mkdirSync(options.logDir, { recursive: true });

  const env: Record<string, string> = {
    ...dev,
    NODE_ENV: 'development',
    DATABASE_URL: databaseUrl,
    AMQP_URL: amqpUrl,
    AMQP_PREFIX: prefix,
    RATE_LIMIT_KEY_PREFIX: `rl:${prefix}`,
    LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'warn',
    DEBUG_LOG_DIR: '',
    MERCADO_PAGO_BASE_URL: sandbox.url,
    STRIPE_API_BASE_URL: sandbox.url,
    META_GRAPH_BASE_URL: sandbox.url,
    OPENAI_BASE_URL: `${sandbox.url}/v1`,
    JWKS_URL: `http://127.0.0.1:${ports['auth-api'][0]}/.well-known/jwks.json`,
    PUBLIC_WEBHOOK_BASE_URL: gatewayUrl,
    // Long enough for any run; the chaos is about faults, not token expiry.
    ACCESS_TOKEN_TTL_SECONDS: '3600',
    ...options.env,
  };
  for (const key of Object.keys(env)) if (env[key] === '') delete env[key];

  const instances = Object.fromEntries(
    SERVICES.map((service) => [
      service,
      ports[service].map((port, index) => {
        const name = replicas(service) > 1 ? `${service}-${index + 1}` : service;
        const serviceEnv: Record<string, string> = { ...env, ...options.serviceEnv?.[service] };
        if (service === 'codex-worker') serviceEnv.WORKER_ID = `chaos-${id}-${name}`;
        const main = join(options.buildDir, `apps/${service}/src/main.js`);
        return new ServiceProcess(
          name,
          main,
          serviceEnv,
          port,
          options.logDir ? join(options.logDir, `${name}.log`) : undefined,
        );
      }),
    ]),
  ) as Record<ServiceName, ServiceProcess[]>;
  const all = (): ServiceProcess[] => SERVICES.flatMap((service) => instances[service]);

  // The observer reconnects by itself: PostgreSQL restarts under it on purpose.
  let observerClient: Client | null = null;
  const observer = async (): Promise<Client> => {
    if (observerClient) return observerClient;
    const client = new Client({ connectionString: databaseUrl, application_name: 'chaos-observer' });
    client.on('error', () => {
      if (observerClient === client) observerClient = null;
    });
    await client.connect();
    observerClient = client;
    return client;
  };
  const query = async <T>(sql: string, params: unknown[] = []): Promise<T[]> => {
    try {
      return (await (await observer()).query(sql, params)).rows as T[];
    } catch (error) {
      await observerClient?.end().catch(() => undefined);
      observerClient = null;
      throw error;
    }
  };

  const waitReady = async (timeoutMs = 60_000): Promise<boolean> =>
    (await waitFor(async () => {
      const statuses = await Promise.all(
        all()
          .filter((instance) => instance.running)
          .map(
            async (instance) =>
              (await call(instance.url, 'GET', '/health/readiness', { timeoutMs: 3000 })).status,
          ),
      );
      return statuses.every((status) => status === 200) ? true : undefined;
    }, timeoutMs)) === true;

  try {
    // auth-api first: the others read its JWKS.
    await Promise.all(instances['auth-api'].map((instance) => instance.start()));
    await Promise.all(
      SERVICES.filter((s) => s !== 'auth-api').flatMap((service) =>
        instances[service].map((instance) => instance.start()),
      ),
    );
    if (!(await waitReady())) {
      const states = await Promise.all(
        all().map(async (instance) => {
          const answer = await call(instance.url, 'GET', '/health/readiness', { timeoutMs: 3000 });
          return `${instance.name}: ${answer.status} ${answer.text.slice(0, 300)}`;
        }),
      );
      throw new Error(`the platform did not become ready within 60 s:\n${states.join('\n')}`);
    }
  } catch (error) {
    await Promise.all(all().map((instance) => instance.stop()));
    await sandbox.close();
    if (infrastructure.kind === 'shared') await dropDatabase(databaseUrl).catch(() => undefined);
    await infrastructure.close();
    throw error;
  }

  return {
    infrastructure,
    databaseUrl,
    amqpUrl,
    prefix,
    sandbox,
    instances,
    url: (service, index = 0) => instances[service][index].url,
    all,
    waitReady,
    query,
    close: async ({ keepDatabase = false } = {}) => {
      await Promise.all(all().map((instance) => instance.stop()));
      await sandbox.close();
      await observerClient?.end().catch(() => undefined);
      if (infrastructure.kind === 'shared') {
        await removeTopology(amqpUrl, prefix).catch(() => undefined);
        if (!keepDatabase) await dropDatabase(databaseUrl).catch(() => undefined);
      }
      // A private cluster and node go away whole (keepDatabase cannot keep them).
      await infrastructure.close();
    },
  };
}

/** Deletes the run's exchanges and queues (they carry its prefix). */
async function removeTopology(amqpUrl: string, prefix: string): Promise<void> {
  const connection = await connect(amqpUrl);
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    await destroyTopology(channel, new Topology(prefix, 3, 1000, SUBSCRIPTIONS));
    await channel.close().catch(() => undefined);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

async function dropDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = url.pathname.slice(1);
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
