import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { connect } from 'amqplib';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { AmqpConnection, destroyTopology, Topology } from '@realapp/messaging';
import {
  createTestDatabase,
  expectEventually,
  startTestSandbox,
  testEnv,
  TestDatabase,
  TestSandbox,
} from '@realapp/testing';
import { createCodexWorker } from '../app';
import {
  compileForTest,
  removeBuild,
  ServiceProcess,
  startServiceProcess,
} from './service-process.test-helper';

/**
 * The payments path on the real stack: the webhook-gateway (its own process), the provider
 * sandbox posting signed notifications to it, and codex-worker replicas in-process, all on one
 * test database and one broker prefix.
 */
export interface PaymentsStack {
  db: TestDatabase;
  env: Record<string, string>;
  gateway: ServiceProcess;
  sandbox: TestSandbox;
  worker: NestFastifyApplication;
  dataSource: DataSource;
  /** Another replica on the same database and queues (a different WORKER_ID). */
  startWorker(overrides?: Record<string, string>): Promise<NestFastifyApplication>;
  close(): Promise<void>;
}

export async function startPaymentsStack(overrides: Record<string, string> = {}): Promise<PaymentsStack> {
  const buildDir = compileForTest(['apps/webhook-gateway', 'libs']);
  const db = await createTestDatabase();
  const env = testEnv(db.url, { MESSAGE_RETRY_BASE_DELAY_MS: '100', ...overrides });
  let topology: Topology | null = null;
  const cleanups: Array<() => Promise<void>> = [
    () => Promise.resolve(removeBuild(buildDir)),
    () => db.drop(),
    // Runs after every worker and the gateway have closed (the steps run last first), from a
    // connection of its own: deleting a quorum queue while a consumer is still attached to it
    // can hang in RabbitMQ.
    async () => {
      if (topology) await deleteTopology(env.AMQP_URL, topology);
    },
  ];
  // Every step undoes itself even when a later one (or a test) failed: a leftover gateway process
  // or database outlives the run otherwise.
  const cleanUp = async (): Promise<void> => {
    for (const step of cleanups.splice(0).reverse()) await step().catch(() => undefined);
  };
  try {
    const gateway = await startServiceProcess(join(buildDir, 'apps/webhook-gateway/src/main.js'), env);
    cleanups.push(() => gateway.stop());
    const sandbox = await startTestSandbox(gateway.url);
    cleanups.push(() => sandbox.close());
    const workerEnv = {
      ...env,
      MERCADO_PAGO_BASE_URL: sandbox.url,
      STRIPE_API_BASE_URL: sandbox.url,
      META_GRAPH_BASE_URL: sandbox.url,
      PUBLIC_WEBHOOK_BASE_URL: gateway.url,
      HEARTBEAT_INTERVAL_MS: '200',
    };
    const workers: NestFastifyApplication[] = [];
    const startWorker = async (extra: Record<string, string> = {}): Promise<NestFastifyApplication> => {
      const { app } = await createCodexWorker({
        ...workerEnv,
        WORKER_ID: `worker-${workers.length + 1}`,
        ...extra,
      });
      topology ??= app.get(Topology);
      cleanups.push(() => app.close());
      await app.listen({ port: 0, host: '127.0.0.1' });
      workers.push(app);
      await expectEventually(() => expect(app.get(AmqpConnection).isConnected()).toBe(true));
      return app;
    };
    const worker = await startWorker();
    return {
      db,
      env: workerEnv,
      gateway,
      sandbox,
      worker,
      dataSource: worker.get(DataSource),
      startWorker,
      close: cleanUp,
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

async function deleteTopology(amqpUrl: string, topology: Topology): Promise<void> {
  const broker = await connect(amqpUrl);
  try {
    await destroyTopology(await broker.createChannel(), topology);
  } finally {
    await broker.close().catch(() => undefined);
  }
}
