export const ENTRY_KINDS = [
  'topup',
  'hold',
  'hold_release',
  'spend',
  'refund',
  'chargeback',
  'adjustment',
] as const;
export type EntryKind = (typeof ENTRY_KINDS)[number];

export const LEDGER_CURRENCY = 'BRL';

/** One posting as the ledger stores it. */
export interface LedgerEntry {
  id: string;
  tenantId: string;
  seq: number;
  kind: EntryKind;
  /** Signed effect on the balance: + for credits, − for debits, 0 for holds and releases. */
  amountCents: number;
  /** Signed effect on the held amount: + for a hold, − for a release or a spend, else 0. */
  heldDeltaCents: number;
  balanceAfterCents: number;
  heldAfterCents: number;
  reference: string;
  metadata: Record<string, unknown>;
  prevHash: string;
  hash: string;
  createdAt: Date;
}

/**
 * What `GET /v1/billing/ledger` shows (SPEC §5) plus `heldDeltaCents`: a hold or a release has
 * `amountCents` 0 because it does not move the balance, so without the held delta the app could
 * not show how much budget an order reserved or gave back.
 */
export interface LedgerEntryView {
  id: string;
  kind: EntryKind;
  amountCents: number;
  heldDeltaCents: number;
  balanceAfterCents: number;
  reference: string;
  createdAt: string;
}

export interface Wallet {
  tenantId: string;
  balanceCents: number;
  heldCents: number;
  /** balance − held; negative after a refund or chargeback of money already spent or held. */
  availableCents: number;
  currency: string;
  /** null for a tenant that never had an entry. */
  updatedAt: Date | null;
}

/** The result of every posting method. `applied: false` means the reference existed: nothing changed. */
export interface LedgerPosting {
  entry: LedgerEntry;
  applied: boolean;
}

export interface CreditInput {
  tenantId: string;
  kind: 'topup' | 'adjustment';
  amountCents: number;
  reference: string;
  metadata?: Record<string, unknown>;
}

export interface DebitInput {
  tenantId: string;
  kind: 'refund' | 'chargeback' | 'adjustment';
  amountCents: number;
  reference: string;
  metadata?: Record<string, unknown>;
  /**
   * Refunds and chargebacks always post, even below zero (the money is already gone). An
   * `adjustment` debit is refused with `insufficient_balance` when it exceeds the available amount,
   * unless ops say it may take the wallet negative.
   */
  allowNegative?: boolean;
}

export interface HoldInput {
  tenantId: string;
  amountCents: number;
  reference: string;
  metadata?: Record<string, unknown>;
}

export interface LedgerMismatch {
  tenantId: string;
  field: 'balance' | 'held';
  cachedCents: number;
  computedCents: number;
}

export interface BrokenChain {
  tenantId: string;
  seq: number;
  entryId: string | null;
  reason:
    'hash_mismatch' | 'prev_hash_mismatch' | 'seq_gap' | 'running_total_mismatch' | 'wallet_head_mismatch';
}

export interface LedgerVerification {
  ok: boolean;
  wallets: number;
  mismatches: LedgerMismatch[];
  brokenChains: BrokenChain[];
}

export interface WalletTotals {
  balanceCents: number;
  heldCents: number;
  availableCents: number;
}

export function toLedgerEntryView(entry: LedgerEntry): LedgerEntryView {
  return {
    id: entry.id,
    kind: entry.kind,
    amountCents: entry.amountCents,
    heldDeltaCents: entry.heldDeltaCents,
    balanceAfterCents: entry.balanceAfterCents,
    reference: entry.reference,
    createdAt: entry.createdAt.toISOString(),
  };
}
