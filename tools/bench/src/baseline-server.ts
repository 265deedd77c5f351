import { createServer } from 'node:http';
import { Pool } from 'pg';

/*
 * The benchmark's yardstick: the least a webhook endpoint can do durably on this machine. A bare
 * node:http server that reads the body and commits one INSERT into the same PostgreSQL before
 * answering 200; no framework, no signature, no outbox. Started by the benchmark as its own process.
 */
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/realapp_bench';
const port = Number(process.env.PORT ?? 3190);
const pool = new Pool({ connectionString: databaseUrl, max: Number(process.env.DATABASE_POOL_SIZE ?? 10) });

const server = createServer((request, response) => {
  if (request.method === 'GET') {
    response.writeHead(200);
    response.end();
    return;
  }
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    pool
      .query({
        name: 'baseline_insert',
        text: 'INSERT INTO bench.baseline_webhooks (body) VALUES ($1)',
        values: [Buffer.concat(chunks)],
      })
      .then(
        () => {
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end('{"received":true}');
        },
        () => {
          response.writeHead(503);
          response.end();
        },
      );
  });
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ msg: 'baseline listening', url: `http://127.0.0.1:${port}` })}\n`);
});

const stop = (): void => {
  server.close(() => void pool.end().then(() => process.exit(0)));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
