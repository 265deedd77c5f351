import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { createTestDatabase, TestDatabase } from '@realapp/testing';
import { isLedgerError, LedgerError } from './ledger.errors';
import { LedgerService } from './ledger.service';
import { LedgerPosting } from './ledger.types';

async function openDataSource(url: string): Promise<DataSource> {
  const dataSource = new DataSource({ type: 'postgres', url, extra: { max: 30 } });
  return dataSource.initialize();
}

describe('LedgerService on the real database', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let ledger: LedgerService;

  const inTx = <T>(fn: (tx: EntityManager) => Promise<T>): Promise<T> => dataSource.transaction(fn);

  /** A tenant whose wallet already holds `balanceCents` (builder: each test makes its own tenant). */
  async function aFundedWallet(balanceCents = 10_000): Promise<string> {
    const tenantId = randomUUID();
    await inTx((tx) =>
      ledger.credit(tx, {
        tenantId,
        kind: 'topup',
        amountCents: balanceCents,
        reference: `seed:${tenantId}`,
      }),
    );
    return tenantId;
  }

  async function sums(tenantId: string): Promise<{ balance: number; held: number; count: number }> {
    const [row] = (await dataSource.query(
      `SELECT coalesce(sum(amount_cents), 0)::int AS balance, coalesce(sum(held_delta_cents), 0)::int AS held, count(*)::int AS count
       FROM ledger.entries WHERE tenant_id = $1`,
      [tenantId],
    )) as Array<{ balance: number; held: number; count: number }>;
    return row;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await openDataSource(db.url);
    ledger = new LedgerService(dataSource);
  });

  afterAll(async () => {
    await dataSource.destroy();
    await db.drop();
  });

  describe('postings', () => {
    it('credits a new tenant, creating the wallet, and chains the first entry to the genesis hash', async () => {
      const tenantId = randomUUID();
      const { entry, applied } = await inTx((tx) =>
        ledger.credit(tx, {
          tenantId,
          kind: 'topup',
          amountCents: 3000,
          reference: `t:${tenantId}:1`,
          metadata: { topupId: 'x' },
        }),
      );
      expect(applied).toBe(true);
      expect(entry).toMatchObject({
        seq: 1,
        kind: 'topup',
        amountCents: 3000,
        heldDeltaCents: 0,
        balanceAfterCents: 3000,
        heldAfterCents: 0,
      });
      expect(entry.prevHash).toBe('0'.repeat(64));
      const wallet = await ledger.getWallet(tenantId);
      expect(wallet).toMatchObject({
        balanceCents: 3000,
        heldCents: 0,
        availableCents: 3000,
        currency: 'BRL',
      });
      expect(wallet.updatedAt).toEqual(entry.createdAt);
    });

    it('answers zeros for a tenant that never had an entry, without creating a wallet', async () => {
      const tenantId = randomUUID();
      expect(await ledger.getWallet(tenantId)).toEqual({
        tenantId,
        balanceCents: 0,
        heldCents: 0,
        availableCents: 0,
        currency: 'BRL',
        updatedAt: null,
      });
      expect(await inTx((tx) => ledger.availableCents(tx, tenantId))).toBe(0);
      const rows = (await dataSource.query(`SELECT 1 FROM ledger.wallets WHERE tenant_id = $1`, [
        tenantId,
      ])) as unknown[];
      expect(rows).toHaveLength(0);
    });

    it('holds without moving the balance, spends from the hold, releases the rest', async () => {
      const tenantId = await aFundedWallet(10_000);
      await inTx((tx) =>
        ledger.hold(tx, { tenantId, amountCents: 4000, reference: `order:${tenantId}:hold` }),
      );
      expect(await ledger.getWallet(tenantId)).toMatchObject({
        balanceCents: 10_000,
        heldCents: 4000,
        availableCents: 6000,
      });
      const spent = await inTx((tx) =>
        ledger.spend(tx, { tenantId, amountCents: 1500, reference: `order:${tenantId}:spend:1` }),
      );
      expect(spent.entry).toMatchObject({
        kind: 'spend',
        amountCents: -1500,
        heldDeltaCents: -1500,
        balanceAfterCents: 8500,
        heldAfterCents: 2500,
      });
      expect(await ledger.getWallet(tenantId)).toMatchObject({
        balanceCents: 8500,
        heldCents: 2500,
        availableCents: 6000,
      });
      const released = await inTx((tx) =>
        ledger.releaseHold(tx, { tenantId, amountCents: 2500, reference: `order:${tenantId}:release` }),
      );
      expect(released.entry).toMatchObject({
        kind: 'hold_release',
        amountCents: 0,
        heldDeltaCents: -2500,
        balanceAfterCents: 8500,
        heldAfterCents: 0,
      });
      expect(await ledger.getWallet(tenantId)).toMatchObject({
        balanceCents: 8500,
        heldCents: 0,
        availableCents: 8500,
      });
      expect(await sums(tenantId)).toEqual({ balance: 8500, held: 0, count: 4 });
    });

    it('refuses a hold above the available amount with insufficient_balance and writes nothing', async () => {
      const tenantId = await aFundedWallet(5000);
      await inTx((tx) => ledger.hold(tx, { tenantId, amountCents: 3000, reference: `h1:${tenantId}` }));
      const error = await inTx((tx) =>
        ledger.hold(tx, { tenantId, amountCents: 2001, reference: `h2:${tenantId}` }),
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LedgerError);
      expect(error).toMatchObject({ code: 'insufficient_balance', status: 422 });
      expect(await ledger.findByReference(`h2:${tenantId}`)).toBeNull();
      expect(await ledger.getWallet(tenantId)).toMatchObject({ balanceCents: 5000, heldCents: 3000 });
      // Exactly the available amount is fine.
      await inTx((tx) => ledger.hold(tx, { tenantId, amountCents: 2000, reference: `h3:${tenantId}` }));
      expect(await ledger.getWallet(tenantId)).toMatchObject({ availableCents: 0 });
    });

    it('refuses a hold for a tenant without a wallet, in a transaction that commits, without creating the wallet', async () => {
      const tenantId = randomUUID();
      // The order flow catches the refusal and commits the waiting order: nothing of the ledger's may stay.
      const refusal = await inTx(async (tx) =>
        ledger
          .hold(tx, { tenantId, amountCents: 1000, reference: `nowallet:${tenantId}` })
          .catch((e: unknown) => e),
      );
      expect(refusal).toMatchObject({
        code: 'insufficient_balance',
        status: 422,
        extra: { availableCents: 0, amountCents: 1000 },
      });
      expect(await ledger.getWallet(tenantId)).toMatchObject({ balanceCents: 0, updatedAt: null });
      const rows = (await dataSource.query(`SELECT 1 FROM ledger.wallets WHERE tenant_id = $1`, [
        tenantId,
      ])) as unknown[];
      expect(rows).toHaveLength(0);
      await expect(
        inTx((tx) =>
          ledger.releaseHold(tx, { tenantId, amountCents: 1, reference: `nowallet:${tenantId}:r` }),
        ),
      ).rejects.toMatchObject({ code: 'insufficient_held' });
      // The first posting that the empty wallet can take creates it.
      const credit = await inTx((tx) =>
        ledger.credit(tx, {
          tenantId,
          kind: 'topup',
          amountCents: 1000,
          reference: `nowallet:${tenantId}:c`,
        }),
      );
      expect(credit.entry).toMatchObject({ seq: 1, balanceAfterCents: 1000, prevHash: '0'.repeat(64) });
    });

    it('answers a repeated hold with its first entry even when the wallet could not take it again', async () => {
      const tenantId = await aFundedWallet(10_000);
      const reference = `again:${tenantId}`;
      const first = await inTx((tx) => ledger.hold(tx, { tenantId, amountCents: 7000, reference }));
      const again = await inTx((tx) => ledger.hold(tx, { tenantId, amountCents: 7000, reference }));
      expect(again).toEqual({ entry: first.entry, applied: false });
      await expect(
        inTx((tx) => ledger.hold(tx, { tenantId, amountCents: 6000, reference })),
      ).rejects.toMatchObject({ code: 'reference_conflict' });
      expect(await ledger.getWallet(tenantId)).toMatchObject({ balanceCents: 10_000, heldCents: 7000 });
    });

    it('refuses spending or releasing more than is held', async () => {
      const tenantId = await aFundedWallet(5000);
      await inTx((tx) => ledger.hold(tx, { tenantId, amountCents: 1000, reference: `h:${tenantId}` }));
      await expect(
        inTx((tx) => ledger.spend(tx, { tenantId, amountCents: 1001, reference: `s:${tenantId}` })),
      ).rejects.toMatchObject({
        code: 'insufficient_held',
      });
      await expect(
        inTx((tx) => ledger.releaseHold(tx, { tenantId, amountCents: 1001, reference: `r:${tenantId}` })),
      ).rejects.toMatchObject({ code: 'insufficient_held' });
      expect(await sums(tenantId)).toEqual({ balance: 5000, held: 1000, count: 2 });
    });

    it('lets refunds and chargebacks take the balance below zero; adjustments only when allowed', async () => {
      const tenantId = await aFundedWallet(3000);
      await inTx((tx) => ledger.hold(tx, { tenantId, amountCents: 3000, reference: `h:${tenantId}` }));
      await inTx((tx) => ledger.spend(tx, { tenantId, amountCents: 2000, reference: `s:${tenantId}` }));
      const refund = await inTx((tx) =>
        ledger.debit(tx, { tenantId, kind: 'refund', amountCents: 3000, reference: `rf:${tenantId}` }),
      );
      expect(refund.entry).toMatchObject({
        kind: 'refund',
        amountCents: -3000,
        balanceAfterCents: -2000,
        heldAfterCents: 1000,
      });
      expect(await ledger.getWallet(tenantId)).toMatchObject({
        balanceCents: -2000,
        heldCents: 1000,
        availableCents: -3000,
      });
      await inTx((tx) =>
        ledger.debit(tx, { tenantId, kind: 'chargeback', amountCents: 500, reference: `cb:${tenantId}` }),
      );
      await expect(
        inTx((tx) =>
          ledger.debit(tx, { tenantId, kind: 'adjustment', amountCents: 1, reference: `adj:${tenantId}` }),
        ),
      ).rejects.toMatchObject({ code: 'insufficient_balance' });
      await inTx((tx) =>
        ledger.debit(tx, {
          tenantId,
          kind: 'adjustment',
          amountCents: 1,
          reference: `adj:${tenantId}`,
          allowNegative: true,
        }),
      );
      await inTx((tx) =>
        ledger.credit(tx, {
          tenantId,
          kind: 'adjustment',
          amountCents: 10_000,
          reference: `adj+:${tenantId}`,
        }),
      );
      expect(await ledger.getWallet(tenantId)).toMatchObject({ balanceCents: 7499, heldCents: 1000 });
      expect(await sums(tenantId)).toMatchObject({ balance: 7499, held: 1000 });
    });

    it.each([0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER, 1e13])(
      'refuses an amount of %p as invalid_amount',
      async (amountCents) => {
        const tenantId = randomUUID();
        await expect(
          inTx((tx) =>
            ledger.credit(tx, { tenantId, kind: 'topup', amountCents, reference: `bad:${tenantId}` }),
          ),
        ).rejects.toMatchObject({
          code: 'invalid_amount',
          status: 400,
        });
        expect(await ledger.findByReference(`bad:${tenantId}`)).toBeNull();
      },
    );

    it('refuses wrong kinds for credit and debit, and malformed tenant ids', async () => {
      const tenantId = randomUUID();
      await expect(
        inTx((tx) =>
          ledger.credit(tx, {
            tenantId,
            kind: 'refund' as unknown as 'topup',
            amountCents: 1,
            reference: `k:${tenantId}`,
          }),
        ),
      ).rejects.toMatchObject({ code: 'invalid_entry' });
      await expect(
        inTx((tx) =>
          ledger.debit(tx, {
            tenantId,
            kind: 'topup' as unknown as 'refund',
            amountCents: 1,
            reference: `k:${tenantId}`,
          }),
        ),
      ).rejects.toMatchObject({ code: 'invalid_entry' });
      await expect(
        inTx((tx) =>
          ledger.credit(tx, { tenantId: 'nope', kind: 'topup', amountCents: 1, reference: 'k:nope' }),
        ),
      ).rejects.toMatchObject({
        code: 'invalid_entry',
      });
      await expect(
        inTx((tx) => ledger.credit(tx, { tenantId, kind: 'topup', amountCents: 1, reference: '' })),
      ).rejects.toMatchObject({
        code: 'invalid_entry',
      });
    });

    it('rolls the posting back with the caller\u2019s transaction', async () => {
      const tenantId = await aFundedWallet(1000);
      await expect(
        inTx(async (tx) => {
          await ledger.credit(tx, { tenantId, kind: 'topup', amountCents: 500, reference: `rb:${tenantId}` });
          throw new Error('caller failed after posting');
        }),
      ).rejects.toThrow('caller failed after posting');
      expect(await ledger.findByReference(`rb:${tenantId}`)).toBeNull();
      expect(await ledger.getWallet(tenantId)).toMatchObject({ balanceCents: 1000 });
    });
  });

  describe('idempotency by reference', () => {
    it('returns the first entry for a repeated reference and changes nothing', async () => {
      const tenantId = randomUUID();
      const first = await inTx((tx) =>
        ledger.credit(tx, { tenantId, kind: 'topup', amountCents: 3000, reference: `dup:${tenantId}` }),
      );
      const again = await inTx((tx) =>
        ledger.credit(tx, { tenantId, kind: 'topup', amountCents: 3000, reference: `dup:${tenantId}` }),
      );
      expect(again.applied).toBe(false);
      expect(again.entry).toEqual(first.entry);
      expect(await ledger.getWallet(tenantId)).toMatchObject({ balanceCents: 3000 });
    });

    it('applies the same credit sent 20 times at once exactly once', async () => {
      const tenantId = randomUUID();
      const reference = `mercadopago:${tenantId}:topup`;
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          inTx((tx) => ledger.credit(tx, { tenantId, kind: 'topup', amountCents: 9000, reference })),
        ),
      );
      expect(results.filter((r) => r.applied)).toHaveLength(1);
      expect(new Set(results.map((r) => r.entry.id)).size).toBe(1);
      expect(await sums(tenantId)).toEqual({ balance: 9000, held: 0, count: 1 });
      expect(await ledger.getWallet(tenantId)).toMatchObject({ balanceCents: 9000 });
    });

    it('applies the same hold sent 20 times at once exactly once', async () => {
      const tenantId = await aFundedWallet(10_000);
      const reference = `order:${tenantId}:hold`;
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          inTx((tx) => ledger.hold(tx, { tenantId, amountCents: 7000, reference })),
        ),
      );
      expect(results.filter((r) => r.applied)).toHaveLength(1);
      expect(await ledger.getWallet(tenantId)).toMatchObject({ balanceCents: 10_000, heldCents: 7000 });
    });

    it('serialises 20 different postings on a brand-new wallet into one unbroken chain', async () => {
      const tenantId = randomUUID();
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          inTx((tx) =>
            ledger.credit(tx, {
              tenantId,
              kind: 'topup',
              amountCents: 100 + i,
              reference: `many:${tenantId}:${i}`,
            }),
          ),
        ),
      );
      const seqs = (await dataSource.query(
        `SELECT seq::int AS seq FROM ledger.entries WHERE tenant_id = $1 ORDER BY seq`,
        [tenantId],
      )) as Array<{
        seq: number;
      }>;
      expect(seqs.map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(await ledger.getWallet(tenantId)).toMatchObject({ balanceCents: 20 * 100 + 190 });
      const verification = await ledger.verifyAll();
      expect(verification.brokenChains.filter((b) => b.tenantId === tenantId)).toEqual([]);
    });

    it('refuses a reference reused for a different amount, kind or tenant', async () => {
      const tenantId = randomUUID();
      const reference = `conflict:${tenantId}`;
      await inTx((tx) => ledger.credit(tx, { tenantId, kind: 'topup', amountCents: 3000, reference }));
      await expect(
        inTx((tx) => ledger.credit(tx, { tenantId, kind: 'topup', amountCents: 3001, reference })),
      ).rejects.toMatchObject({
        code: 'reference_conflict',
      });
      await expect(
        inTx((tx) => ledger.credit(tx, { tenantId, kind: 'adjustment', amountCents: 3000, reference })),
      ).rejects.toMatchObject({
        code: 'reference_conflict',
      });
      await expect(
        inTx((tx) =>
          ledger.credit(tx, { tenantId: randomUUID(), kind: 'topup', amountCents: 3000, reference }),
        ),
      ).rejects.toMatchObject({ code: 'reference_conflict' });
    });

    it('lets one of several tenants racing for the same reference post it; the others get reference_conflict', async () => {
      const reference = `race:${randomUUID()}`;
      const tenants = await Promise.all(Array.from({ length: 8 }, () => aFundedWallet(1000)));
      const outcomes = await Promise.all(
        tenants.map((tenantId) =>
          inTx((tx) =>
            ledger.credit(tx, { tenantId, kind: 'adjustment', amountCents: 500, reference }),
          ).catch((e: unknown) => e),
        ),
      );
      const applied = outcomes.filter((o): o is LedgerPosting => (o as LedgerPosting).applied === true);
      expect(applied).toHaveLength(1);
      expect(outcomes.filter((o) => isLedgerError(o, 'reference_conflict'))).toHaveLength(tenants.length - 1);
      const balances = await Promise.all(tenants.map(async (t) => (await ledger.getWallet(t)).balanceCents));
      expect(balances.sort((a, b) => a - b)).toEqual([...Array<number>(tenants.length - 1).fill(1000), 1500]);
    });
  });

  describe('reading', () => {
    it('lists entries newest first with a cursor that walks every page once', async () => {
      const tenantId = randomUUID();
      for (let i = 1; i <= 7; i++) {
        await inTx((tx) =>
          ledger.credit(tx, {
            tenantId,
            kind: 'topup',
            amountCents: i * 100,
            reference: `page:${tenantId}:${i}`,
          }),
        );
      }
      const first = await ledger.listEntries(tenantId, 3);
      expect(first.items.map((e) => e.amountCents)).toEqual([700, 600, 500]);
      expect(first.items[0]).toEqual({
        id: expect.any(String),
        kind: 'topup',
        amountCents: 700,
        heldDeltaCents: 0,
        balanceAfterCents: 2800,
        reference: `page:${tenantId}:7`,
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      });
      const second = await ledger.listEntries(tenantId, 3, first.nextCursor ?? undefined);
      expect(second.items.map((e) => e.amountCents)).toEqual([400, 300, 200]);
      const third = await ledger.listEntries(tenantId, 3, second.nextCursor ?? undefined);
      expect(third.items.map((e) => e.amountCents)).toEqual([100]);
      expect(third.nextCursor).toBeNull();
      // Another tenant sees none of it.
      expect((await ledger.listEntries(randomUUID(), 20)).items).toEqual([]);
    });

    it('refuses a malformed cursor with validation_failed', async () => {
      await expect(ledger.listEntries(randomUUID(), 20, 'garbage')).rejects.toMatchObject({
        code: 'validation_failed',
      });
      const forged = Buffer.from(JSON.stringify(['2026-01-01T00:00:00.000Z', 'not-a-seq'])).toString(
        'base64url',
      );
      await expect(ledger.listEntries(randomUUID(), 20, forged)).rejects.toMatchObject({
        code: 'validation_failed',
      });
    });

    it('reads available under the wallet lock inside the caller\u2019s transaction', async () => {
      const tenantId = await aFundedWallet(4000);
      await inTx((tx) => ledger.hold(tx, { tenantId, amountCents: 1000, reference: `av:${tenantId}` }));
      expect(await inTx((tx) => ledger.availableCents(tx, tenantId))).toBe(3000);
    });
  });

  describe('shape checks, enforced by the database (migration 1732400009000 keeps them exact)', () => {
    const hex = 'ab'.repeat(32);
    // The columns are char(64): a longer value is refused by the type (22001), the rest by the check.
    const refusedHashes: Array<[string, string]> = [
      ['63 characters', hex.slice(1)],
      ['upper case', hex.toUpperCase()],
      ['a character outside hex', `${hex.slice(1)}g`],
      ['a space inside', `${hex.slice(0, 31)} ${hex.slice(32)}`],
      ['a multibyte character', `${hex.slice(1)}é`],
      ['empty', ''],
    ];

    /**
     * Runs `fn` in a transaction that is always rolled back: a row these checks accept breaks the
     * ledger's invariants (a chain that does not hash), and verifyAll below reads the whole database.
     */
    const rolledBack = async (fn: (q: QueryRunner) => Promise<void>): Promise<void> => {
      const runner = dataSource.createQueryRunner();
      await runner.startTransaction();
      try {
        await fn(runner);
      } finally {
        await runner.rollbackTransaction();
        await runner.release();
      }
    };
    /** An entry for a fresh wallet, with `prevHash`/`hash` as given; the rest valid. Never kept. */
    const insertEntry = (prevHash: string, hash: string): Promise<void> =>
      rolledBack(async (q) => {
        const tenantId = randomUUID();
        await q.query(`INSERT INTO ledger.wallets (tenant_id) VALUES ($1)`, [tenantId]);
        await q.query(
          `INSERT INTO ledger.entries (id, tenant_id, seq, kind, amount_cents, held_delta_cents, balance_after_cents,
             held_after_cents, reference, prev_hash, hash, created_at)
           VALUES ($1, $2, 1, 'topup', 100, 0, 100, 0, $3, $4, $5, now())`,
          [randomUUID(), tenantId, `shape:${randomUUID()}`, prevHash, hash],
        );
      });
    const insertWallet = (column: 'last_hash' | 'currency', value: string): Promise<void> =>
      rolledBack(async (q) => {
        await q.query(`INSERT INTO ledger.wallets (tenant_id, ${column}) VALUES ($1, $2)`, [randomUUID(), value]);
      });
    const entriesWithHash = async (hash: string): Promise<number> =>
      ((await dataSource.query(`SELECT count(*)::int AS n FROM ledger.entries WHERE hash = $1 OR prev_hash = $1`, [
        hash,
      ])) as Array<{ n: number }>)[0].n;

    it('accepts 64 lower-case hex characters in an entry and a wallet head', async () => {
      await expect(insertEntry(hex, hex)).resolves.toBeUndefined();
      await expect(insertWallet('last_hash', hex)).resolves.toBeUndefined();
    });

    it.each(refusedHashes)('refuses an entry hash with %s, and writes nothing', async (_what, bad) => {
      await expect(insertEntry(hex, bad)).rejects.toMatchObject({ code: '23514', constraint: 'entries_hashes_hex' });
      await expect(insertEntry(bad, hex)).rejects.toMatchObject({ code: '23514', constraint: 'entries_hashes_hex' });
      expect(await entriesWithHash(bad)).toBe(0);
    });

    it.each(refusedHashes)('refuses a wallet head with %s', async (_what, bad) => {
      await expect(insertWallet('last_hash', bad)).rejects.toMatchObject({
        code: '23514',
        constraint: 'wallets_last_hash_hex',
      });
    });

    it('refuses 65 characters by the column type', async () => {
      await expect(insertEntry(hex, `${hex}0`)).rejects.toMatchObject({ code: '22001' });
    });

    it.each([['brl'], ['BR'], ['BR1'], ['BRÉ'], ['']])('refuses the wallet currency %j', async (bad) => {
      await expect(insertWallet('currency', bad)).rejects.toMatchObject({
        code: '23514',
        constraint: 'wallets_currency_iso',
      });
    });
  });

  describe('append-only, enforced by the database', () => {
    let tenantId: string;
    beforeAll(async () => {
      tenantId = await aFundedWallet(1234);
    });

    it.each([
      ['UPDATE', `UPDATE ledger.entries SET amount_cents = 999999 WHERE tenant_id = $1`],
      ['DELETE', `DELETE FROM ledger.entries WHERE tenant_id = $1`],
    ])('refuses %s on entries even for the superuser (trigger)', async (_op, sql) => {
      await expect(dataSource.query(sql, [tenantId])).rejects.toThrow(/append-only/);
      expect(await sums(tenantId)).toEqual({ balance: 1234, held: 0, count: 1 });
    });

    it('refuses TRUNCATE on entries', async () => {
      await expect(dataSource.query(`TRUNCATE ledger.entries CASCADE`)).rejects.toThrow(/append-only/);
      expect(await sums(tenantId)).toEqual({ balance: 1234, held: 0, count: 1 });
    });

    it.each([
      ['UPDATE', `UPDATE ledger.entries SET amount_cents = 1 WHERE tenant_id = $1`],
      ['DELETE', `DELETE FROM ledger.entries WHERE tenant_id = $1`],
    ])(
      'refuses %s to the application role (no privilege), while it may read and append',
      async (_op, sql) => {
        const runner = dataSource.createQueryRunner();
        await runner.connect();
        try {
          await runner.startTransaction();
          await runner.query(`SET LOCAL ROLE realapp_app`);
          await expect(runner.query(sql, [tenantId])).rejects.toThrow(/permission denied/);
          await runner.rollbackTransaction();
          await runner.startTransaction();
          await runner.query(`SET LOCAL ROLE realapp_app`);
          const rows = (await runner.query(
            `SELECT count(*)::int AS n FROM ledger.entries WHERE tenant_id = $1`,
            [tenantId],
          )) as Array<{ n: number }>;
          expect(rows[0].n).toBe(1);
          const posting = await ledger.credit(runner.manager, {
            tenantId,
            kind: 'adjustment',
            amountCents: 1,
            reference: `role:${tenantId}:${_op}`,
          });
          expect(posting.applied).toBe(true);
          await runner.rollbackTransaction();
        } finally {
          await runner.release();
        }
      },
    );

    it('refuses deleting a wallet', async () => {
      await expect(
        dataSource.query(`DELETE FROM ledger.wallets WHERE tenant_id = $1`, [tenantId]),
      ).rejects.toThrow(/never removed/);
    });

    it('refuses entries of the wrong shape (a hold that moves the balance)', async () => {
      await expect(
        dataSource.query(
          `INSERT INTO ledger.entries (id, tenant_id, seq, kind, amount_cents, held_delta_cents, balance_after_cents, held_after_cents, reference, prev_hash, hash, created_at)
           VALUES (gen_random_uuid(), $1, 99, 'hold', -5, 5, 0, 5, 'shape-test', repeat('0', 64), repeat('0', 64), now())`,
          [tenantId],
        ),
      ).rejects.toThrow(/entries_kind_shape/);
    });
  });

  describe('property: random sequences keep balance = Σ amounts, held = Σ held deltas, and every chain valid', () => {
    type Op =
      | { type: 'credit'; tenant: number; amount: number }
      | { type: 'adjust_credit'; tenant: number; amount: number }
      | { type: 'hold'; tenant: number; amount: number }
      | { type: 'release'; tenant: number; amount: number }
      | { type: 'spend'; tenant: number; amount: number }
      | { type: 'refund'; tenant: number; amount: number }
      | { type: 'chargeback'; tenant: number; amount: number }
      | { type: 'adjust_debit'; tenant: number; amount: number }
      | { type: 'repeat'; index: number };

    const amount = fc.integer({ min: 1, max: 50_000 });
    const tenant = fc.integer({ min: 0, max: 2 });
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ type: fc.constant('credit' as const), tenant, amount }),
      fc.record({ type: fc.constant('adjust_credit' as const), tenant, amount }),
      fc.record({ type: fc.constant('hold' as const), tenant, amount }),
      fc.record({ type: fc.constant('release' as const), tenant, amount }),
      fc.record({ type: fc.constant('spend' as const), tenant, amount }),
      fc.record({ type: fc.constant('refund' as const), tenant, amount }),
      fc.record({ type: fc.constant('chargeback' as const), tenant, amount }),
      fc.record({ type: fc.constant('adjust_debit' as const), tenant, amount }),
      fc.record({ type: fc.constant('repeat' as const), index: fc.nat() }),
    );

    it('holds for every sequence (real database, model-checked)', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
          const tenants: string[] = [randomUUID(), randomUUID(), randomUUID()];
          const model = tenants.map(() => ({ balance: 0, held: 0 }));
          const done: Array<{ run: (tx: EntityManager) => Promise<LedgerPosting> }> = [];
          for (const [i, step] of ops.entries()) {
            if (step.type === 'repeat') {
              if (done.length === 0) continue;
              const previous = done[step.index % done.length];
              const again = await inTx((tx) => previous.run(tx));
              expect(again.applied).toBe(false);
              continue;
            }
            const tenantId = tenants[step.tenant];
            const m = model[step.tenant];
            const reference = `prop:${tenantId}:${i}`;
            const base = { tenantId, amountCents: step.amount, reference };
            let run: (tx: EntityManager) => Promise<LedgerPosting>;
            let expectedError: string | null = null;
            switch (step.type) {
              case 'credit':
                run = (tx) => ledger.credit(tx, { ...base, kind: 'topup' });
                break;
              case 'adjust_credit':
                run = (tx) => ledger.credit(tx, { ...base, kind: 'adjustment' });
                break;
              case 'hold':
                run = (tx) => ledger.hold(tx, base);
                if (m.balance - m.held < step.amount) expectedError = 'insufficient_balance';
                break;
              case 'release':
                run = (tx) => ledger.releaseHold(tx, base);
                if (m.held < step.amount) expectedError = 'insufficient_held';
                break;
              case 'spend':
                run = (tx) => ledger.spend(tx, base);
                if (m.held < step.amount) expectedError = 'insufficient_held';
                break;
              case 'refund':
                run = (tx) => ledger.debit(tx, { ...base, kind: 'refund' });
                break;
              case 'chargeback':
                run = (tx) => ledger.debit(tx, { ...base, kind: 'chargeback' });
                break;
              case 'adjust_debit':
                run = (tx) => ledger.debit(tx, { ...base, kind: 'adjustment' });
                if (m.balance - m.held < step.amount) expectedError = 'insufficient_balance';
                break;
            }
            const outcome = await inTx((tx) => run(tx)).catch((error: unknown) => error);
            if (expectedError) {
              expect(isLedgerError(outcome, expectedError as 'insufficient_balance')).toBe(true);
              continue;
            }
            expect(outcome).toMatchObject({ applied: true });
            const posting = outcome as LedgerPosting;
            m.balance += posting.entry.amountCents;
            m.held += posting.entry.heldDeltaCents;
            expect(posting.entry).toMatchObject({ balanceAfterCents: m.balance, heldAfterCents: m.held });
            done.push({ run });
          }
          for (const [i, tenantId] of tenants.entries()) {
            const wallet = await ledger.getWallet(tenantId);
            const summed = await sums(tenantId);
            expect({ balance: wallet.balanceCents, held: wallet.heldCents }).toEqual(model[i]);
            expect({ balance: summed.balance, held: summed.held }).toEqual(model[i]);
            expect(wallet.heldCents).toBeGreaterThanOrEqual(0);
          }
          const verification = await ledger.verifyAll();
          expect(verification.mismatches.filter((m) => tenants.includes(m.tenantId))).toEqual([]);
          expect(verification.brokenChains.filter((b) => tenants.includes(b.tenantId))).toEqual([]);
        }),
        { numRuns: 25 },
      );
    });
  });

  describe('verifyAll', () => {
    it('reports every wallet consistent on an untouched ledger', async () => {
      const verification = await ledger.verifyAll();
      expect(verification).toMatchObject({ ok: true, mismatches: [], brokenChains: [] });
      expect(verification.wallets).toBeGreaterThan(0);
    });

    it('keeps the chain verifiable when a caller writes the tenant id in upper case, one by one or in a batch', async () => {
      const tenantId = randomUUID();
      const upper = tenantId.toUpperCase();
      const single = await inTx((tx) =>
        ledger.credit(tx, {
          tenantId: upper,
          kind: 'topup',
          amountCents: 3000,
          reference: `case:${tenantId}:1`,
        }),
      );
      expect(single.entry.tenantId).toBe(tenantId);
      // The same posting again, in either case, is a repeat, not a conflict.
      const repeat = await inTx((tx) =>
        ledger.credit(tx, {
          tenantId: upper,
          kind: 'topup',
          amountCents: 3000,
          reference: `case:${tenantId}:1`,
        }),
      );
      expect(repeat).toMatchObject({ applied: false, entry: single.entry });
      await inTx((tx) =>
        ledger.creditMany(tx, [
          { tenantId: upper, kind: 'topup', amountCents: 2000, reference: `case:${tenantId}:2` },
        ]),
      );
      await inTx((tx) =>
        ledger.hold(tx, { tenantId: upper, amountCents: 1000, reference: `case:${tenantId}:3` }),
      );
      expect(await ledger.getWallet(tenantId)).toMatchObject({ balanceCents: 5000, heldCents: 1000 });
      const verification = await ledger.verifyAll();
      expect(verification.brokenChains.filter((b) => b.tenantId === tenantId)).toEqual([]);
      expect(verification.mismatches.filter((m) => m.tenantId === tenantId)).toEqual([]);
    });

    it('reports no mismatch for a wallet whose postings commit while it is being verified', async () => {
      const tenantId = await aFundedWallet(100_000_000);
      let posting = true;
      let posted = 0;
      // Holds and releases change `held` both ways, so an entry read without its wallet row (or
      // the reverse) shows up as a mismatch in either direction.
      const writers = Array.from({ length: 3 }, async (_, w) => {
        for (let i = 0; posting; i++) {
          await inTx(async (tx) => {
            await ledger.hold(tx, { tenantId, amountCents: 500, reference: `busy:${tenantId}:${w}:${i}` });
            if (i % 2 === 1)
              await ledger.releaseHold(tx, {
                tenantId,
                amountCents: 500,
                reference: `busy:${tenantId}:${w}:${i}:release`,
              });
          });
          posted++;
        }
      });
      try {
        for (let round = 0; round < 30; round++) {
          const verification = await ledger.verifyAll();
          expect(verification.mismatches.filter((m) => m.tenantId === tenantId)).toEqual([]);
          expect(verification.brokenChains.filter((b) => b.tenantId === tenantId)).toEqual([]);
        }
      } finally {
        posting = false;
        await Promise.all(writers);
      }
      expect(posted).toBeGreaterThan(10);
      const atRest = await ledger.verifyAll();
      expect(atRest.mismatches.filter((m) => m.tenantId === tenantId)).toEqual([]);
    });
  });
});

describe('LedgerService.verifyAll detects tampering', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let ledger: LedgerService;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await openDataSource(db.url);
    ledger = new LedgerService(dataSource);
  });

  afterAll(async () => {
    await dataSource.destroy();
    await db.drop();
  });

  it('finds a cached balance that disagrees with the entries', async () => {
    const tenantId = randomUUID();
    await dataSource.transaction((tx) =>
      ledger.credit(tx, { tenantId, kind: 'topup', amountCents: 5000, reference: `v:${tenantId}` }),
    );
    await dataSource.query(`UPDATE ledger.wallets SET balance_cents = 9000 WHERE tenant_id = $1`, [tenantId]);
    const verification = await ledger.verifyAll();
    expect(verification.ok).toBe(false);
    expect(verification.mismatches).toContainEqual({
      tenantId,
      field: 'balance',
      cachedCents: 9000,
      computedCents: 5000,
    });
  });

  it('finds an entry edited behind the trigger\u2019s back (broken hash chain)', async () => {
    const tenantId = randomUUID();
    for (let i = 1; i <= 3; i++) {
      await dataSource.transaction((tx) =>
        ledger.credit(tx, { tenantId, kind: 'topup', amountCents: 1000, reference: `c:${tenantId}:${i}` }),
      );
    }
    // Only a superuser switching triggers off can do this; the chain still tells.
    await dataSource.transaction(async (tx) => {
      await tx.query(`SET LOCAL session_replication_role = replica`);
      await tx.query(
        `UPDATE ledger.entries SET amount_cents = 2000, balance_after_cents = 3000 WHERE tenant_id = $1 AND seq = 2`,
        [tenantId],
      );
    });
    const verification = await ledger.verifyAll();
    expect(verification.ok).toBe(false);
    expect(verification.brokenChains).toContainEqual({
      tenantId,
      seq: 2,
      entryId: expect.any(String),
      reason: 'hash_mismatch',
    });
  });
});
