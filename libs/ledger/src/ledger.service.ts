import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { decodeCursor, Page, toPage, toSafeNumber, validationFailed } from '@realapp/platform';
import { LedgerError } from './ledger.errors';
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
  /** Refuses the posting (by throwing) given the locked wallet; only runs for a new reference. */
  guard?: (wallet: LockedWallet) => void;
}

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

function isUniqueViolation(error: unknown): boolean {
  const driverError = (error as { driverError?: { code?: unknown } } | null)?.driverError;
  const code = driverError?.code ?? (error as { code?: unknown } | null)?.code;
  return code === '23505';
}

/**
 * The wallet ledger, and the only code that writes schema `ledger` (SPEC §5).
 *
 * Every posting runs inside the caller's transaction (`tx`) so that the money moves if and only if
 * the caller's own state change commits (an order's hold with the order, a top-up's credit with the
 * top-up's status). Each posting locks the tenant's wallet row first, which serialises the
 * tenant's postings: the sequence numbers, the hash chain and the cached totals stay consistent,
 * and two postings with the same reference cannot both pass the existence check.
 */
@Injectable()
export class LedgerService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** A credit: a top-up, or an ops adjustment in the tenant's favour. */
  async credit(tx: EntityManager, input: CreditInput): Promise<LedgerPosting> {
    if (input.kind !== 'topup' && input.kind !== 'adjustment') {
      throw new LedgerError('invalid_entry', `A credit cannot be of kind ${String(input.kind)}.`);
    }
    assertAmount(input.amountCents);
    return this.post(tx, {
      tenantId: input.tenantId,
      kind: input.kind,
      amountCents: input.amountCents,
      heldDeltaCents: 0,
      reference: input.reference,
      metadata: input.metadata,
    });
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
            if (available < input.amountCents) {
              throw new LedgerError('insufficient_balance', 'The adjustment exceeds the available balance.', {
                availableCents: available,
                amountCents: input.amountCents,
              });
            }
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
        if (available < input.amountCents) {
          throw new LedgerError('insufficient_balance', 'The wallet does not cover this amount.', {
            availableCents: available,
            amountCents: input.amountCents,
          });
        }
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
      guard: (wallet) => this.assertHeld(wallet, input.amountCents),
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
      guard: (wallet) => this.assertHeld(wallet, input.amountCents),
    });
  }

  /** The cached wallet, zeros for a tenant that never had an entry. Reads outside any transaction. */
  async getWallet(tenantId: string, tx?: EntityManager): Promise<Wallet> {
    assertTenantId(tenantId);
    const rows = (await (tx ?? this.dataSource).query(
      `SELECT tenant_id, balance_cents, held_cents, currency, updated_at FROM ledger.wallets WHERE tenant_id = $1`,
      [tenantId],
    )) as WalletRow[];
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
    const rows = (await (tx ?? this.dataSource).query(
      `SELECT ${ENTRY_COLUMNS} FROM ledger.entries WHERE reference = $1`,
      [reference],
    )) as EntryRow[];
    return rows[0] ? toEntry(rows[0]) : null;
  }

  /**
   * The tenant's entries, newest first. Keyset on the wallet's sequence number, which orders
   * entries exactly even when two share a millisecond; the cursor carries it as its id.
   */
  async listEntries(tenantId: string, limit: number, cursor?: string): Promise<Page<LedgerEntryView>> {
    assertTenantId(tenantId);
    const position = decodeCursor(cursor);
    if (position && !/^[1-9]\d{0,15}$/.test(position.id)) {
      throw validationFailed([{ field: 'cursor', message: 'cursor is malformed' }]);
    }
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
   */
  async verifyAll(): Promise<LedgerVerification> {
    const mismatches: LedgerMismatch[] = [];
    const brokenChains: BrokenChain[] = [];
    let wallets = 0;
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const batch = (await this.dataSource.query(
        `SELECT tenant_id, balance_cents, held_cents, last_seq, last_entry_id, last_hash FROM ledger.wallets
         WHERE tenant_id > $1 ORDER BY tenant_id LIMIT $2`,
        [after, VERIFY_BATCH],
      )) as WalletRow[];
      if (batch.length === 0) break;
      for (const wallet of batch) {
        wallets++;
        await this.verifyWallet(wallet, mismatches, brokenChains);
      }
      after = batch[batch.length - 1].tenant_id;
    }
    return { ok: mismatches.length === 0 && brokenChains.length === 0, wallets, mismatches, brokenChains };
  }

  private async verifyWallet(
    wallet: WalletRow,
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
    // One snapshot for the wallet row and its entries: postings that commit while we verify (the
    // platform keeps working) are neither seen half-applied nor reported as mismatches, and an
    // entry inserted behind the ledger's back still shows up as a break.
    await this.dataSource.transaction('REPEATABLE READ', async (tx) => {
      const [current] = (await tx.query(`SELECT * FROM ledger.wallets WHERE tenant_id = $1`, [
        tenantId,
      ])) as WalletRow[];
      if (current) wallet = current;
      for (;;) {
        const rows = (await tx.query(
          `SELECT ${ENTRY_COLUMNS} FROM ledger.entries WHERE tenant_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3`,
          [tenantId, expectedSeq, VERIFY_BATCH],
        )) as EntryRow[];
        if (rows.length === 0) break;
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
      }
    });
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

  private assertHeld(wallet: LockedWallet, amountCents: number): void {
    if (wallet.heldCents < amountCents) {
      throw new LedgerError('insufficient_held', 'The wallet does not hold this much.', {
        heldCents: wallet.heldCents,
        amountCents,
      });
    }
  }

  /** Locks the tenant's wallet row, creating the wallet on first use. */
  private async lockWallet(tx: EntityManager, tenantId: string): Promise<LockedWallet> {
    const select = `SELECT tenant_id, balance_cents, held_cents, last_seq, last_hash FROM ledger.wallets WHERE tenant_id = $1 FOR UPDATE`;
    let rows = (await tx.query(select, [tenantId])) as WalletRow[];
    if (rows.length === 0) {
      // Two first postings at once: one inserts, the other waits on the insert and then finds the row.
      await tx.query(
        `INSERT INTO ledger.wallets (tenant_id, currency) VALUES ($1, $2) ON CONFLICT (tenant_id) DO NOTHING`,
        [tenantId, LEDGER_CURRENCY],
      );
      rows = (await tx.query(select, [tenantId])) as WalletRow[];
    }
    const row = rows[0];
    return {
      tenantId,
      balanceCents: toSafeNumber(row.balance_cents),
      heldCents: toSafeNumber(row.held_cents),
      lastSeq: toSafeNumber(row.last_seq),
      lastHash: row.last_hash,
    };
  }

  private async post(tx: EntityManager, posting: Posting): Promise<LedgerPosting> {
    assertTenantId(posting.tenantId);
    assertReference(posting.reference);
    if (!(ENTRY_KINDS as readonly string[]).includes(posting.kind)) {
      throw new LedgerError('invalid_entry', `Unknown entry kind ${String(posting.kind)}.`);
    }
    const wallet = await this.lockWallet(tx, posting.tenantId);

    // Under the wallet lock, a committed entry with this reference is visible (READ COMMITTED takes
    // a fresh snapshot per statement), so a repeat finds it instead of posting twice.
    const existing = (await tx.query(`SELECT ${ENTRY_COLUMNS} FROM ledger.entries WHERE reference = $1`, [
      posting.reference,
    ])) as EntryRow[];
    if (existing[0]) return { entry: this.sameOrConflict(toEntry(existing[0]), posting), applied: false };

    posting.guard?.(wallet);
    const balanceAfterCents = wallet.balanceCents + posting.amountCents;
    const heldAfterCents = wallet.heldCents + posting.heldDeltaCents;
    if (
      !Number.isSafeInteger(balanceAfterCents) ||
      Math.abs(balanceAfterCents) > Number.MAX_SAFE_INTEGER / 2
    ) {
      throw new LedgerError('balance_out_of_range', 'The balance would leave the exact range.');
    }
    if (heldAfterCents < 0) {
      throw new LedgerError('insufficient_held', 'The wallet does not hold this much.', {
        heldCents: wallet.heldCents,
      });
    }

    const entry: LedgerEntry = {
      id: randomUUID(),
      tenantId: posting.tenantId,
      seq: wallet.lastSeq + 1,
      kind: posting.kind,
      amountCents: posting.amountCents,
      heldDeltaCents: posting.heldDeltaCents,
      balanceAfterCents,
      heldAfterCents,
      reference: posting.reference,
      metadata: posting.metadata ?? {},
      prevHash: wallet.lastHash,
      hash: '',
      // Milliseconds exactly: the hash covers the ISO text, which must read back identically.
      createdAt: new Date(),
    };
    entry.hash = entryHash(entry.prevHash, entry);

    try {
      await tx.query(
        `INSERT INTO ledger.entries (${ENTRY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13)`,
        [
          entry.id,
          entry.tenantId,
          entry.seq,
          entry.kind,
          entry.amountCents,
          entry.heldDeltaCents,
          entry.balanceAfterCents,
          entry.heldAfterCents,
          entry.reference,
          JSON.stringify(entry.metadata),
          entry.prevHash,
          entry.hash,
          entry.createdAt,
        ],
      );
    } catch (error) {
      // Only another tenant's wallet can race us to a reference (ours is locked): a caller bug.
      if (isUniqueViolation(error)) {
        throw new LedgerError('reference_conflict', 'This reference belongs to another posting.', {
          reference: posting.reference,
        });
      }
      throw error;
    }
    await tx.query(
      `UPDATE ledger.wallets SET balance_cents = $2, held_cents = $3, last_seq = $4, last_entry_id = $5, last_hash = $6, updated_at = $7
       WHERE tenant_id = $1`,
      [entry.tenantId, balanceAfterCents, heldAfterCents, entry.seq, entry.id, entry.hash, entry.createdAt],
    );
    return { entry, applied: true };
  }

  private sameOrConflict(entry: LedgerEntry, posting: Posting): LedgerEntry {
    if (
      entry.tenantId !== posting.tenantId ||
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
