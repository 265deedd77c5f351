import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { EventEnvelope, ProbeData, ProbeEvent } from '@realapp/contracts';
import { createTestDatabase, expectEventually, testEnv, TestDatabase } from '@realapp/testing';
import { AmqpConnection } from './amqp-connection';
import { DeadLetterService } from './dead-letter.service';
import { destroyTopology } from './declare-topology';
import { OutboxRelay } from './outbox-relay';
import { OutboxService } from './outbox.service';
import { behaviour, probeEffects, SERVICE, startProbeApp } from './probe-app.test-helper';
import { Topology } from './topology';

describe('messaging on the real broker and database', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let app: NestFastifyApplication;
  let dataSource: DataSource;

  const effects = (key: string): Promise<number> => probeEffects(dataSource, key);

  const publishViaOutbox = async (data: ProbeData): Promise<EventEnvelope<ProbeData>> =>
    dataSource.transaction((tx) => app.get(OutboxService).enqueue(tx, ProbeEvent, { data }));

  beforeAll(async () => {
    db = await createTestDatabase();
    env = testEnv(db.url, { MESSAGE_MAX_ATTEMPTS: '3', MESSAGE_RETRY_BASE_DELAY_MS: '50' });
    app = await startProbeApp(env);
    dataSource = app.get(DataSource);
    await dataSource.query(`CREATE TABLE public.probe_effects (key text NOT NULL, message_id uuid NOT NULL)`);
    await expectEventually(() => expect(app.get(AmqpConnection).isConnected()).toBe(true));
  });

  afterAll(async () => {
    const amqp = app.get(AmqpConnection);
    const topology = app.get(Topology);
    await expectEventually(() => expect(amqp.isConnected()).toBe(true));
    const channel = await amqp.channel();
    await destroyTopology(channel, topology);
    await channel.close();
    await app.close();
    await db.drop();
  });

  it('relays an outbox row to its consumer, which applies it once, and moves the row to the history', async () => {
    const envelope = await publishViaOutbox({ key: 'relay-1' });
    await expectEventually(async () => expect(await effects('relay-1')).toBe(1));
    const pending = (await dataSource.query(`SELECT id FROM messaging.outbox WHERE id = $1`, [envelope.id])) as unknown[];
    expect(pending).toHaveLength(0);
    const logged = (await dataSource.query(
      `SELECT envelope, published_at FROM messaging.outbox_log WHERE id = $1`,
      [envelope.id],
    )) as Array<{ envelope: { id: string; type: string }; published_at: Date | null }>;
    expect(logged).toHaveLength(1);
    expect(logged[0].envelope).toMatchObject({ id: envelope.id, type: envelope.type });
    expect(logged[0].published_at).toBeInstanceOf(Date);
  });

  it('keeps a row in the outbox while the broker has not confirmed it', async () => {
    const relay = app.get(OutboxRelay);
    const id = randomUUID();
    // The fault: every publishing channel is closed before it can confirm (as a broker restart
    // mid-batch would), for this relay call and the app's own relay loop alike.
    const amqp = app.get(AmqpConnection);
    const original = amqp.confirmChannel.bind(amqp);
    const spy = jest.spyOn(amqp, 'confirmChannel').mockImplementation(async () => {
      const channel = await original();
      await channel.close();
      return channel;
    });
    try {
      await dataSource.query(
        `INSERT INTO messaging.outbox (id, type, routing_key, envelope) VALUES ($1, 'unconfirmed.probe', 'unconfirmed.probe', '{}'::jsonb)`,
        [id],
      );
      await expect(relay.publishBatch()).rejects.toThrow();
    } finally {
      spy.mockRestore();
    }
    const pending = (await dataSource.query(`SELECT id FROM messaging.outbox WHERE id = $1`, [id])) as unknown[];
    expect(pending).toHaveLength(1);
    const published = (await dataSource.query(`SELECT id FROM messaging.outbox_published WHERE id = $1`, [id])) as unknown[];
    expect(published).toHaveLength(0);
    await expectEventually(async () =>
      expect(await dataSource.query(`SELECT id FROM messaging.outbox WHERE id = $1`, [id])).toHaveLength(0),
    );
  });

  it('purges published rows past retention from the history, never recent ones', async () => {
    const seed = async (publishedAt: string): Promise<string> => {
      const id = randomUUID();
      await dataSource.query(
        `INSERT INTO messaging.outbox_published (seq, id, type, routing_key, envelope, created_at, published_at)
         VALUES (0, $1, 'retention.probe', 'retention.probe', '{}'::jsonb, now() - interval '30 days', $2::timestamptz)`,
        [id, publishedAt],
      );
      return id;
    };
    const old = await seed(new Date(Date.now() - 8 * 86_400_000).toISOString());
    const recent = await seed(new Date(Date.now() - 86_400_000).toISOString());
    expect(await app.get(OutboxRelay).purgePublished(7)).toBeGreaterThanOrEqual(1);
    const left = (await dataSource.query(`SELECT id FROM messaging.outbox_log WHERE id = ANY($1::uuid[])`, [
      [old, recent],
    ])) as Array<{ id: string }>;
    expect(left.map((r) => r.id)).toEqual([recent]);
  });

  it('applies a message delivered twice (and ten times at once) exactly once', async () => {
    const envelope = await publishViaOutbox({ key: 'dup-1' });
    await expectEventually(async () => expect(await effects('dup-1')).toBe(1));
    const channel = await app.get(AmqpConnection).confirmChannel();
    const queue = app.get(Topology).queue(SERVICE, ProbeEvent.type);
    for (let i = 0; i < 10; i++) {
      channel.sendToQueue(queue, Buffer.from(JSON.stringify(envelope)), {
        messageId: envelope.id,
        persistent: true,
      });
    }
    await channel.waitForConfirms();
    await expectEventually(() => expect(behaviour.get('dup-1')?.attempts).toBe(11));
    expect(await effects('dup-1')).toBe(1);
  });

  it('redelivers a message whose consumer died after commit and before ack, with no second effect', async () => {
    behaviour.set('crash-1', { crashAfterCommit: true, attempts: 0 });
    await publishViaOutbox({ key: 'crash-1' });
    await expectEventually(() => expect(behaviour.get('crash-1')?.attempts).toBeGreaterThanOrEqual(2), {
      timeoutMs: 20000,
    });
    expect(await effects('crash-1')).toBe(1);
    const inbox = (await dataSource.query(
      `SELECT count(*)::int AS n FROM messaging.inbox WHERE consumer = $1`,
      [SERVICE],
    )) as Array<{
      n: number;
    }>;
    expect(inbox[0].n).toBeGreaterThanOrEqual(1);
  });

  it('retries a failing message with backoff and applies it once it succeeds', async () => {
    await publishViaOutbox({ key: 'flaky-1', failTimes: 2 });
    await expectEventually(async () => expect(await effects('flaky-1')).toBe(1));
    expect(behaviour.get('flaky-1')?.attempts).toBe(3);
  });

  it('dead-letters a poison message after the attempt limit, visible in the store and the DLQ', async () => {
    const envelope = await publishViaOutbox({ key: 'poison-1', failTimes: 99 });
    const deadLetters = app.get(DeadLetterService);
    const letter = await expectEventually(async () => {
      const page = await deadLetters.list(100);
      const found = page.items.find((item) => item.messageId === envelope.id);
      expect(found).toBeDefined();
      return found!;
    });
    expect(letter.attempts).toBe(3);
    expect(letter.lastError).toContain('probe failure 3');
    expect(behaviour.get('poison-1')?.attempts).toBe(3);
    expect(await effects('poison-1')).toBe(0);
    // The store row is written just before the confirmed publish to the DLQ: poll for the queue too.
    const channel = await app.get(AmqpConnection).channel();
    const dlqName = app.get(Topology).deadLetterQueue(app.get(Topology).queue(SERVICE, ProbeEvent.type));
    await expectEventually(async () =>
      expect((await channel.checkQueue(dlqName)).messageCount).toBeGreaterThanOrEqual(1),
    );
    await channel.close();

    // Replaying after the cause is fixed applies it once.
    behaviour.set('poison-1', { attempts: 100 });
    await deadLetters.replay(letter.id);
    await expectEventually(async () => expect(await effects('poison-1')).toBe(1));
  });

  it('dead-letters malformed and unknown messages at once, without calling the handler', async () => {
    const channel = await app.get(AmqpConnection).confirmChannel();
    const queue = app.get(Topology).queue(SERVICE, ProbeEvent.type);
    const badId = randomUUID();
    channel.sendToQueue(queue, Buffer.from('{not json'), { persistent: true });
    channel.sendToQueue(
      queue,
      Buffer.from(
        JSON.stringify({
          id: badId,
          type: ProbeEvent.type,
          version: 1,
          occurredAt: new Date().toISOString(),
          correlationId: 'c',
          causationId: null,
          tenantId: null,
          data: { key: 42, extra: true },
        }),
      ),
      { persistent: true },
    );
    await channel.waitForConfirms();
    await expectEventually(async () => {
      const page = await app.get(DeadLetterService).list(100);
      expect(page.items.some((i) => i.lastError === 'malformed JSON')).toBe(true);
      const invalid = page.items.find((i) => i.messageId === badId);
      expect(invalid?.attempts).toBe(1);
      expect(invalid?.lastError).toMatch(/data\.key/);
      expect(invalid?.lastError).toMatch(/data\.extra/);
    });
    // Three dead letters from one queue within 15 minutes: on-call sees an L1 incident.
    await expectEventually(async () => {
      const incidents = (await dataSource.query(
        `SELECT level, count FROM ops.incidents WHERE code = 'message_dead_lettered' AND place = $1 AND status = 'open'`,
        [`consumer:${SERVICE}.${ProbeEvent.type}`],
      )) as Array<{ level: string; count: number }>;
      expect(incidents).toHaveLength(1);
      expect(incidents[0].count).toBeGreaterThanOrEqual(3);
      expect(incidents[0].level).toBe('L1');
    });
  });
});
