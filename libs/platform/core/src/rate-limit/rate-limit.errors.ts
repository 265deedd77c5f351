import { AppError } from '../http/app-error';

/** Which of the SPEC §3 limits refused a request (also the `limit` label of the metrics). */
export type RateLimitKind = 'ip' | 'tenant_writes' | 'tenant_concurrency';

const DETAIL: Record<RateLimitKind, string> = {
  ip: 'Too many requests from this address; retry after the time in Retry-After.',
  tenant_writes: 'Too many write requests for this tenant; retry after the time in Retry-After.',
  tenant_concurrency:
    'Too many requests of this tenant are running at once; retry after the time in Retry-After.',
};

/** 429 problem+json `too_many_requests` with `Retry-After` in whole seconds (at least 1). */
export function tooManyRequests(limit: RateLimitKind, retryAfterMs: number): AppError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new AppError('too_many_requests', 429, DETAIL[limit], {
    limit,
    retryAfterSeconds: seconds,
    headers: { 'retry-after': String(seconds) },
  });
}
