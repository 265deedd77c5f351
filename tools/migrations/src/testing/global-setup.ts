import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'amqplib';
import { createHash } from 'node:crypto';
import { Client } from 'pg';
import { migrate } from '../migrate';

const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const AMQP_URL = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

function databaseUrl(name: string): string {
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withAdminClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: ADMIN_DATABASE_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The migrated template every suite clones; its name changes whenever a migration does. */
function templateName(migrationSources: string[]): string {
  const hash = createHash('sha256');
  for (const source of migrationSources) hash.update(source);
  return `realapp_tpl_${hash.digest('hex').slice(0, 12)}`;
}

/**
 * Runs once per jest run: checks that the real PostgreSQL and RabbitMQ answer, and builds the
 * migrated template database that every integration suite clones.
 */
export default async function globalSetup(): Promise<void> {
  const dir = join(__dirname, '../migrations');
  const sources = readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .sort()
    .map((f) => f + readFileSync(join(dir, f), 'utf8'));
  const template = templateName(sources);
  process.env.REALAPP_TEST_TEMPLATE = template;

  const amqp = await connect(AMQP_URL, { timeout: 10000 }).catch((error: unknown) => {
    throw new Error(`RabbitMQ is not answering at ${AMQP_URL}: ${String(error)}`);
  });
  await amqp.close();

  await withAdminClient(async (client) => {
    // Several jest processes (nx run-many) may start at once: one builds, the others wait.
    await client.query('SELECT pg_advisory_lock(7231000002)');
    try {
      const exists = await client.query(`SELECT 1 FROM pg_database WHERE datname = $1 AND NOT datallowconn = false`, [template]);
      const ready = exists.rowCount
        ? await client.query(`SELECT 1 FROM pg_shdescription d JOIN pg_database db ON db.oid = d.objoid WHERE db.datname = $1 AND d.description = 'ready'`, [template])
        : { rowCount: 0 };
      if (!ready.rowCount) {
        await client.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
        await client.query(`CREATE DATABASE ${template}`);
        await migrate(databaseUrl(template));
        await client.query(`COMMENT ON DATABASE ${template} IS 'ready'`);
      }
      // Old templates from earlier migration sets are dropped, as are suites' leftovers from killed runs.
      const stale = await client.query(
        `SELECT datname FROM pg_database WHERE (datname LIKE 'realapp_tpl_%' AND datname <> $1)`,
        [template],
      );
      for (const row of stale.rows as Array<{ datname: string }>) {
        await client.query(`DROP DATABASE IF EXISTS ${row.datname} WITH (FORCE)`).catch(() => undefined);
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock(7231000002)');
    }
  });
}
