export interface HttpAnswer<T = Record<string, unknown>> {
  /** 0 when the service could not be reached (connection refused, reset or timed out). */
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface CallOptions {
  token?: string;
  idempotencyKey?: string;
  body?: unknown;
  /** Sent as X-Forwarded-For: each simulated client gets its own address. */
  ip?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/**
 * One HTTP call that never throws: a refused or dropped connection is status 0, which is what a
 * load generator under faults needs to count and retry, not an exception to catch everywhere.
 */
export async function call<T = Record<string, unknown>>(
  baseUrl: string,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<HttpAnswer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
  if (options.ip) headers['x-forwarded-for'] = options.ip;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  try {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers,
      body,
      signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
    });
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  } catch {
    return { status: 0, headers: new Headers(), body: null as T, text: '' };
  }
}

/** Polls `probe` until it answers a value (not undefined) or the deadline passes. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 250,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() >= deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
