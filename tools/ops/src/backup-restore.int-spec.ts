import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { LedgerService } from '@realapp/ledger';
import {
  ADMIN_DATABASE_URL,
  createTestDatabase,
  databaseUrl,
  TestDatabase,
  withAdminClient,
} from '@realapp/testing';

const ROOT = join(__dirname, '../../..');
const SCRIPTS = join(ROOT, 'tools/ops');
/** Compiling the repository and running pg_dump/pg_restore takes longer than jest's default 5 s. */
const SLOW_MS = 120_000;

function run(script: string, args: string[], env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync('bash', [join(SCRIPTS, script), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: SLOW_MS,
  });
}

function jsonLine(output: string): Record<string, unknown> {
  const line = output
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (!line) throw new Error(`no JSON line in: ${output}`);
  return JSON.parse(line) as Record<string, unknown>;
}

async function connect(url: string): Promise<DataSource> {
  const dataSource = new DataSource({ type: 'postgres', url, logging: false });
  await dataSource.initialize();
  return dataSource;
}

describe('backup → restore → verify (tools/ops)', () => {
  let source: TestDatabase;
  let db: DataSource;
  let work: string;
  let dist: string;
  const restored: string[] = [];

  const counts = async (ds: DataSource): Promise<Record<string, number>> =>
    (
      (await ds.query(
        `SELECT (SELECT count(*) FROM ledger.wallets)::int AS wallets, (SELECT count(*) FROM ledger.entries)::int AS entries,
              (SELECT count(*) FROM billing.topups)::int AS topups, (SELECT count(*) FROM messaging.outbox)::int AS outbox,
              (SELECT count(*) FROM messaging.inbox)::int AS inbox, (SELECT count(*) FROM auth.tenants)::int AS tenants,
              (SELECT count(*) FROM ops.audit_log)::int AS audit, (SELECT count(*) FROM public.schema_migrations)::int AS migrations`,
      )) as Array<Record<string, number>>
    )[0];

  const backup = (name: string): { file: string; result: SpawnSyncReturns<string> } => {
    const file = join(work, `${name}.dump`);
    return { file, result: run('backup.sh', ['--database-url', source.url, '--out', file]) };
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'realapp-backup-'));
    // The verifier runs compiled, as in the image. It is compiled into a private directory so the shared
    // dist/ is untouched, inside the repository so that node_modules resolves.
    mkdirSync(join(ROOT, 'tmp'), { recursive: true });
    dist = mkdtempSync(join(ROOT, 'tmp', 'ops-dist-'));
    const swc = spawnSync(
      join(ROOT, 'node_modules/.bin/swc'),
      ['apps', 'libs', 'tools', '-d', dist, '--config-file', '.swcrc', '--quiet'],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    if (swc.status !== 0) throw new Error(`swc failed: ${swc.stderr}`);

    source = await createTestDatabase();
    db = await connect(source.url);
    const ledger = new LedgerService(db);
    for (let t = 0; t < 3; t++) {
      const tenantId = randomUUID();
      await db.transaction(async (tx) => {
        await ledger.credit(tx, {
          tenantId,
          kind: 'topup',
          amountCents: 10_000,
          reference: `test:${tenantId}:topup`,
        });
        await ledger.hold(tx, { tenantId, amountCents: 3_000, reference: `test:${tenantId}:hold` });
        await ledger.spend(tx, { tenantId, amountCents: 1_000, reference: `test:${tenantId}:spend` });
        await ledger.debit(tx, {
          tenantId,
          kind: 'adjustment',
          amountCents: 500,
          reference: `test:${tenantId}:adj`,
        });
      });
      await db.query(
        `INSERT INTO billing.topups (id, tenant_id, provider, status, amount_cents, provider_payment_id) VALUES ($1, $2, 'mercadopago', 'approved', 10000, $3)`,
        [randomUUID(), tenantId, `mp-${tenantId}`],
      );
    }
    await db.query(
      `INSERT INTO messaging.outbox (id, type, routing_key, envelope) VALUES ($1, 't', 't', '{}'::jsonb)`,
      [randomUUID()],
    );
    await db.query(`INSERT INTO messaging.inbox (consumer, message_id) VALUES ('codex-worker', $1)`, [
      randomUUID(),
    ]);
    // Not money: the backup keeps these tables' definitions but not their rows.
    await db.query(`INSERT INTO auth.tenants (name) VALUES ('not in the money backup')`);
    await db.query(
      `INSERT INTO ops.audit_log (actor, action, correlation_id) VALUES ('ops-key:x', 'test', 'c')`,
    );
  }, SLOW_MS);

  afterAll(async () => {
    await db?.destroy();
    await source?.drop();
    for (const name of restored)
      await withAdminClient((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    rmSync(work, { recursive: true, force: true });
    rmSync(dist, { recursive: true, force: true });
  }, SLOW_MS);

  it(
    'backs up the money tables, restores them into a new database that verifies, and leaves other data out',
    async () => {
      const { file, result } = backup('full');
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      const summary = jsonLine(result.stdout);
      expect(summary).toMatchObject({
        msg: 'backup written',
        file,
        countsAtEnd: { wallets: 3, entries: 12, topups: 3, outbox: 1, inbox: 1 },
      });
      expect(String(summary.database)).not.toContain('@127.0.0.1:5432/postgres?');
      expect(readFileSync(`${file}.sha256`, 'utf8')).toMatch(/^[0-9a-f]{64} {2}full\.dump\n$/);

      const verified = run('verify-restore.sh', ['--file', file, '--admin-url', ADMIN_DATABASE_URL], {
        REALAPP_DIST: dist,
      });
      expect(verified.status).toBe(0);
      const ledgerLine = verified.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.service === 'verify-ledger');
      expect(ledgerLine).toMatchObject({
        ok: true,
        wallets: 3,
        mismatches: [],
        brokenChains: [],
        counts: { entries: 12, topups: 3, inbox: 1 },
      });
      expect(jsonLine(verified.stdout)).toMatchObject({ msg: 'backup restores and the ledger verifies' });
      // The scratch database is gone.
      const scratch = await withAdminClient((c) =>
        c.query(`SELECT datname FROM pg_database WHERE datname LIKE 'realapp_restore_check_%'`),
      );
      expect(scratch.rows).toEqual([]);

      const target = `realapp_restored_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
      restored.push(target);
      const restore = run('restore.sh', ['--file', file, '--database-url', databaseUrl(target), '--create']);
      expect(restore.stderr).toBe('');
      expect(restore.status).toBe(0);
      const copy = await connect(databaseUrl(target));
      try {
        expect(await counts(copy)).toEqual({ ...(await counts(db)), tenants: 0, audit: 0 });
        expect((await counts(copy)).migrations).toBeGreaterThan(0);
        // The restored ledger is still append-only.
        await expect(copy.query(`DELETE FROM ledger.entries`)).rejects.toThrow(/append-only/);
      } finally {
        await copy.destroy();
      }
    },
    SLOW_MS,
  );

  it(
    'refuses to restore over a database that has a ledger, and changes nothing there',
    async () => {
      const { file } = backup('refused');
      const before = await counts(db);
      const restore = run('restore.sh', ['--file', file, '--database-url', source.url]);
      expect(restore.status).toBe(73);
      expect(restore.stderr).toContain('already has a ledger schema');
      expect(await counts(db)).toEqual(before);
    },
    SLOW_MS,
  );

  it(
    'refuses a damaged backup file',
    () => {
      const { file } = backup('damaged');
      const bytes = readFileSync(file);
      writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
      const verified = run('verify-restore.sh', ['--file', file, '--admin-url', ADMIN_DATABASE_URL], {
        REALAPP_DIST: dist,
      });
      expect(verified.status).not.toBe(0);
      expect(verified.stderr).toContain('does not match its .sha256');
    },
    SLOW_MS,
  );

  it(
    'fails verification when the backed-up ledger was tampered with',
    async () => {
      const [victim] = (await db.query(
        `SELECT id FROM ledger.entries WHERE kind = 'topup' LIMIT 1`,
      )) as Array<{ id: string }>;
      // Only a superuser can do this, by switching the append-only trigger off: exactly what verification must catch.
      await db.query(`ALTER TABLE ledger.entries DISABLE TRIGGER entries_append_only`);
      try {
        await db.query(`UPDATE ledger.entries SET amount_cents = amount_cents + 100 WHERE id = $1`, [
          victim.id,
        ]);
      } finally {
        await db.query(`ALTER TABLE ledger.entries ENABLE TRIGGER entries_append_only`);
      }
      const { file } = backup('tampered');
      const verified = run('verify-restore.sh', ['--file', file, '--admin-url', ADMIN_DATABASE_URL], {
        REALAPP_DIST: dist,
      });
      expect(verified.status).toBe(1);
      const ledgerLine = JSON.parse(verified.stdout.trim().split('\n')[0]) as {
        ok: boolean;
        brokenChains: Array<{ reason: string }>;
      };
      expect(ledgerLine.ok).toBe(false);
      expect(ledgerLine.brokenChains.map((b) => b.reason)).toContain('hash_mismatch');
      expect(verified.stderr).toContain('the restored ledger does not verify');
    },
    SLOW_MS,
  );

  it('explains its arguments', () => {
    const missing = run('restore.sh', []);
    expect(missing.status).toBe(64);
    expect(missing.stderr).toContain('--file and --database-url are required');
    expect(run('backup.sh', ['--help']).stdout).toContain('Backs up the money tables');
  });
});
