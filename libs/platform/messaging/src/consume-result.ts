/**
 * What a handler wants done with its message, as a value rather than a side effect (STYLE.md):
 * `ack` after the effect committed; `retry` later with a growing delay; `dead_letter` now,
 * because trying again cannot help.
 */
export type ConsumeResult =
  { kind: 'ack' } | { kind: 'retry'; reason: string } | { kind: 'dead_letter'; reason: string };

export const ack = (): ConsumeResult => ({ kind: 'ack' });
export const retryLater = (reason: string): ConsumeResult => ({ kind: 'retry', reason });
export const deadLetter = (reason: string): ConsumeResult => ({ kind: 'dead_letter', reason });

/** Errors that say whether trying again could help (PaymentsError, MetaAdsError, …). */
export function isPermanentError(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === false
  );
}

/** What a handler's throw means for its message: dead-lettered when trying again cannot help, else retried. */
export function failureResult(error: unknown): ConsumeResult {
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return isPermanentError(error) ? deadLetter(reason) : retryLater(reason);
}
