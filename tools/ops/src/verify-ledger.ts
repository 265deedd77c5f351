import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { LedgerService, LedgerVerification } from '@realapp/ledger';

/**
 * `node dist/tools/ops/src/verify-ledger.js`: recomputes every wallet of DATABASE_URL from its
 * entries and checks every hash chain, with the ledger's own code (the same check as
 * `GET /v1/ops/ledger/verify`, without a running service). Prints one JSON line; exits 0 when the
 * ledger verifies, 1 when it does not, 2 when it could not check.
 */
export async function verifyLedger(
  databaseUrl: string,
): Promise<LedgerVerification & { counts: Record<string, number> }> {
  const dataSource = new DataSource({
    type: 'postgres',
    url: databaseUrl,
    logging: false,
    applicationName: 'verify-ledger',
  });
  await dataSource.initialize();
  try {
    const result = await new LedgerService(dataSource).verifyAll();
    const [counts] = (await dataSource.query(
      `SELECT (SELECT count(*) FROM ledger.wallets)::int AS wallets,
              (SELECT count(*) FROM ledger.entries)::int AS entries,
              (SELECT count(*) FROM billing.topups)::int AS topups,
              (SELECT count(*) FROM billing.subscriptions)::int AS subscriptions,
              (SELECT count(*) FROM messaging.outbox)::int AS outbox,
              (SELECT count(*) FROM messaging.inbox)::int AS inbox`,
    )) as Array<Record<string, number>>;
    return { ...result, counts };
  } finally {
    await dataSource.destroy();
  }
}

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    console.error(
      JSON.stringify({ level: 'error', service: 'verify-ledger', msg: 'DATABASE_URL is not set' }),
    );
    process.exit(2);
  }
  try {
    const result = await verifyLedger(databaseUrl);
    console.log(
      JSON.stringify({
        level: result.ok ? 'info' : 'error',
        service: 'verify-ledger',
        msg: result.ok ? 'ledger verified' : 'ledger does not verify',
        ...result,
      }),
    );
    process.exit(result.ok ? 0 : 1);
  } catch (error) {
    console.error(
      JSON.stringify({
        level: 'error',
        service: 'verify-ledger',
        msg: 'could not verify the ledger',
        err: String(error),
      }),
    );
    process.exit(2);
  }
}

if (require.main === module) void main();
