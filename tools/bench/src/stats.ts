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

/**
 * How long the bench waits for `events` credits before it reports what it has. Scaled for the
 * slowest crediting measured so far (240/s, session 1) with room: 200/s, plus 30 s for a worker
 * that is still starting or retrying.
 */
export function creditDeadlineMs(events: number): number {
  return 30_000 + events * 5;
}

/**
 * The highest sending rate over any `windowMs` of a run, per second, from the sorted send times
 * (ms). Beside a run's average it shows whether the requests came evenly or in bursts.
 */
export function peakRate(sortedAtMs: readonly number[], windowMs: number): number {
  let most = 0;
  let start = 0;
  for (let end = 0; end < sortedAtMs.length; end++) {
    while (sortedAtMs[end] - sortedAtMs[start] >= windowMs) start++;
    most = Math.max(most, end - start + 1);
  }
  return (most * 1000) / windowMs;
}

/** Share of the asked rate a fixed-rate run must reach to count as having held it. */
export const HELD_RATE_SHARE = 0.95;

/**
 * Whether a fixed-rate run held its rate. A run of N requests at R/s spans (N - 1)/R plus the last
 * response, so even a perfect one measures a little under R: the margin is for that, not for a
 * server that falls behind.
 */
export function heldRate(acceptedPerSecond: number, askedRate: number): boolean {
  return acceptedPerSecond >= askedRate * HELD_RATE_SHARE;
}

/** The last credit came at most this long after the last webhook was sent. */
export const KEPT_PACE_DRAIN_LAG_MS = 1_000;
/** And 99% of the webhooks were credited within this long of being sent. */
export const KEPT_PACE_P99_MS = 1_000;

export interface PaceFigures {
  sent: number;
  credited: number;
  /** Last webhook sent → last credit, ms (NaN when not every webhook was credited). */
  drainLagMs: number;
  /** Webhook sent → its credit, 99th percentile, ms. */
  p99Ms: number;
}

/**
 * Credits kept pace with the webhooks when every webhook was credited, the backlog was gone within
 * a second of the last one, and no more than 1% waited a second or longer: a worker that falls
 * behind ends the run with a backlog that takes longer than that to drain.
 */
export function creditsKeptPace(figures: PaceFigures): boolean {
  return (
    figures.sent > 0 &&
    figures.credited === figures.sent &&
    figures.drainLagMs <= KEPT_PACE_DRAIN_LAG_MS &&
    figures.p99Ms < KEPT_PACE_P99_MS
  );
}
