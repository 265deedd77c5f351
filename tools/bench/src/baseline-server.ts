import { Pool } from 'pg';
import { serveBodies } from './bare-server';

/*
 * The benchmark's yardstick: the least a webhook endpoint can do durably on this machine. A bare
 * node:http server that reads the body and commits one INSERT into the same PostgreSQL before
 * answering 200; no framework, no signature, no outbox. Started by the benchmark as its own process.
 */
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/realapp_bench';
const port = Number(process.env.PORT ?? 3190);
const pool = new Pool({ connectionString: databaseUrl, max: Number(process.env.DATABASE_POOL_SIZE ?? 10) });

const server = serveBodies('baseline', port, async (body) => {
  await pool.query({
    name: 'baseline_insert',
    text: 'INSERT INTO bench.baseline_webhooks (body) VALUES ($1)',
    values: [body],
  });
  return 200;
});

const stop = (): void => {
  server.close(() => void pool.end().then(() => process.exit(0)));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
