import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AmqpConnection, destroyTopology, Topology } from '@realapp/messaging';
import { createTestDatabase, expectEventually, startTestSandbox, testEnv, TestDatabase, TestSandbox } from '@realapp/testing';
import { createQueueApi } from '../app';

// The projects' testTimeout in jest.config.js does not take effect (jest 30 reads it globally only).
jest.setTimeout(90_000);

describe('POST /v1/ops/billing/topups/reconcile (SPEC §9, §13)', () => {
  let db: TestDatabase;
  let sandbox: TestSandbox;
  let app: NestFastifyApplication;
  let dataSource: DataSource;

  const requests = async (): Promise<Array<{ envelope: { type: string; data: { trigger: string; pending: number } } }>> =>
    (await dataSource.query(
      `SELECT envelope FROM messaging.outbox_log WHERE type = 'billing.reconciliation_requested' ORDER BY seq`,
    )) as Array<{ envelope: { type: string; data: { trigger: string; pending: number } } }>;

  beforeAll(async () => {
    db = await createTestDatabase();
    sandbox = await startTestSandbox();
    ({ app } = await createQueueApi(testEnv(db.url, { MERCADO_PAGO_BASE_URL: sandbox.url, STRIPE_API_BASE_URL: sandbox.url })));
    await app.listen({ port: 0, host: '127.0.0.1' });
    dataSource = app.get(DataSource);
    await expectEventually(() => expect(app.get(AmqpConnection).isConnected()).toBe(true));
  });

  afterAll(async () => {
    if (app) {
      const channel = await app.get(AmqpConnection).channel();
      await destroyTopology(channel, app.get(Topology));
      await channel.close();
      await app.close();
    }
    await sandbox?.close();
    await db?.drop();
  });

  it('answers 202 with the pending count and asks the worker for a pass through the outbox', async () => {
    for (const status of ['pending', 'pending', 'pending', 'approved']) {
      await dataSource.query(
        `INSERT INTO billing.topups (id, tenant_id, provider, status, amount_cents) VALUES ($1, $2, 'mercadopago', $3, 5000)`,
        [randomUUID(), randomUUID(), status],
      );
    }
    const response = await app.inject({ method: 'POST', url: '/v1/ops/billing/topups/reconcile', headers: { 'x-ops-key': 'dev-ops-api-key' } });
    expect(response.statusCode).toBe(202);
    expect(response.json()).toEqual({ pending: 3 });
    const [request] = await requests();
    expect(request.envelope).toMatchObject({ type: 'billing.reconciliation_requested', data: { trigger: 'ops', pending: 3 } });
  });

  it('is behind the ops key', async () => {
    const before = (await requests()).length;
    expect((await app.inject({ method: 'POST', url: '/v1/ops/billing/topups/reconcile' })).statusCode).toBe(401);
    expect(
      (await app.inject({ method: 'POST', url: '/v1/ops/billing/topups/reconcile', headers: { 'x-ops-key': 'wrong' } })).statusCode,
    ).toBe(403);
    expect(await requests()).toHaveLength(before);
  });
});
