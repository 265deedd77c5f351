export { LedgerModule } from './ledger.module';
export { LedgerService, MAX_ENTRY_CENTS } from './ledger.service';
export { isLedgerError, LedgerBatchConflict, LedgerError, ledgerErrorStatus } from './ledger.errors';
export type { LedgerErrorCode } from './ledger.errors';
export { canonicalEntry, entryHash, GENESIS_HASH } from './ledger-hash';
export type { HashedFields } from './ledger-hash';
export { ENTRY_KINDS, LEDGER_CURRENCY, toLedgerEntryView } from './ledger.types';
export type {
  BrokenChain,
  CreditInput,
  DebitInput,
  EntryKind,
  HoldInput,
  LedgerEntry,
  LedgerEntryView,
  LedgerMismatch,
  LedgerPosting,
  LedgerVerification,
  Wallet,
  WalletTotals,
} from './ledger.types';
