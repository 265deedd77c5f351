/** Nearest-rank percentile of an already sorted list (empty → NaN). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function sortedCopy(values: Iterable<number>): number[] {
  return [...values].sort((a, b) => a - b);
}

export const round = (value: number, digits = 1): number => Math.round(value * 10 ** digits) / 10 ** digits;

/** `count` per second over a measured span; a span of nothing has no rate (NaN, never Infinity). */
export function ratePerSecond(count: number, seconds: number): number {
  return seconds > 0 ? count / seconds : Number.NaN;
}

/**
 * A load run's wall-clock time, from the first request sent to the last response received, on the
 * monotonic clock. autocannon's own `duration` runs on to its next one-second sampling tick after
 * the last response, so a run that took 2.3 s reports 3.01 s and its rate comes out ~30% low.
 */
export class LoadSpan {
  private first: bigint | null = null;
  private last: bigint | null = null;

  /** Only the first call counts; `at` is for tests. */
  sent(at?: bigint): void {
    if (this.first === null) this.first = at ?? process.hrtime.bigint();
  }

  answered(at: bigint = process.hrtime.bigint()): void {
    this.last = at;
  }

  /** 0 until a response has followed a request. */
  get seconds(): number {
    if (this.first === null || this.last === null || this.last < this.first) return 0;
    return Number(this.last - this.first) / 1e9;
  }
}
