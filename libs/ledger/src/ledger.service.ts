import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { DataSource, EntityManager } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { decodeCursor, Page, toPage, toSafeNumber } from '@realapp/platform';
import { LedgerBatchConflict, LedgerError } from './ledger.errors';
import { entryHash, GENESIS_HASH } from './ledger-hash';
import {
  BrokenChain,
  CreditInput,
  DebitInput,
  EntryKind,
  ENTRY_KINDS,
  HoldInput,
  LEDGER_CURRENCY,
  LedgerEntry,
  LedgerEntryView,
  LedgerMismatch,
  LedgerPosting,
  LedgerVerification,
  toLedgerEntryView,
  Wallet,
  WalletTotals,
} from './ledger.types';

/** The largest single posting: far above any top-up (R$ 1 000 000) and far below 2^53. */
export const MAX_ENTRY_CENTS = 1_000_000_000_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const VERIFY_BATCH = 1000;

interface WalletRow {
  tenant_id: string;
  balance_cents: string;
  held_cents: string;
  currency: string;
  last_seq: string;
  last_entry_id: string | null;
  last_hash: string;
  updated_at: Date;
}

interface EntryRow {
  id: string;
  tenant_id: string;
  seq: string;
  kind: EntryKind;
  amount_cents: string;
  held_delta_cents: string;
  balance_after_cents: string;
  held_after_cents: string;
  reference: string;
  metadata: Record<string, unknown> | null;
  prev_hash: string;
  hash: string;
  created_at: Date;
}

interface LockedWallet {
  tenantId: string;
  balanceCents: number;
  heldCents: number;
  lastSeq: number;
  lastHash: string;
}

interface Posting {
  tenantId: string;
  kind: EntryKind;
  amountCents: number;
  heldDeltaCents: number;
  reference: string;
  metadata?: Record<string, unknown>;
  /** Why the locked wallet cannot take this posting, or null; a refusal stands only for a new reference. */
  guard?: (wallet: LockedWallet) => LedgerError | null;
}

/** `GET /v1/billing/wallet`, the hottest read: one primary-key lookup, prepared once per connection. */
const WALLET_SQL = `SELECT balance_cents, held_cents, currency, updated_at FROM ledger.wallets WHERE tenant_id = $1`;

const ENTRY_COLUMNS = `id, tenant_id, seq, kind, amount_cents, held_delta_cents, balance_after_cents, held_after_cents,
  reference, metadata, prev_hash, hash, created_at`;

function toEntry(row: EntryRow): LedgerEntry {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    seq: toSafeNumber(row.seq),
    kind: row.kind,
    amountCents: toSafeNumber(row.amount_cents),
    heldDeltaCents: toSafeNumber(row.held_delta_cents),
    balanceAfterCents: toSafeNumber(row.balance_after_cents),
    heldAfterCents: toSafeNumber(row.held_after_cents),
    reference: row.reference,
    metadata: row.metadata ?? {},
    prevHash: row.prev_hash,
    hash: row.hash,
    createdAt: row.created_at,
  };
}

function assertTenantId(tenantId: string): void {
  if (typeof tenantId !== 'string' || !UUID.test(tenantId)) {
    throw new LedgerError('invalid_entry', 'The tenant id is not a UUID.');
  }
}

function assertAmount(amountCents: number): void {
  if (!Number.isSafeInteger(amountCents) || amountCents <= 0 || amountCents > MAX_ENTRY_CENTS) {
    throw new LedgerError(
      'invalid_amount',
      `Amount ${String(amountCents)} is not a positive integer number of cents within range.`,
      {
        amountCents,
      },
    );
  }
}

function assertReference(reference: string): void {
  if (typeof reference !== 'string' || reference.length === 0 || reference.length > 255) {
    throw new LedgerError('invalid_entry', 'A ledger reference is 1..255 characters.');
  }
}

function toLockedWallet(tenantId: string, row: WalletRow): LockedWallet {
  return {
    tenantId,
    balanceCents: toSafeNumber(row.balance_cents),
    heldCents: toSafeNumber(row.held_cents),
    lastSeq: toSafeNumber(row.last_seq),
    lastHash: row.last_hash,
  };
}

function emptyWallet(tenantId: string): LockedWallet {
  return { tenantId, balanceCents: 0, heldCents: 0, lastSeq: 0, lastHash: GENESIS_HASH };
}

function heldShortfall(wallet: LockedWallet, amountCents: number): LedgerError | null {
  return wallet.heldCents < amountCents
    ? new LedgerError('insufficient_held', 'The wallet does not hold this much.', {
        heldCents: wallet.heldCents,
        amountCents,
      })
    : null;
}

/** Why `wallet` cannot take `posting` (its own guard first, then the ledger's ranges), or null. */
function refusalOf(wallet: LockedWallet, posting: Posting): LedgerError | null {
  const refused = posting.guard?.(wallet);
  if (refused) return refused;
  const balanceAfterCents = wallet.balanceCents + posting.amountCents;
  if (!Number.isSafeInteger(balanceAfterCents) || Math.abs(balanceAfterCents) > Number.MAX_SAFE_INTEGER / 2) {
    return new LedgerError('balance_out_of_range', 'The balance would leave the exact range.');
  }
  if (wallet.heldCents + posting.heldDeltaCents < 0) {
    return new LedgerError('insufficient_held', 'The wallet does not hold this much.', {
      heldCents: wallet.heldCents,
    });
  }
  return null;
}

/** A credit as the ledger posts it: a top-up, or an ops adjustment in the tenant's favour. */
function creditPosting(input: CreditInput): Posting {
  if (input.kind !== 'topup' && input.kind !== 'adjustment') {
    throw new LedgerError('invalid_entry', `A credit cannot be of kind ${String(input.kind)}.`);
  }
  assertAmount(input.amountCents);
  return {
    tenantId: input.tenantId,
    kind: input.kind,
    amountCents: input.amountCents,
    heldDeltaCents: 0,
    reference: input.reference,
    metadata: input.metadata,
  };
}

/**
 * The entry `posting` appends to the chain whose head is `wallet` (locked, and already checked by
 * `refusalOf`): the next seq, the running totals, and the hash over the previous link. The one place
 * an entry is built, so a single posting and a batch cannot chain differently.
 */
function nextEntry(wallet: LockedWallet, posting: Posting): LedgerEntry {
  const entry: LedgerEntry = {
    id: randomUUID(),
    // PostgreSQL reads a uuid in either case and answers it in lower case, which is what verify
    // rehashes: the hash must cover that form, whatever case the caller wrote.
    tenantId: posting.tenantId.toLowerCase(),
    seq: wallet.lastSeq + 1,
    kind: posting.kind,
    amountCents: posting.amountCents,
    heldDeltaCents: posting.heldDeltaCents,
    balanceAfterCents: wallet.balanceCents + posting.amountCents,
    heldAfterCents: wallet.heldCents + posting.heldDeltaCents,
    reference: posting.reference,
    metadata: posting.metadata ?? {},
    prevHash: wallet.lastHash,
    hash: '',
    // Milliseconds exactly: the hash covers the ISO text, which must read back identically.
    createdAt: new Date(),
  };
  entry.hash = entryHash(entry.prevHash, entry);
  return entry;
}

/** The wallet as it stands once `entry` is posted: the head the next entry of the batch chains to. */
function headAfter(wallet: LockedWallet, entry: LedgerEntry): LockedWallet {
  return {
    tenantId: wallet.tenantId,
    balanceCents: entry.balanceAfterCents,
    heldCents: entry.heldAfterCents,
    lastSeq: entry.seq,
    lastHash: entry.hash,
  };
}

/** Each value that occurs more than once, once. */
function repeatedValues(values: readonly string[]): string[] {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const value of values) {
    if (seen.has(value)) repeated.add(value);
    seen.add(value);
  }
  return [...repeated];
}

async function entryByReference(
  runner: Pick<EntityManager, 'query'>,
  reference: string,
): Promise<LedgerEntry | null> {
  const rows = (await runner.query(`SELECT ${ENTRY_COLUMNS} FROM ledger.entries WHERE reference = $1`, [
    reference,
  ])) as EntryRow[];
  return rows[0] ? toEntry(rows[0]) : null;
}

/**
 * Inserts entries, one or many, in one statement over arrays; answers the ids written. A reference
 * already posted (committed, or in a transaction the insert then waits for) writes nothing.
 */
async function insertEntries(tx: EntityManager, entries: readonly LedgerEntry[]): Promise<Set<string>> {
  const inserted = (await tx.query(
    `INSERT INTO ledger.entries (${ENTRY_COLUMNS})
     SELECT id, tenant_id, seq, kind, amount_cents, held_delta_cents, balance_after_cents, held_after_cents,
       reference, metadata::jsonb, prev_hash, hash, created_at
     FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[],
       $8::bigint[], $9::text[], $10::text[], $11::text[], $12::text[], $13::timestamptz[])
       AS v(id, tenant_id, seq, kind, amount_cents, held_delta_cents, balance_after_cents, held_after_cents,
         reference, metadata, prev_hash, hash, created_at)
     ON CONFLICT (reference) DO NOTHING RETURNING id`,
    [
      entries.map((e) => e.id),
      entries.map((e) => e.tenantId),
      entries.map((e) => e.seq),
      entries.map((e) => e.kind),
      entries.map((e) => e.amountCents),
      entries.map((e) => e.heldDeltaCents),
      entries.map((e) => e.balanceAfterCents),
      entries.map((e) => e.heldAfterCents),
      entries.map((e) => e.reference),
      entries.map((e) => JSON.stringify(e.metadata)),
      entries.map((e) => e.prevHash),
      entries.map((e) => e.hash),
      // ISO text in UTC: the exact millisecond the hash covers, whatever the session's time zone.
      entries.map((e) => e.createdAt.toISOString()),
    ],
  )) as Array<{ id: string }>;
  return new Set(inserted.map((row) => row.id));
}

/** Moves each wallet's head (cached totals, last seq, id and hash) to the last of its new entries given. */
async function advanceWallets(tx: EntityManager, heads: readonly LedgerEntry[]): Promise<void> {
  await tx.query(
    `UPDATE ledger.wallets w SET balance_cents = v.balance_cents, held_cents = v.held_cents, last_seq = v.last_seq,
       last_entry_id = v.last_entry_id, last_hash = v.last_hash, updated_at = v.updated_at
     FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::uuid[], $6::text[], $7::timestamptz[])
       AS v(tenant_id, balance_cents, held_cents, last_seq, last_entry_id, last_hash, updated_at)
     WHERE w.tenant_id = v.tenant_id`,
    [
      heads.map((e) => e.tenantId),
      heads.map((e) => e.balanceAfterCents),
      heads.map((e) => e.heldAfterCents),
      heads.map((e) => e.seq),
      heads.map((e) => e.id),
      heads.map((e) => e.hash),
      heads.map((e) => e.createdAt.toISOString()),
    ],
  );
}

/**
 * The wallet ledger, and the only code that writes schema `ledger` (SPEC §5).
 *
 * Every posting runs inside the caller's transaction (`tx`) so that the money moves if and only if
 * the caller's own state change commits (an order's hold with the order, a top-up's credit with the
 * top-up's status). Each posting locks the tenant's wallet row first, which serialises the
 * tenant's postings: the sequence numbers, the hash chain and the cached totals stay consistent.
 * The reference's unique index decides which of two postings with the same reference is the first;
 * the other writes nothing and answers the first one's entry.
 */
@Injectable()
export class LedgerService {
  private readPool: Pool | undefined;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * node-pg's pool behind the data source, for reads outside a transaction on the hot path: a named
   * statement is parsed and planned once per connection, and TypeORM's query runner (created and
   * released per call) adds nothing a single statement needs. Resolved on first use because the
   * pool exists only once the data source is initialised.
   */
  private pool(): Pool {
    if (!this.readPool) {
      const driver = this.dataSource.driver;
      if (!(driver instanceof PostgresDriver)) throw new Error('LedgerService needs PostgreSQL');
      this.readPool = driver.master as Pool;
    }
    return this.readPool;
  }

  /** A credit: a top-up, or an ops adjustment in the tenant's favour. */
  async credit(tx: EntityManager, input: CreditInput): Promise<LedgerPosting> {
    return this.post(tx, creditPosting(input));
  }

  /**
   * Many credits in the caller's transaction, in a fixed number of statements whatever their count:
   * create the wallets that do not exist yet, lock every wallet, insert every entry, update every
   * wallet. Each tenant's entries chain in input order, exactly as one `credit()` after another
   * would chain them; the postings come back in input order.
   *
   * Wallets are created before any is locked, and both statements go in tenant order. Locking first
   * would cost a statement less when every wallet exists, but a wallet created by someone else after
   * that lock would then have to be locked out of order, behind wallets this batch already holds: two
   * batches can deadlock there (the batch spec reproduces it). This way a batch only waits for a
   * tenant later than every one it holds, so batches and single postings (which hold one wallet)
   * cannot deadlock one another.
   *
   * Throws LedgerBatchConflict when any reference was posted before or appears twice in `inputs`,
   * and the LedgerError of a credit the wallet refuses (`balance_out_of_range`). The batch's wallets
   * and entries may already be written then, and entries are never deleted: the caller rolls its
   * transaction back and posts one by one, where a repeat answers `applied: false`.
   */
  async creditMany(tx: EntityManager, inputs: readonly CreditInput[]): Promise<LedgerPosting[]> {
    const postings = inputs.map((input) => {
      const posting = creditPosting(input);
      assertTenantId(posting.tenantId);
      assertReference(posting.reference);
      return posting;
    });
    const repeated = repeatedValues(postings.map((posting) => posting.reference));
    if (repeated.length > 0) throw new LedgerBatchConflict(repeated);
    if (postings.length === 0) return [];

    // PostgreSQL reads a uuid in either case, and answers it in lower case: one wallet either way.
    const walletOf = (posting: Posting): string => posting.tenantId.toLowerCase();
    const tenantIds = [...new Set(postings.map(walletOf))].sort();
    await tx.query(
      `INSERT INTO ledger.wallets (tenant_id, currency) SELECT t, $2 FROM unnest($1::uuid[]) AS t ORDER BY t
       ON CONFLICT (tenant_id) DO NOTHING`,
      [tenantIds, LEDGER_CURRENCY],
    );
    const rows = (await tx.query(
      `SELECT tenant_id, balance_cents, held_cents, last_seq, last_hash FROM ledger.wallets
       WHERE tenant_id = ANY($1::uuid[]) ORDER BY tenant_id FOR UPDATE`,
      [tenantIds],
    )) as WalletRow[];
    const heads = new Map(rows.map((row) => [row.tenant_id, toLockedWallet(row.tenant_id, row)]));
    const lastEntries = new Map<string, LedgerEntry>();
    const entries = postings.map((posting) => {
      const tenantId = walletOf(posting);
      const head = heads.get(tenantId);
      // Wallets are never deleted (a trigger refuses it), and this transaction created the missing ones.
      if (!head) throw new Error(`ledger wallet ${tenantId} vanished after it was created`);
      const refusal = refusalOf(head, posting);
      if (refusal) throw refusal;
      const entry = nextEntry(head, posting);
      heads.set(tenantId, headAfter(head, entry));
      lastEntries.set(tenantId, entry);
      return entry;
    });

    // As for one posting, the reference's unique index says whether each is new; a reference in
    // another transaction's uncommitted entry makes the insert wait for that transaction's outcome.
    const written = await insertEntries(tx, entries);
    if (written.size < entries.length) {
      throw new LedgerBatchConflict(entries.filter((e) => !written.has(e.id)).map((e) => e.reference));
    }
    await advanceWallets(tx, [...lastEntries.values()]);
    return entries.map((entry) => ({ entry, applied: true }));
  }

  /**
   * A debit outside the hold/spend cycle. Refunds and chargebacks may take the balance below zero
   * (the provider already took the money back); an adjustment may only with `allowNegative`.
   */
  async debit(tx: EntityManager, input: DebitInput): Promise<LedgerPosting> {
    if (input.kind !== 'refund' && input.kind !== 'chargeback' && input.kind !== 'adjustment') {
      throw new LedgerError('invalid_entry', `A debit cannot be of kind ${String(input.kind)}.`);
    }
    assertAmount(input.amountCents);
    const guarded = input.kind === 'adjustment' && input.allowNegative !== true;
    return this.post(tx, {
      tenantId: input.tenantId,
      kind: input.kind,
      amountCents: -input.amountCents,
      heldDeltaCents: 0,
      reference: input.reference,
      metadata: input.metadata,
      guard: guarded
        ? (wallet) => {
            const available = wallet.balanceCents - wallet.heldCents;
            return available < input.amountCents
              ? new LedgerError('insufficient_balance', 'The adjustment exceeds the available balance.', {
                  availableCents: available,
                  amountCents: input.amountCents,
                })
              : null;
          }
        : undefined,
    });
  }

  /** Reserves budget: the balance is unchanged, the available amount drops. */
  async hold(tx: EntityManager, input: HoldInput): Promise<LedgerPosting> {
    assertAmount(input.amountCents);
    return this.post(tx, {
      tenantId: input.tenantId,
      kind: 'hold',
      amountCents: 0,
      heldDeltaCents: input.amountCents,
      reference: input.reference,
      metadata: input.metadata,
      guard: (wallet) => {
        const available = wallet.balanceCents - wallet.heldCents;
        return available < input.amountCents
          ? new LedgerError('insufficient_balance', 'The wallet does not cover this amount.', {
              availableCents: available,
              amountCents: input.amountCents,
            })
          : null;
      },
    });
  }

  /** Gives reserved budget back to the available amount. */
  async releaseHold(tx: EntityManager, input: HoldInput): Promise<LedgerPosting> {
    assertAmount(input.amountCents);
    return this.post(tx, {
      tenantId: input.tenantId,
      kind: 'hold_release',
      amountCents: 0,
      heldDeltaCents: -input.amountCents,
      reference: input.reference,
      metadata: input.metadata,
      guard: (wallet) => heldShortfall(wallet, input.amountCents),
    });
  }

  /** Captures spend from the held amount: balance and held both drop, the available amount does not move. */
  async spend(tx: EntityManager, input: HoldInput): Promise<LedgerPosting> {
    assertAmount(input.amountCents);
    return this.post(tx, {
      tenantId: input.tenantId,
      kind: 'spend',
      amountCents: -input.amountCents,
      heldDeltaCents: -input.amountCents,
      reference: input.reference,
      metadata: input.metadata,
      guard: (wallet) => heldShortfall(wallet, input.amountCents),
    });
  }

  /** The cached wallet, zeros for a tenant that never had an entry. Reads outside any transaction. */
  async getWallet(tenantId: string, tx?: EntityManager): Promise<Wallet> {
    assertTenantId(tenantId);
    const rows = tx
      ? ((await tx.query(WALLET_SQL, [tenantId])) as WalletRow[])
      : (
          await this.pool().query<WalletRow>({
            name: 'ledger_get_wallet',
            text: WALLET_SQL,
            values: [tenantId],
          })
        ).rows;
    const row = rows[0];
    if (!row) {
      return {
        tenantId,
        balanceCents: 0,
        heldCents: 0,
        availableCents: 0,
        currency: LEDGER_CURRENCY,
        updatedAt: null,
      };
    }
    const balanceCents = toSafeNumber(row.balance_cents);
    const heldCents = toSafeNumber(row.held_cents);
    return {
      tenantId,
      balanceCents,
      heldCents,
      availableCents: balanceCents - heldCents,
      currency: row.currency,
      updatedAt: row.updated_at,
    };
  }

  /**
   * balance − held, read under the wallet's row lock (held until `tx` ends), so a caller that
   * decides on this number (queue the order or let it wait) cannot be overtaken by a concurrent
   * posting before it acts. 0 for a tenant without a wallet; no wallet is created.
   */
  async availableCents(tx: EntityManager, tenantId: string): Promise<number> {
    assertTenantId(tenantId);
    const rows = (await tx.query(
      `SELECT balance_cents, held_cents FROM ledger.wallets WHERE tenant_id = $1 FOR UPDATE`,
      [tenantId],
    )) as WalletRow[];
    const row = rows[0];
    return row ? toSafeNumber(row.balance_cents) - toSafeNumber(row.held_cents) : 0;
  }

  /** The entry a reference produced, if any (e.g. to learn whether an order's hold exists). */
  async findByReference(reference: string, tx?: EntityManager): Promise<LedgerEntry | null> {
    assertReference(reference);
    return entryByReference(tx ?? this.dataSource, reference);
  }

  /**
   * The tenant's entries, newest first. Keyset on the wallet's sequence number, which orders
   * entries exactly even when two share a millisecond; the cursor carries it as its id.
   */
  async listEntries(tenantId: string, limit: number, cursor?: string): Promise<Page<LedgerEntryView>> {
    assertTenantId(tenantId);
    const position = decodeCursor(cursor, 'sequence');
    const params: unknown[] = [tenantId, limit + 1];
    let where = 'tenant_id = $1';
    if (position) {
      params.push(position.id);
      where += ` AND seq < $3::bigint`;
    }
    const rows = (await this.dataSource.query(
      `SELECT ${ENTRY_COLUMNS} FROM ledger.entries WHERE ${where} ORDER BY seq DESC LIMIT $2`,
      params,
    )) as EntryRow[];
    return toPage(
      rows.map(toEntry),
      limit,
      (entry) => ({ at: entry.createdAt.toISOString(), id: String(entry.seq) }),
      toLedgerEntryView,
    );
  }

  /** Sums of every wallet (ops metrics). */
  async totals(): Promise<WalletTotals> {
    const [row] = (await this.dataSource.query(
      `SELECT coalesce(sum(balance_cents), 0)::text AS balance, coalesce(sum(held_cents), 0)::text AS held FROM ledger.wallets`,
    )) as Array<{ balance: string; held: string }>;
    const balanceCents = toSafeNumber(row.balance);
    const heldCents = toSafeNumber(row.held);
    return { balanceCents, heldCents, availableCents: balanceCents - heldCents };
  }

  /**
   * Recomputes every wallet from its entries and checks every hash chain (`GET /v1/ops/ledger/verify`).
   * Reads wallet by wallet in batches, so its memory does not grow with the ledger.
   *
   * Exact while postings go on, without a long transaction: entries are append-only and a posting
   * commits its entry with the wallet row that counts it, so the entries up to the `last_seq` read
   * with a wallet are exactly the ones that row's totals cover, whenever they are read. The highest
   * seq is read in the same statement: an entry beyond the head in that one snapshot was written
   * behind the ledger's back, and is verified (and reported) with the rest.
   */
  async verifyAll(): Promise<LedgerVerification> {
    const mismatches: LedgerMismatch[] = [];
    const brokenChains: BrokenChain[] = [];
    let wallets = 0;
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const batch = (await this.dataSource.query(
        `SELECT w.tenant_id, w.balance_cents, w.held_cents, w.last_seq, w.last_entry_id, w.last_hash,
           greatest(w.last_seq, (SELECT max(e.seq) FROM ledger.entries e WHERE e.tenant_id = w.tenant_id)) AS verify_to
         FROM ledger.wallets w WHERE w.tenant_id > $1 ORDER BY w.tenant_id LIMIT $2`,
        [after, VERIFY_BATCH],
      )) as Array<WalletRow & { verify_to: string }>;
      if (batch.length === 0) break;
      for (const wallet of batch) {
        wallets++;
        await this.verifyWallet(wallet, toSafeNumber(wallet.verify_to), mismatches, brokenChains);
      }
      after = batch[batch.length - 1].tenant_id;
    }
    return { ok: mismatches.length === 0 && brokenChains.length === 0, wallets, mismatches, brokenChains };
  }

  private async verifyWallet(
    wallet: WalletRow,
    verifyTo: number,
    mismatches: LedgerMismatch[],
    broken: BrokenChain[],
  ): Promise<void> {
    const tenantId = wallet.tenant_id;
    let balance = 0;
    let held = 0;
    let expectedSeq = 1;
    let prevHash = GENESIS_HASH;
    let lastId: string | null = null;
    let chainBroken = false;
    while (expectedSeq <= verifyTo) {
      const rows = (await this.dataSource.query(
        `SELECT ${ENTRY_COLUMNS} FROM ledger.entries WHERE tenant_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq LIMIT $4`,
        [tenantId, expectedSeq, verifyTo, VERIFY_BATCH],
      )) as EntryRow[];
      for (const row of rows) {
        const entry = toEntry(row);
        balance += entry.amountCents;
        held += entry.heldDeltaCents;
        if (!chainBroken) {
          const problem =
            entry.seq !== expectedSeq
              ? 'seq_gap'
              : entry.prevHash !== prevHash
                ? 'prev_hash_mismatch'
                : entryHash(prevHash, entry) !== entry.hash
                  ? 'hash_mismatch'
                  : entry.balanceAfterCents !== balance || entry.heldAfterCents !== held
                    ? 'running_total_mismatch'
                    : null;
          if (problem) {
            // Everything after the first break is suspect; report the break once, keep summing.
            broken.push({ tenantId, seq: entry.seq, entryId: entry.id, reason: problem });
            chainBroken = true;
          }
        }
        prevHash = entry.hash;
        lastId = entry.id;
        expectedSeq = entry.seq + 1;
      }
      if (rows.length < VERIFY_BATCH) break;
    }
    const cachedBalance = toSafeNumber(wallet.balance_cents);
    const cachedHeld = toSafeNumber(wallet.held_cents);
    if (cachedBalance !== balance)
      mismatches.push({ tenantId, field: 'balance', cachedCents: cachedBalance, computedCents: balance });
    if (cachedHeld !== held)
      mismatches.push({ tenantId, field: 'held', cachedCents: cachedHeld, computedCents: held });
    if (
      !chainBroken &&
      (toSafeNumber(wallet.last_seq) !== expectedSeq - 1 ||
        wallet.last_hash !== prevHash ||
        wallet.last_entry_id !== lastId)
    ) {
      broken.push({ tenantId, seq: expectedSeq - 1, entryId: lastId, reason: 'wallet_head_mismatch' });
    }
  }

  /** The tenant's wallet row, locked until `tx` ends; null for a tenant that never had one. */
  private async lockWallet(tx: EntityManager, tenantId: string): Promise<LockedWallet | null> {
    const rows = (await tx.query(
      `SELECT balance_cents, held_cents, last_seq, last_hash FROM ledger.wallets WHERE tenant_id = $1 FOR UPDATE`,
      [tenantId],
    )) as WalletRow[];
    return rows[0] ? toLockedWallet(tenantId, rows[0]) : null;
  }

  /**
   * The first posting of a tenant creates its wallet; the row we insert is ours until commit. Two
   * first postings at once: the second one's insert waits for the first to commit, then finds the
   * row and locks it.
   */
  private async createWallet(tx: EntityManager, tenantId: string): Promise<LockedWallet> {
    const inserted = (await tx.query(
      `INSERT INTO ledger.wallets (tenant_id, currency) VALUES ($1, $2) ON CONFLICT (tenant_id) DO NOTHING
       RETURNING balance_cents, held_cents, last_seq, last_hash`,
      [tenantId, LEDGER_CURRENCY],
    )) as WalletRow[];
    if (inserted[0]) return toLockedWallet(tenantId, inserted[0]);
    const wallet = await this.lockWallet(tx, tenantId);
    // Wallets are never deleted (a trigger refuses it), so the conflicting row is there.
    if (!wallet) throw new Error(`ledger wallet ${tenantId} vanished after a conflicting insert`);
    return wallet;
  }

  /**
   * Three statements for a new posting (lock the wallet, insert the entry, update the wallet). The
   * wallet lock serialises the tenant's postings, so the entry built from it (seq, running totals,
   * prev_hash) is the next link of the chain; the reference's unique index then says whether the
   * posting is new, in the insert itself.
   */
  private async post(tx: EntityManager, posting: Posting): Promise<LedgerPosting> {
    assertTenantId(posting.tenantId);
    assertReference(posting.reference);
    if (!(ENTRY_KINDS as readonly string[]).includes(posting.kind)) {
      throw new LedgerError('invalid_entry', `Unknown entry kind ${String(posting.kind)}.`);
    }
    let wallet = await this.lockWallet(tx, posting.tenantId);
    if (!wallet) {
      // Refused on an empty wallet (a hold with no money yet): refuse before creating one, so an
      // order left waiting for money does not give its tenant a wallet row it never had.
      const refusal = refusalOf(emptyWallet(posting.tenantId), posting);
      if (refusal) return this.refused(tx, posting, refusal);
      wallet = await this.createWallet(tx, posting.tenantId);
    }
    const refusal = refusalOf(wallet, posting);
    if (refusal) return this.refused(tx, posting, refusal);

    const entry = nextEntry(wallet, posting);

    // A conflict on the reference means it was posted already: by this tenant before we took the
    // wallet lock (committed, so the insert sees it), or by another tenant (the insert waits for
    // that transaction's outcome). Either way nothing is written and the first entry answers.
    if ((await insertEntries(tx, [entry])).size === 0) return this.repeated(tx, posting);
    await advanceWallets(tx, [entry]);
    return { entry, applied: true };
  }

  /** The wallet refuses the posting, unless the reference was posted already: a repeat answers the first entry. */
  private async refused(tx: EntityManager, posting: Posting, refusal: LedgerError): Promise<LedgerPosting> {
    const existing = await entryByReference(tx, posting.reference);
    if (existing) return { entry: this.sameOrConflict(existing, posting), applied: false };
    throw refusal;
  }

  private async repeated(tx: EntityManager, posting: Posting): Promise<LedgerPosting> {
    // READ COMMITTED: this statement's snapshot includes the conflicting entry the insert waited for.
    const existing = await entryByReference(tx, posting.reference);
    if (!existing) throw new Error(`ledger reference ${posting.reference} conflicted but cannot be read`);
    return { entry: this.sameOrConflict(existing, posting), applied: false };
  }

  private sameOrConflict(entry: LedgerEntry, posting: Posting): LedgerEntry {
    if (
      entry.tenantId !== posting.tenantId.toLowerCase() ||
      entry.kind !== posting.kind ||
      entry.amountCents !== posting.amountCents ||
      entry.heldDeltaCents !== posting.heldDeltaCents
    ) {
      throw new LedgerError(
        'reference_conflict',
        'This reference was already used for a different posting.',
        {
          reference: posting.reference,
        },
      );
    }
    return entry;
  }
}
