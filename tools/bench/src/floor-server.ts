import { connect } from 'amqplib';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Pool } from 'pg';
import { serveBodies } from './bare-server';

/*
 * The benchmark's second yardstick: the least a webhook endpoint must do to meet issue 4's contract,
 * written as bare as the one-INSERT baseline (node:http, node-pg, amqplib; no framework). Per
 * request: an HMAC-SHA256 over the body compared in constant time, the body parsed, and the event
 * (unique by the provider's id, so a retry inserts and publishes nothing) and its outbox row
 * committed in one statement before the 200, concurrent requests grouped into one statement as the
 * gateway groups them. Then, as the platform's relay does,
 * the committed rows are published to a durable quorum queue with publisher confirms and deleted
 * from the outbox once confirmed (straight from memory: the floor does not even read them back).
 *
 * The gateway does all of this and more (routing, the provider's signature manifest, headers kept,
 * rate limits, metrics, the problem+json contract), so its rate over the baseline's can be read
 * against this one's: what the contract costs on this machine, and what the implementation adds.
 */
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/realapp_bench';
const amqpUrl = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const queue = process.env.FLOOR_QUEUE ?? 'bench.floor';
const port = Number(process.env.PORT ?? 3191);
const pool = new Pool({ connectionString: databaseUrl, max: Number(process.env.DATABASE_POOL_SIZE ?? 10) });
const SECRET = 'floor-secret';
const RELAY_BATCH = 200;

const MAX_IN_FLIGHT = 2;
const MAX_GROUP = 200;

interface Committed {
  seq: string;
  envelope: string;
}

interface Pending {
  providerEventId: string;
  body: Buffer;
  envelope: string;
  resolve: (status: number) => void;
  reject: (error: unknown) => void;
}

async function main(): Promise<void> {
  const connection = await connect(amqpUrl);
  const channel = await connection.createConfirmChannel();
  await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await channel.purgeQueue(queue);

  const committed: Committed[] = [];
  let relaying = false;
  const relay = async (): Promise<void> => {
    if (relaying) return;
    relaying = true;
    try {
      while (committed.length > 0) {
        const batch = committed.splice(0, RELAY_BATCH);
        for (const row of batch) channel.publish('', queue, Buffer.from(row.envelope), { persistent: true });
        await channel.waitForConfirms();
        await pool.query({
          name: 'floor_outbox_delete',
          text: 'DELETE FROM bench.floor_outbox WHERE seq = ANY($1::bigint[])',
          values: [batch.map((row) => row.seq)],
        });
      }
    } finally {
      relaying = false;
    }
  };

  // Grouped as the gateway groups (WebhookEventStore): while MAX_IN_FLIGHT writes run, new events
  // wait and the next write takes them all, so a statement and its commit serve many requests.
  const pending: Pending[] = [];
  let inFlight = 0;
  let sequence = 0;
  const write = async (group: Pending[]): Promise<void> => {
    try {
      const result = await pool.query<{ seq: string; envelope: string }>({
        name: 'floor_insert',
        text: `WITH input AS MATERIALIZED (
                 SELECT nextval('bench.floor_events_id_seq') AS id, provider_event_id, body, envelope
                 FROM unnest($1::text[], $2::bytea[], $3::text[]) AS t(provider_event_id, body, envelope)
               ), e AS (
                 INSERT INTO bench.floor_events (id, provider_event_id, body)
                 SELECT id, provider_event_id, body FROM input
                 ON CONFLICT (provider_event_id) DO NOTHING RETURNING id
               )
               INSERT INTO bench.floor_outbox (event_id, envelope)
               SELECT i.id, i.envelope::jsonb FROM input i JOIN e ON e.id = i.id RETURNING seq, envelope::text`,
        values: [group.map((p) => p.providerEventId), group.map((p) => p.body), group.map((p) => p.envelope)],
      });
      for (const p of group) p.resolve(200);
      // Relayed after the answers, as the platform's relay does.
      setImmediate(() => {
        committed.push(...result.rows);
        void relay().catch((error: unknown) => process.stderr.write(`relay failed: ${String(error)}\n`));
      });
    } catch (error) {
      for (const p of group) p.reject(error);
    }
  };
  const drain = (): void => {
    while (inFlight < MAX_IN_FLIGHT && pending.length > 0) {
      inFlight++;
      void write(pending.splice(0, MAX_GROUP)).finally(() => {
        inFlight--;
        drain();
      });
    }
  };

  const server = serveBodies('floor', port, (body) => {
    // The bench's bodies carry Mercado Pago's signature over a manifest, not over the body; one
    // HMAC and a constant-time compare cost the same either way.
    const digest = createHmac('sha256', SECRET).update(body).digest();
    let providerEventId: string;
    try {
      if (!timingSafeEqual(digest, Buffer.from(digest))) throw new Error('signature');
      const parsed = JSON.parse(body.toString('utf8')) as { id?: unknown };
      // The bench cycles through its events: the sequence keeps a repeat a new event, so the floor
      // pays for every insert and publish as the baseline does, not for a cheap duplicate.
      providerEventId = `${String(parsed.id)}:${sequence++}`;
    } catch {
      return Promise.resolve(400);
    }
    const envelope = `{"type":"webhook.mercadopago.received","data":{"payload":${body.toString('utf8')}}}`;
    return new Promise<number>((resolve, reject) => {
      pending.push({ providerEventId, body, envelope, resolve, reject });
      drain();
    });
  });

  const stop = (): void => {
    server.close(() => {
      void (async () => {
        await channel.deleteQueue(queue).catch(() => undefined);
        await connection.close().catch(() => undefined);
        await pool.end();
        process.exit(0);
      })();
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`floor server failed to start: ${String(error)}\n`);
  process.exit(1);
});
