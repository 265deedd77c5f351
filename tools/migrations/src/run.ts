import { ensureDatabase, migrate } from './migrate';

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/realapp';
  const created = await ensureDatabase(databaseUrl);
  const { applied } = await migrate(databaseUrl);
  console.log(
    JSON.stringify({
      level: 'info',
      time: new Date().toISOString(),
      service: 'migrations',
      msg: applied.length ? `applied ${applied.length} migration(s)` : 'database is up to date',
      databaseCreated: created,
      applied,
    }),
  );
}

main().catch((error: unknown) => {
  console.error(JSON.stringify({ level: 'error', service: 'migrations', msg: 'migration failed', err: String(error) }));
  process.exit(1);
});
