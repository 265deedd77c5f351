import { AppError } from '@realapp/platform';

export type LedgerErrorCode =
  /** A hold (or a guarded debit) asks for more than balance − held. */
  | 'insufficient_balance'
  /** A release or spend asks for more than the wallet holds. */
  | 'insufficient_held'
  /** Not a positive safe integer of cents within the per-entry limit. */
  | 'invalid_amount'
  /** A malformed tenant id, reference or kind: a programming error of the caller. */
  | 'invalid_entry'
  /** The reference was already used for a different posting (other tenant, kind or amount). */
  | 'reference_conflict'
  /** The result would leave the range money can be exact in (|cents| > 2^53 − 1). */
  | 'balance_out_of_range';

export function ledgerErrorStatus(code: LedgerErrorCode): number {
  switch (code) {
    case 'insufficient_balance':
    case 'balance_out_of_range':
      return 422;
    case 'insufficient_held':
    case 'reference_conflict':
      return 409;
    case 'invalid_amount':
    case 'invalid_entry':
      return 400;
  }
}

/** The ledger's one error class; rendered as problem+json by the platform's filter. */
export class LedgerError extends AppError {
  declare readonly code: LedgerErrorCode;

  constructor(code: LedgerErrorCode, detail: string, extra: Record<string, unknown> = {}) {
    super(code, ledgerErrorStatus(code), detail, extra);
    this.name = 'LedgerError';
  }
}

export function isLedgerError(error: unknown, code?: LedgerErrorCode): error is LedgerError {
  return error instanceof LedgerError && (code === undefined || error.code === code);
}

/**
 * `creditMany` could not post its batch as one: a reference was posted before (or twice in the
 * batch). Not a LedgerError on purpose: no client ever sees it, and a repeated reference is not a
 * failure one by one (it answers `applied: false`), so it has no code or status of its own. The
 * batch's entries may already be written in the caller's transaction and entries cannot be
 * deleted: the caller rolls the transaction back, then posts the batch one by one.
 */
export class LedgerBatchConflict extends Error {
  constructor(readonly references: readonly string[]) {
    super(`Already posted, or repeated in the batch: ${references.join(', ')}.`);
    this.name = 'LedgerBatchConflict';
  }
}
