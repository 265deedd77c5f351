import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { MIGRATIONS } from './migrations';

export interface MigrateResult {
  applied: string[];
}

/** Creates the database if it is missing (local development; production databases exist). */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    return true;
  } finally {
    await client.end();
  }
}

/**
 * Applies pending migrations, each in its own transaction, under an advisory lock so two
 * deploys (or a deploy and a running CI job) never migrate at once. Safe while services run:
 * migrations only add (expand/contract), never drop what running code still uses.
 */
export async function migrate(databaseUrl: string): Promise<MigrateResult> {
  const dataSource = new DataSource({
    type: 'postgres',
    url: databaseUrl,
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    migrationsTransactionMode: 'each',
    logging: false,
  });
  await dataSource.initialize();
  const lock = dataSource.createQueryRunner();
  await lock.connect();
  try {
    await lock.query(`SELECT pg_advisory_lock(7231000001)`);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return { applied: applied.map((m) => m.name) };
  } finally {
    await lock.query(`SELECT pg_advisory_unlock(7231000001)`).catch(() => undefined);
    await lock.release();
    await dataSource.destroy();
  }
}
