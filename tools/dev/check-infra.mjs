// Exits 0 when PostgreSQL answers a query and RabbitMQ completes an AMQP handshake (a listening
// port is not enough: a wedged broker accepts TCP and never answers), 1 otherwise.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { connect } = require('amqplib');
const { Client } = require('pg');

const amqpUrl = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const databaseUrl = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const within = (promise, ms, what) =>
  Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms))]);

let ok = true;
try {
  const connection = await within(connect(amqpUrl, { timeout: 8000 }), 10000, 'RabbitMQ');
  await connection.close();
  console.log('RabbitMQ: AMQP handshake ok');
} catch (error) {
  ok = false;
  console.log(`RabbitMQ: ${error.message}`);
}
try {
  const client = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 8000 });
  await within(client.connect(), 10000, 'PostgreSQL');
  await client.query('SELECT 1');
  await client.end();
  console.log('PostgreSQL: ok');
} catch (error) {
  ok = false;
  console.log(`PostgreSQL: ${error.message}`);
}
process.exit(ok ? 0 : 1);
