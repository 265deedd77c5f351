import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { connect } from 'amqplib';
import { destroyTopology, Topology } from '@realapp/messaging';
import { AMQP_URL, createTestDatabase, testEnv, TestDatabase } from '@realapp/testing';
// The exporter must produce what each service serves; only the services themselves can say what that is.
/* eslint-disable @nx/enforce-module-boundaries */
import { createAuthApi } from '../../../apps/auth-api/src/app';
import { createCodexWorker } from '../../../apps/codex-worker/src/app';
import { createQueueApi } from '../../../apps/queue-api/src/app';
import { createWebhookGateway } from '../../../apps/webhook-gateway/src/app';
/* eslint-enable @nx/enforce-module-boundaries */
import { buildServiceDocument, Service } from './service-documents';

const CREATE: Record<Service, (env: Record<string, string>) => Promise<{ app: NestFastifyApplication }>> = {
  'auth-api': createAuthApi,
  'queue-api': createQueueApi,
  'webhook-gateway': createWebhookGateway,
  'codex-worker': createCodexWorker,
};

/**
 * The documents are built in Nest's preview mode, without a database or a broker; this holds them equal,
 * title and description included, to what each service really serves at /docs-json once started.
 */
describe('OpenAPI documents built without starting the services', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  it.each(Object.keys(CREATE) as Service[])(
    '%s: equal to the started service’s /docs-json',
    async (service) => {
      // A broker prefix per service: a quorum queue deleted by the previous case and declared again
      // under the same name at once can leave the next delete hanging in RabbitMQ.
      const { app } = await CREATE[service](testEnv(db.url));
      try {
        await app.listen({ port: 0, host: '127.0.0.1' });
        const served: unknown = await (await fetch(`${await app.getUrl()}/docs-json`)).json();
        expect(await buildServiceDocument(service)).toEqual(served);
      } finally {
        // The topology goes after the app, from a connection of its own: deleting a quorum queue
        // while this app's consumer is still attached to it could hang in RabbitMQ.
        const topology = app.get(Topology);
        await app.close();
        const broker = await connect(AMQP_URL);
        try {
          await destroyTopology(await broker.createChannel(), topology).catch(() => undefined);
        } finally {
          await broker.close().catch(() => undefined);
        }
      }
    },
  );
});
