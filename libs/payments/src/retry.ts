/**
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"):
 * a uniform delay in [0, min(max, base × 2^attempt)]. Full jitter spreads replicas that failed
 * together so they do not retry together.
 *
 * `attempt` is 0 for the wait before the first retry.
 */
export function backoffDelayMs(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  const unit = Math.min(Math.max(random(), 0), 1);
  return Math.floor(unit * ceiling);
}

const IMF_FIXDATE = /^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * `Retry-After` as milliseconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3).
 * Anything unreadable is `null`, so the caller falls back to its own backoff.
 */
export function parseRetryAfterMs(value: string | null | undefined, nowMs: number): number | null {
  if (value === null || value === undefined) return null;
  const text = value.trim();
  if (text.length === 0) return null;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Only the IMF-fixdate form: Date.parse alone happily reads "1.5" or "-1" as dates.
  if (!IMF_FIXDATE.test(text)) return null;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - nowMs);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
