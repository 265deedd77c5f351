import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { DataSource, EntityManager } from 'typeorm';
import { createTestDatabase, expectEventually, TestDatabase } from '@realapp/testing';
import { GENESIS_HASH } from './ledger-hash';
import { LedgerBatchConflict, LedgerError } from './ledger.errors';
import { LedgerService, MAX_ENTRY_CENTS } from './ledger.service';
import { CreditInput, LedgerPosting } from './ledger.types';

describe('LedgerService.creditMany on the real database', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let ledger: LedgerService;

  const inTx = <T>(fn: (tx: EntityManager) => Promise<T>): Promise<T> => dataSource.transaction(fn);

  /** A top-up with a reference of its own (builder: each test makes its own tenants). */
  const aTopUp = (
    tenantId: string,
    amountCents: number,
    overrides: Partial<CreditInput> = {},
  ): CreditInput => ({
    tenantId,
    kind: 'topup',
    amountCents,
    reference: `topup:${randomUUID()}`,
    ...overrides,
  });

  async function aFundedWallet(balanceCents = 10_000): Promise<string> {
    const tenantId = randomUUID();
    await inTx((tx) => ledger.credit(tx, aTopUp(tenantId, balanceCents, { reference: `seed:${tenantId}` })));
    return tenantId;
  }

  async function seqsOf(tenantId: string): Promise<number[]> {
    const rows = (await dataSource.query(
      `SELECT seq::int AS seq FROM ledger.entries WHERE tenant_id = $1 ORDER BY seq`,
      [tenantId],
    )) as Array<{ seq: number }>;
    return rows.map((row) => row.seq);
  }

  async function walletExists(tenantId: string): Promise<boolean> {
    const rows = (await dataSource.query(`SELECT 1 FROM ledger.wallets WHERE tenant_id = $1`, [
      tenantId,
    ])) as unknown[];
    return rows.length === 1;
  }

  /** The statements `fn` sends, as verb and table, read off the wire. */
  async function statementsOf(fn: () => Promise<unknown>): Promise<string[]> {
    const sent: string[] = [];
    const query = Client.prototype.query;
    Client.prototype.query = function (this: Client, ...args: unknown[]): unknown {
      const first = args[0] as string | { text?: string };
      sent.push(typeof first === 'string' ? first : (first?.text ?? ''));
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof Client.prototype.query;
    try {
      await fn();
    } finally {
      Client.prototype.query = query;
    }
    return sent.map((sql) => {
      const text = sql.replace(/\s+/g, ' ').trim();
      const verb = text.split(' ')[0].toUpperCase();
      if (verb === 'START' || verb === 'COMMIT' || verb === 'ROLLBACK') return verb;
      const table = /\b(?:FROM|INTO|UPDATE)\s+([a-z_]+\.[a-z_]+)/i.exec(text)?.[1] ?? '?';
      return `${verb} ${table}${/\bFOR UPDATE\b/i.test(text) ? ' FOR UPDATE' : ''}`;
    });
  }

  /** A transaction left running: whether it is over yet, and how it ended, without an unhandled rejection. */
  function running<T>(work: Promise<T>): {
    settled: () => boolean;
    outcome: Promise<PromiseSettledResult<T>>;
  } {
    let settled = false;
    const outcome = work.then(
      (value): PromiseSettledResult<T> => ({ status: 'fulfilled', value }),
      (reason: unknown): PromiseSettledResult<T> => ({ status: 'rejected', reason }),
    );
    void outcome.finally(() => {
      settled = true;
    });
    return { settled: () => settled, outcome };
  }

  async function backendsWaitingForALock(): Promise<number> {
    const [row] = (await dataSource.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    )) as Array<{ n: number }>;
    return row.n;
  }

  /** Until `tx` waits for a lock (one more backend waits than `before`) or is over. */
  async function untilBlockedOrDone(tx: { settled: () => boolean }, before: number): Promise<void> {
    await expectEventually(
      async () => {
        if (!tx.settled()) expect(await backendsWaitingForALock()).toBeGreaterThan(before);
      },
      { intervalMs: 10 },
    );
  }

  async function expectLedgerConsistent(): Promise<void> {
    expect(await ledger.verifyAll()).toMatchObject({ ok: true, mismatches: [], brokenChains: [] });
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await new DataSource({ type: 'postgres', url: db.url, extra: { max: 40 } }).initialize();
    ledger = new LedgerService(dataSource);
  });

  afterAll(async () => {
    await dataSource.destroy();
    await db.drop();
  });

  it('posts credits for existing and new wallets, chaining each tenant in input order', async () => {
    const funded = await aFundedWallet(1000);
    const holding = await aFundedWallet(5000);
    await inTx((tx) => ledger.hold(tx, { tenantId: holding, amountCents: 2000, reference: `h:${holding}` }));
    const [fresh, other] = [randomUUID(), randomUUID()];
    const fundedSeed = await ledger.findByReference(`seed:${funded}`);
    const holdEntry = await ledger.findByReference(`h:${holding}`);
    const inputs: CreditInput[] = [
      aTopUp(funded, 100, {
        metadata: { topupId: 'a', provider: { id: 42, note: 'quote " and \\ backslash' } },
      }),
      aTopUp(fresh, 200),
      aTopUp(funded, 300, { kind: 'adjustment' }),
      aTopUp(other, 400),
      aTopUp(fresh, 500, { metadata: { topupId: 'e' } }),
      aTopUp(holding, 600),
      aTopUp(funded, 700),
    ];
    const postings = await inTx((tx) => ledger.creditMany(tx, inputs));

    expect(postings).toHaveLength(inputs.length);
    postings.forEach((posting, i) => {
      expect(posting.applied).toBe(true);
      expect(posting.entry).toMatchObject({
        tenantId: inputs[i].tenantId,
        kind: inputs[i].kind,
        amountCents: inputs[i].amountCents,
        heldDeltaCents: 0,
        reference: inputs[i].reference,
        metadata: inputs[i].metadata ?? {},
      });
    });
    const [f1, n1, f2, o1, n2, h1, f3] = postings.map((p) => p.entry);
    expect([f1, f2, f3].map((e) => [e.seq, e.balanceAfterCents])).toEqual([
      [2, 1100],
      [3, 1400],
      [4, 2100],
    ]);
    expect([f1.prevHash, f2.prevHash, f3.prevHash]).toEqual([fundedSeed?.hash, f1.hash, f2.hash]);
    expect([n1, n2].map((e) => [e.seq, e.balanceAfterCents, e.prevHash])).toEqual([
      [1, 200, GENESIS_HASH],
      [2, 700, n1.hash],
    ]);
    expect(o1).toMatchObject({ seq: 1, balanceAfterCents: 400, prevHash: GENESIS_HASH });
    expect(h1).toMatchObject({
      seq: 3,
      balanceAfterCents: 5600,
      heldAfterCents: 2000,
      prevHash: holdEntry?.hash,
    });

    // What was returned is what was stored, to the millisecond and the metadata's last character.
    for (const posting of postings) {
      expect(await ledger.findByReference(posting.entry.reference)).toEqual(posting.entry);
    }
    expect(await seqsOf(funded)).toEqual([1, 2, 3, 4]);
    expect(await seqsOf(fresh)).toEqual([1, 2]);
    expect(await seqsOf(other)).toEqual([1]);
    expect(await seqsOf(holding)).toEqual([1, 2, 3]);
    expect(await ledger.getWallet(funded)).toMatchObject({
      balanceCents: 2100,
      heldCents: 0,
      updatedAt: f3.createdAt,
    });
    expect(await ledger.getWallet(fresh)).toMatchObject({
      balanceCents: 700,
      heldCents: 0,
      updatedAt: n2.createdAt,
    });
    expect(await ledger.getWallet(other)).toMatchObject({ balanceCents: 400, currency: 'BRL' });
    expect(await ledger.getWallet(holding)).toMatchObject({
      balanceCents: 5600,
      heldCents: 2000,
      availableCents: 3600,
    });
    await expectLedgerConsistent();
  });

  it('takes the same four statements for any batch: create missing wallets, lock, insert entries, update wallets', async () => {
    const batchStatements = [
      'START',
      'INSERT ledger.wallets',
      'SELECT ledger.wallets FOR UPDATE',
      'INSERT ledger.entries',
      'UPDATE ledger.wallets',
      'COMMIT',
    ];
    const existing = await Promise.all(Array.from({ length: 5 }, () => aFundedWallet(1000)));
    const tenants = [...existing, ...Array.from({ length: 5 }, () => randomUUID())];
    const twentyOverTen = (): CreditInput[] =>
      Array.from({ length: 20 }, (_, i) => aTopUp(tenants[i % 10], 100 + i));

    // Half the wallets new, then all of them existing: the same statements.
    expect(await statementsOf(() => inTx((tx) => ledger.creditMany(tx, twentyOverTen())))).toEqual(
      batchStatements,
    );
    expect(await statementsOf(() => inTx((tx) => ledger.creditMany(tx, twentyOverTen())))).toEqual(
      batchStatements,
    );
    const sixtyFour = Array.from({ length: 64 }, (_, i) =>
      aTopUp(i < 60 ? tenants[i % 10] : randomUUID(), 1),
    );
    expect(await statementsOf(() => inTx((tx) => ledger.creditMany(tx, sixtyFour)))).toEqual(batchStatements);

    // Tenant i got 100 + i and 110 + i in each batch of 20, and six credits of 1 cent in the 64.
    for (const [i, tenantId] of tenants.entries()) {
      const seeded = i < 5 ? 1000 : 0;
      expect((await ledger.getWallet(tenantId)).balanceCents).toBe(seeded + 2 * (2 * (100 + i) + 10) + 6);
      expect(await seqsOf(tenantId)).toEqual(
        Array.from({ length: (seeded ? 1 : 0) + 4 + 6 }, (_, s) => s + 1),
      );
    }
    await expectLedgerConsistent();
  });

  it('answers an empty batch with no posting and no statement', async () => {
    let postings: LedgerPosting[] | undefined;
    const statements = await statementsOf(() =>
      inTx(async (tx) => {
        postings = await ledger.creditMany(tx, []);
      }),
    );
    expect(postings).toEqual([]);
    expect(statements).toEqual(['START', 'COMMIT']);
  });

  it('throws LedgerBatchConflict for a reference posted before; nothing of the batch stays after the rollback', async () => {
    const tenantId = await aFundedWallet(1000);
    const posted = aTopUp(tenantId, 250);
    const first = await inTx((tx) => ledger.credit(tx, posted));
    const newTenant = randomUUID();
    const batch = [aTopUp(tenantId, 100), { ...posted }, aTopUp(newTenant, 300), aTopUp(tenantId, 400)];

    const error = await inTx((tx) => ledger.creditMany(tx, batch)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LedgerBatchConflict);
    expect(error).toMatchObject({ references: [posted.reference] });
    expect((error as Error).message).toContain(posted.reference);

    for (const input of [batch[0], batch[2], batch[3]]) {
      expect(await ledger.findByReference(input.reference)).toBeNull();
    }
    expect(await ledger.findByReference(posted.reference)).toEqual(first.entry);
    expect(await walletExists(newTenant)).toBe(false);
    expect(await ledger.getWallet(tenantId)).toMatchObject({ balanceCents: 1250 });
    expect(await seqsOf(tenantId)).toEqual([1, 2]);
    await expectLedgerConsistent();

    // The caller's fallback, one by one, posts the rest and answers the repeat with the first entry.
    const oneByOne = await inTx(async (tx) => {
      const results: LedgerPosting[] = [];
      for (const input of batch) results.push(await ledger.credit(tx, input));
      return results;
    });
    expect(oneByOne.map((r) => r.applied)).toEqual([true, false, true, true]);
    expect(oneByOne[1].entry).toEqual(first.entry);
    expect(await ledger.getWallet(tenantId)).toMatchObject({ balanceCents: 1750 });
    await expectLedgerConsistent();
  });

  it('throws LedgerBatchConflict for a reference twice in the batch, before sending anything', async () => {
    const tenantId = await aFundedWallet(1000);
    const twice = aTopUp(tenantId, 100);
    const batch = [twice, aTopUp(randomUUID(), 200), { ...twice, tenantId: randomUUID() }];
    let error: unknown;
    const statements = await statementsOf(() =>
      inTx((tx) => ledger.creditMany(tx, batch)).catch((e: unknown) => {
        error = e;
      }),
    );
    expect(error).toBeInstanceOf(LedgerBatchConflict);
    expect(error).toMatchObject({ references: [twice.reference] });
    expect(statements).toEqual(['START', 'ROLLBACK']);
    expect(await ledger.findByReference(twice.reference)).toBeNull();
  });

  it('validates every credit as credit() does, before sending anything', async () => {
    const tenantId = randomUUID();
    const cases: Array<[CreditInput, string]> = [
      [aTopUp(tenantId, 0), 'invalid_amount'],
      [aTopUp(tenantId, 1.5), 'invalid_amount'],
      [aTopUp(tenantId, MAX_ENTRY_CENTS + 1), 'invalid_amount'],
      [aTopUp(tenantId, 100, { kind: 'refund' as unknown as 'topup' }), 'invalid_entry'],
      [aTopUp('not-a-uuid', 100), 'invalid_entry'],
      [aTopUp(tenantId, 100, { reference: '' }), 'invalid_entry'],
      [aTopUp(tenantId, 100, { reference: 'x'.repeat(256) }), 'invalid_entry'],
    ];
    for (const [bad, code] of cases) {
      let error: unknown;
      const statements = await statementsOf(() =>
        inTx((tx) => ledger.creditMany(tx, [aTopUp(tenantId, 100), bad])).catch((e: unknown) => {
          error = e;
        }),
      );
      expect(error).toBeInstanceOf(LedgerError);
      expect(error).toMatchObject({ code });
      expect(statements).toEqual(['START', 'ROLLBACK']);
    }
    expect(await walletExists(tenantId)).toBe(false);
  });

  it('throws the refusal of a credit the wallet cannot take (balance_out_of_range), and writes nothing', async () => {
    const tenantId = randomUUID();
    // 4503 credits of the largest amount still fit an exact balance; the 4504th would not.
    const batch = Array.from({ length: 4504 }, () => aTopUp(tenantId, MAX_ENTRY_CENTS));
    const error = await inTx((tx) => ledger.creditMany(tx, batch)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LedgerError);
    expect(error).toMatchObject({ code: 'balance_out_of_range' });
    expect(await walletExists(tenantId)).toBe(false);

    const fits = await inTx((tx) => ledger.creditMany(tx, batch.slice(0, 4503)));
    expect(fits[4502].entry).toMatchObject({ seq: 4503, balanceAfterCents: 4503 * MAX_ENTRY_CENTS });
    expect(await ledger.getWallet(tenantId)).toMatchObject({ balanceCents: 4503 * MAX_ENTRY_CENTS });
    await expectLedgerConsistent();
  });

  it('continues a chain that single postings started, and single postings continue the batch', async () => {
    const tenantId = await aFundedWallet(1000);
    await inTx((tx) => ledger.hold(tx, { tenantId, amountCents: 400, reference: `h:${tenantId}` }));
    const hold = await ledger.findByReference(`h:${tenantId}`);
    const [a, b] = await inTx((tx) => ledger.creditMany(tx, [aTopUp(tenantId, 300), aTopUp(tenantId, 200)]));
    expect(a.entry).toMatchObject({
      seq: 3,
      balanceAfterCents: 1300,
      heldAfterCents: 400,
      prevHash: hold?.hash,
    });
    expect(b.entry).toMatchObject({
      seq: 4,
      balanceAfterCents: 1500,
      heldAfterCents: 400,
      prevHash: a.entry.hash,
    });

    const spent = await inTx((tx) =>
      ledger.spend(tx, { tenantId, amountCents: 100, reference: `s:${tenantId}` }),
    );
    expect(spent.entry).toMatchObject({
      seq: 5,
      balanceAfterCents: 1400,
      heldAfterCents: 300,
      prevHash: b.entry.hash,
    });
    // Posting, then batching in the same transaction: the batch sees the wallet the posting left.
    const [c] = await inTx(async (tx) => {
      await ledger.releaseHold(tx, { tenantId, amountCents: 300, reference: `r:${tenantId}` });
      return ledger.creditMany(tx, [aTopUp(tenantId, 50)]);
    });
    expect(c.entry).toMatchObject({ seq: 7, balanceAfterCents: 1450, heldAfterCents: 0 });
    const release = await ledger.findByReference(`r:${tenantId}`);
    expect(c.entry.prevHash).toBe(release?.hash);
    expect(await ledger.getWallet(tenantId)).toMatchObject({
      balanceCents: 1450,
      heldCents: 0,
      availableCents: 1450,
    });
    expect(await seqsOf(tenantId)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    await expectLedgerConsistent();
  });

  it('runs concurrent batches and single credits on overlapping tenants without deadlock or a broken chain', async () => {
    // Several rounds, each on tenants of its own: half start with a wallet, half without, so
    // concurrent transactions also race to create the same wallets.
    for (let round = 0; round < 4; round++) {
      const funded = await Promise.all(Array.from({ length: 6 }, () => aFundedWallet(1000)));
      const tenants = [...funded, ...Array.from({ length: 6 }, () => randomUUID())];
      const expected = new Map(tenants.map((t, i) => [t, i < 6 ? 1000 : 0]));
      const credit = (tenantId: string, amountCents: number): CreditInput => {
        expected.set(tenantId, (expected.get(tenantId) ?? 0) + amountCents);
        return aTopUp(tenantId, amountCents);
      };
      // Each batch walks the tenants in its own order (a different stride), so inputs arrive in
      // different orders; the locks must not.
      const batches = Array.from({ length: 8 }, (_, b) =>
        Array.from({ length: 16 }, (_, i) =>
          credit(tenants[(b * 5 + i * (b % 2 === 0 ? 7 : 5)) % 12], 10 + b + i),
        ),
      );
      const singles = Array.from({ length: 16 }, (_, i) => credit(tenants[(i * 7) % 12], 1 + i));
      const outcomes = await Promise.allSettled([
        ...batches.map((batch) => inTx((tx) => ledger.creditMany(tx, batch))),
        ...singles.map((single) => inTx((tx) => ledger.credit(tx, single))),
      ]);
      // A deadlock (or any other failure) is a rejection here: nothing is retried.
      expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);

      for (const tenantId of tenants) {
        expect((await ledger.getWallet(tenantId)).balanceCents).toBe(expected.get(tenantId));
        const seqs = await seqsOf(tenantId);
        expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, s) => s + 1));
      }
      const posted = [...batches.flat(), ...singles];
      const stored = (await dataSource.query(
        `SELECT count(*)::int AS n FROM ledger.entries WHERE reference = ANY($1::text[])`,
        [posted.map((p) => p.reference)],
      )) as Array<{ n: number }>;
      expect(stored[0].n).toBe(posted.length);
      await expectLedgerConsistent();
    }
  });

  it('does not deadlock when a wallet is created by another transaction while a batch waits for a wallet', async () => {
    // The order the database locks them in: w < x < y. x and y exist, w does not yet.
    const [w, x, y] = [randomUUID(), randomUUID(), randomUUID()].sort();
    await inTx((tx) => ledger.creditMany(tx, [aTopUp(x, 1000), aTopUp(y, 1000)]));
    expect(await backendsWaitingForALock()).toBe(0);

    // A posting to y stays open, so the batch below waits for y with whatever it holds by then.
    const holder = dataSource.createQueryRunner();
    await holder.connect();
    let batchOverWxy: ReturnType<typeof running<LedgerPosting[]>>;
    let firstCreditOfW: ReturnType<typeof running<LedgerPosting>>;
    let batchOverWx: ReturnType<typeof running<LedgerPosting[]>>;
    try {
      await holder.startTransaction();
      await ledger.credit(holder.manager, aTopUp(y, 1));
      batchOverWxy = running(
        inTx((tx) => ledger.creditMany(tx, [aTopUp(w, 10), aTopUp(x, 10), aTopUp(y, 10)])),
      );
      await untilBlockedOrDone(batchOverWxy, 0);
      expect(batchOverWxy.settled()).toBe(false);
      // Meanwhile w gets its first credit, and another batch over w and x starts.
      firstCreditOfW = running(inTx((tx) => ledger.credit(tx, aTopUp(w, 100))));
      await untilBlockedOrDone(firstCreditOfW, 1);
      const waiting = await backendsWaitingForALock();
      batchOverWx = running(inTx((tx) => ledger.creditMany(tx, [aTopUp(w, 1000), aTopUp(x, 1000)])));
      await untilBlockedOrDone(batchOverWx, waiting);
      await holder.commitTransaction();
    } finally {
      if (holder.isTransactionActive) await holder.rollbackTransaction();
      await holder.release();
    }

    // A deadlock would reject one of them (PostgreSQL picks a victim): nothing is retried.
    const outcomes = await Promise.all([batchOverWxy.outcome, firstCreditOfW.outcome, batchOverWx.outcome]);
    expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
    expect(await ledger.getWallet(w)).toMatchObject({ balanceCents: 1110 });
    expect(await ledger.getWallet(x)).toMatchObject({ balanceCents: 2010 });
    expect(await ledger.getWallet(y)).toMatchObject({ balanceCents: 1011 });
    expect(await seqsOf(w)).toEqual([1, 2, 3]);
    await expectLedgerConsistent();
  });
});
