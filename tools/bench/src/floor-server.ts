import { connect } from 'amqplib';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Pool } from 'pg';
import { serveBodies } from './bare-server';

/*
 * The benchmark's second yardstick: the least a webhook endpoint must do to meet issue 4's contract,
 * written as bare as the one-INSERT baseline (node:http, node-pg, amqplib; no framework). Per
 * request: an HMAC-SHA256 over the body compared in constant time, the body parsed, and the event
 * and its outbox row committed in one statement before the 200. Then, as the platform's relay does,
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

interface Committed {
  seq: string;
  envelope: string;
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

  const server = serveBodies('floor', port, async (body) => {
    // The bench's bodies carry Mercado Pago's signature over a manifest, not over the body; one
    // HMAC and a constant-time compare cost the same either way.
    const digest = createHmac('sha256', SECRET).update(body).digest();
    let parsed: unknown;
    try {
      if (!timingSafeEqual(digest, Buffer.from(digest))) throw new Error('signature');
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return 400;
    }
    const envelope = JSON.stringify({ type: 'webhook.mercadopago.received', data: { payload: parsed } });
    const result = await pool.query<{ seq: string }>({
      name: 'floor_insert',
      text: `WITH e AS (INSERT INTO bench.floor_events (body) VALUES ($1) RETURNING id)
             INSERT INTO bench.floor_outbox (event_id, envelope) SELECT id, $2::jsonb FROM e RETURNING seq`,
      values: [body, envelope],
    });
    // Relayed after the answer, as the platform's relay does.
    setImmediate(() => {
      committed.push({ seq: result.rows[0].seq, envelope });
      void relay().catch((error: unknown) => process.stderr.write(`relay failed: ${String(error)}\n`));
    });
    return 200;
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
