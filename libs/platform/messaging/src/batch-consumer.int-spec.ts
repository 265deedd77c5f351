import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { EventEnvelope, ProbeData, ProbeEvent } from '@realapp/contracts';
import { connect } from 'amqplib';
import { AMQP_URL, createTestDatabase, expectEventually, testEnv, TestDatabase } from '@realapp/testing';
import { AmqpConnection } from './amqp-connection';
import { DeadLetterService } from './dead-letter.service';
import { declareTopology, destroyTopology } from './declare-topology';
import {
  batches,
  behaviour,
  PROBE_BATCH,
  probeEffects,
  SERVICE,
  startProbeApp,
} from './probe-app.test-helper';
import { startConsumers } from './rmq.transport';
import { Topology } from './topology';

function probe(data: ProbeData): EventEnvelope<ProbeData> {
  return {
    id: randomUUID(),
    type: ProbeEvent.type,
    version: ProbeEvent.version,
    occurredAt: new Date().toISOString(),
    correlationId: randomUUID(),
    causationId: null,
    tenantId: null,
    data,
  };
}

describe('batch consumers on the real broker and database', () => {
  let db: TestDatabase;
  let app: NestFastifyApplication;
  let dataSource: DataSource;
  let queue: string;

  const effects = (key: string): Promise<number> => probeEffects(dataSource, key);

  /** Straight onto the consumer's queue, confirmed, as the relay would deliver them. */
  async function send(bodies: ReadonlyArray<EventEnvelope<ProbeData> | string>): Promise<void> {
    const channel = await app.get(AmqpConnection).confirmChannel();
    for (const body of bodies) {
      channel.sendToQueue(queue, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), {
        persistent: true,
      });
    }
    await channel.waitForConfirms();
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    const env = testEnv(db.url, { MESSAGE_MAX_ATTEMPTS: '3', MESSAGE_RETRY_BASE_DELAY_MS: '50' });
    // Consumers stay stopped until the first test has filled the queue.
    app = await startProbeApp(env, { batch: true, consume: false });
    dataSource = app.get(DataSource);
    await dataSource.query(`CREATE TABLE public.probe_effects (key text NOT NULL, message_id uuid NOT NULL)`);
    const amqp = app.get(AmqpConnection);
    await amqp.start();
    await expectEventually(() => expect(amqp.isConnected()).toBe(true));
    const channel = await amqp.channel();
    await declareTopology(channel, app.get(Topology));
    await channel.close();
    queue = app.get(Topology).queue(SERVICE, ProbeEvent.type);
  });

  afterAll(async () => {
    await app.close();
    // After the app: deleting queues with consumers attached can hang the broker.
    const connection = await connect(AMQP_URL);
    const channel = await connection.createChannel();
    await destroyTopology(channel, app.get(Topology)).catch(() => undefined);
    await connection.close();
    await db.drop();
  });

  it('hands the consumer what the broker delivered together, and settles each message by its own result', async () => {
    const steady = Array.from({ length: 22 }, (_, i) => probe({ key: `steady-${i}` }));
    const flaky = probe({ key: 'flaky-in-batch', failTimes: 1 });
    await send([...steady.slice(0, 11), flaky, '{not json', ...steady.slice(11)]);
    await startConsumers(app);

    await expectEventually(async () => {
      for (const { data } of [...steady, flaky]) expect(await effects(data.key)).toBe(1);
    });
    // The retried one came back on its own, through its delay queue; its neighbours were not retried.
    expect(behaviour.get('flaky-in-batch')?.attempts).toBe(2);
    for (const { data } of steady) expect(behaviour.get(data.key)?.attempts).toBe(1);
    await expectEventually(async () => {
      const page = await app.get(DeadLetterService).list(100);
      expect(page.items.filter((item) => item.lastError === 'malformed JSON')).toHaveLength(1);
    });
    // 23 valid messages were queued before the consumer started: the broker delivered them in
    // bursts, never more than the batch limit at once, and more than one at a time.
    expect(batches.every((size) => size >= 1 && size <= PROBE_BATCH)).toBe(true);
    expect(batches.reduce((sum, size) => sum + size, 0)).toBe(24);
    expect(Math.max(...batches)).toBeGreaterThan(1);
  });

  it('retries every message of a batch whose handler threw, and applies each of them once', async () => {
    const keys = ['throw-batch-1', 'after-throw-1', 'after-throw-2', 'after-throw-3'];
    await send(keys.map((key) => probe({ key })));
    await expectEventually(async () => {
      for (const key of keys) expect(await effects(key)).toBe(1);
    });
  });

  it('applies a message delivered several times within one batch once', async () => {
    const envelope = probe({ key: 'dup-in-batch' });
    await send([envelope, envelope, envelope]);
    await expectEventually(() => expect(behaviour.get('dup-in-batch')?.attempts).toBe(3));
    expect(await effects('dup-in-batch')).toBe(1);
  });
});
