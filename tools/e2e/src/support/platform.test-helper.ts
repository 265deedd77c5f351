import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { connect } from 'amqplib';
import { DataSource } from 'typeorm';
import { RealAppClient } from '@realapp/client';
import { AmqpConnection, destroyTopology, Topology } from '@realapp/messaging';
import {
  createTestDatabase,
  expectEventually,
  startTestSandbox,
  testEnv,
  TestDatabase,
  TestSandbox,
} from '@realapp/testing';
// End-to-end suites start the real services side by side (type:e2e may depend on everything); Nx forbids
// importing an app from another project whatever the tags, so the disable stays confined to this helper.
/* eslint-disable @nx/enforce-module-boundaries */
import { createAuthApi } from '../../../../apps/auth-api/src/app';
import { createCodexWorker } from '../../../../apps/codex-worker/src/app';
import { createQueueApi } from '../../../../apps/queue-api/src/app';
import { createWebhookGateway } from '../../../../apps/webhook-gateway/src/app';
/* eslint-enable @nx/enforce-module-boundaries */
import { freePort, NginxGateway, startNginxGateway } from './nginx-gateway.test-helper';

export type ServiceName = 'auth-api' | 'queue-api' | 'webhook-gateway' | 'codex-worker';

export interface Platform {
  /** The gateway's origin: the one URL the app knows. */
  gatewayUrl: string;
  gateway: NginxGateway;
  sandbox: TestSandbox;
  db: TestDatabase;
  apps: Record<ServiceName, NestFastifyApplication>;
  /** Each service's own origin (behind the gateway). */
  serviceUrls: Record<ServiceName, string>;
  dataSource: DataSource;
  /** A new typed client against the gateway, with its own in-memory session. */
  client(options?: { headers?: Record<string, string> }): RealAppClient;
  /** The sandbox's control API (SPEC §12); throws on an error answer. */
  sandboxCall<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T>;
  /** Closes one service (as a crash or a deploy would), leaving the gateway in front of its port. */
  stopService(name: ServiceName): Promise<void>;
  close(): Promise<void>;
}

const hostPort = (url: string): string => new URL(url).host;

/**
 * The whole platform on one machine, as `npm start` runs it but on free ports: the four services in-process
 * on one test database and broker prefix, the provider sandbox, and the nginx gateway in front. Every
 * provider points at the sandbox; the sandbox's signed webhooks (and Mercado Pago's notification_url) go
 * through the gateway, as they would in production.
 */
export async function startPlatform(): Promise<Platform> {
  const db = await createTestDatabase();
  const gatewayPort = await freePort();
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const sandbox = await startTestSandbox(gatewayUrl);
  const env = testEnv(db.url, {
    MERCADO_PAGO_BASE_URL: sandbox.url,
    STRIPE_API_BASE_URL: sandbox.url,
    META_GRAPH_BASE_URL: sandbox.url,
    OPENAI_BASE_URL: `${sandbox.url}/v1`,
    REAL_ADS_ENABLED: 'true',
    PUBLIC_WEBHOOK_BASE_URL: gatewayUrl,
    PUBLIC_APP_URL: gatewayUrl,
    HEARTBEAT_INTERVAL_MS: '500',
    META_INSIGHTS_INTERVAL_MS: '600000',
    WORKER_ID: 'e2e-worker',
  });

  const started: Array<[ServiceName, NestFastifyApplication]> = [];
  const listen = async (name: ServiceName, app: NestFastifyApplication): Promise<string> => {
    started.push([name, app]);
    await app.listen({ port: 0, host: '127.0.0.1' });
    return app.getUrl();
  };
  try {
    const auth = (await createAuthApi(env)).app;
    const authUrl = await listen('auth-api', auth);
    const withJwks = { ...env, JWKS_URL: `${authUrl}/.well-known/jwks.json` };
    const queue = (await createQueueApi(withJwks)).app;
    const queueUrl = await listen('queue-api', queue);
    const webhooks = (await createWebhookGateway(withJwks)).app;
    const webhooksUrl = await listen('webhook-gateway', webhooks);
    const worker = (await createCodexWorker(withJwks)).app;
    const workerUrl = await listen('codex-worker', worker);
    for (const [, app] of started)
      await expectEventually(() => expect(app.get(AmqpConnection).isConnected()).toBe(true));

    const gateway = await startNginxGateway(
      { authApi: hostPort(authUrl), queueApi: hostPort(queueUrl), webhookGateway: hostPort(webhooksUrl) },
      { port: gatewayPort },
    );
    const running = new Set<ServiceName>(started.map(([name]) => name));
    const apps = Object.fromEntries(started) as Record<ServiceName, NestFastifyApplication>;

    const stopService = async (name: ServiceName): Promise<void> => {
      if (!running.delete(name)) return;
      await apps[name].close();
    };

    return {
      gatewayUrl,
      gateway,
      sandbox,
      db,
      apps,
      serviceUrls: {
        'auth-api': authUrl,
        'queue-api': queueUrl,
        'webhook-gateway': webhooksUrl,
        'codex-worker': workerUrl,
      },
      dataSource: queue.get(DataSource),
      client: (options = {}) => new RealAppClient({ baseUrl: gatewayUrl, headers: options.headers }),
      async sandboxCall<T>(method: string, path: string, body?: unknown): Promise<T> {
        const response = await fetch(`${sandbox.url}${path}`, {
          method,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const json = (await response.json()) as T;
        if (response.status >= 400)
          throw new Error(`sandbox ${method} ${path} answered ${response.status}: ${JSON.stringify(json)}`);
        return json;
      },
      stopService,
      async close(): Promise<void> {
        await gateway.stop();
        // Every service stops first, then the suite's queues and exchange go, so no consumer is left
        // reconnecting to a queue that was just deleted.
        const topology = queue.get(Topology);
        for (const [name] of [...started].reverse()) await stopService(name);
        const connection = await connect(env.AMQP_URL);
        try {
          const channel = await connection.createChannel();
          await destroyTopology(channel, topology).catch(() => undefined);
        } finally {
          await connection.close().catch(() => undefined);
        }
        await sandbox.close();
        await db.drop();
      },
    };
  } catch (error) {
    for (const [, app] of started.reverse()) await app.close().catch(() => undefined);
    await sandbox.close();
    await db.drop();
    throw error;
  }
}
