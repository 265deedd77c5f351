import { createServer } from 'node:http';
import { Pool } from 'pg';

/*
 * The yardstick for the app's own endpoints: the least each can do on this machine. A bare
 * node:http server on the same PostgreSQL, no framework, no token check, no validation:
 *   GET  /wallet?tenant=<uuid>  → one SELECT of the wallet row by tenant id (the wallet read)
 *   POST /orders                → one committed INSERT of the body (the least a durable create does)
 * Started by `npm run bench -- app` as its own process.
 */
const pool = new Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.DATABASE_POOL_SIZE ?? 10),
});
// A connection the server drops (a restart) fails the requests on it; the pool opens a new one.
pool.on('error', () => undefined);
const port = Number(process.env.PORT ?? 3191);
const UUID = /^[0-9a-f-]{36}$/;

const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://x');
  const fail = (): void => {
    response.writeHead(503);
    response.end();
  };
  if (request.method === 'GET' && url.pathname === '/wallet') {
    const tenant = url.searchParams.get('tenant') ?? '';
    if (!UUID.test(tenant)) {
      response.writeHead(400);
      response.end();
      return;
    }
    pool
      .query({
        name: 'baseline_wallet',
        text: 'SELECT balance_cents, held_cents, currency, updated_at FROM ledger.wallets WHERE tenant_id = $1',
        values: [tenant],
      })
      .then((result) => {
        const row = result.rows[0] as
          { balance_cents: string; held_cents: string; currency: string; updated_at: Date } | undefined;
        response.writeHead(row ? 200 : 404, { 'content-type': 'application/json' });
        response.end(JSON.stringify(row ?? {}));
      }, fail);
    return;
  }
  if (request.method === 'POST' && url.pathname === '/orders') {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      pool
        .query({
          name: 'baseline_order',
          text: 'INSERT INTO bench.baseline_orders (body) VALUES ($1) RETURNING id',
          values: [Buffer.concat(chunks)],
        })
        .then((result) => {
          response.writeHead(201, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ id: (result.rows[0] as { id: string }).id }));
        }, fail);
    });
    return;
  }
  response.writeHead(request.method === 'GET' ? 200 : 404);
  response.end();
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(
    `${JSON.stringify({ msg: 'app baseline listening', url: `http://127.0.0.1:${port}` })}\n`,
  );
});

const stop = (): void => {
  server.close(() => void pool.end().then(() => process.exit(0)));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
