import { createHash } from 'node:crypto';
import { EntryKind } from './ledger.types';

/** The `prev_hash` of a wallet's first entry. */
export const GENESIS_HASH = '0'.repeat(64);

export interface HashedFields {
  tenantId: string;
  seq: number;
  kind: EntryKind;
  amountCents: number;
  heldDeltaCents: number;
  balanceAfterCents: number;
  heldAfterCents: number;
  reference: string;
  createdAt: Date;
}

/**
 * The canonical text of an entry: a JSON array in a fixed order, so the same entry always hashes
 * the same whatever the object's key order. Metadata is left out on purpose: it is descriptive and
 * may carry provider detail whose serialisation we do not control.
 */
export function canonicalEntry(entry: HashedFields): string {
  return JSON.stringify([
    entry.tenantId,
    entry.seq,
    entry.kind,
    entry.amountCents,
    entry.heldDeltaCents,
    entry.balanceAfterCents,
    entry.heldAfterCents,
    entry.reference,
    entry.createdAt.toISOString(),
  ]);
}

/** sha256(prev_hash ‖ "\n" ‖ canonical entry): changing or removing any entry breaks every later hash. */
export function entryHash(prevHash: string, entry: HashedFields): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonicalEntry(entry)).digest('hex');
}
