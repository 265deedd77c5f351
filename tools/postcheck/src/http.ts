export interface HttpResult<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
  text: string;
}

export interface HttpCall {
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  /** An object is sent as JSON; a string is sent as is (a signed webhook must keep its exact bytes). */
  body?: unknown;
}

/**
 * A small JSON client for the postcheck: every call carries a correlation id derived from the run,
 * so a failing check can be found in the services' logs (`grep <run id>`).
 */
export class HttpClient {
  private sequence = 0;

  constructor(
    readonly runId: string,
    private readonly log: ((line: string) => void) | null,
    private readonly timeoutMs = 30_000,
  ) {}

  async call<T = Record<string, unknown>>(request: HttpCall): Promise<HttpResult<T>> {
    const correlationId = `postcheck-${this.runId}-${++this.sequence}`;
    const headers: Record<string, string> = {
      accept: 'application/json',
      'x-correlation-id': correlationId,
      ...request.headers,
    };
    let body: string | undefined;
    if (typeof request.body === 'string') body = request.body;
    else if (request.body !== undefined) {
      body = JSON.stringify(request.body);
      headers['content-type'] ??= 'application/json';
    }
    let response: Response;
    try {
      response = await fetch(request.url, {
        method: request.method,
        headers,
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new Error(
        `${request.method} ${request.url} did not answer: ${error instanceof Error ? error.message : String(error)} (correlation id ${correlationId})`,
      );
    }
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text.length ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text, the check will say what it expected
    }
    this.log?.(`      ${request.method} ${request.url} → ${response.status} (${correlationId})`);
    return { status: response.status, body: parsed as T, headers: response.headers, text };
  }
}

/** Polls `probe` until it returns a value that is not undefined, or throws with the last reason. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() >= deadline)
      throw new Error(`${what}: not within ${Math.round(timeoutMs / 1000)} s (${last})`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
