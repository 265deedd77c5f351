/** One offending field of a 400 `validation_failed` (SPEC §3). */
export interface FieldError {
  field: string;
  message: string;
}

/** An RFC 9457 problem as the platform and its gateway send it (SPEC §3). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  correlationId: string;
  errors?: FieldError[];
  [member: string]: unknown;
}

/** Codes the client itself gives to failures that carry no problem+json body. */
export const CLIENT_ERROR_CODES = {
  /** The request never got an answer (offline, DNS, connection refused, aborted). */
  network: 'network_error',
  /** An error status whose body is not problem+json (a proxy's HTML page, an empty body). */
  unexpected: 'unexpected_response',
} as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fieldErrors(value: unknown): FieldError[] {
  if (!Array.isArray(value)) return [];
  return value
    .filter(isRecord)
    .map((item) => ({ field: String(item.field ?? ''), message: String(item.message ?? '') }));
}

function retryAfterSeconds(header: string | null): number | null {
  if (header === null) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/**
 * Every failed call of RealAppClient throws this: the problem's `status`, stable `code` (switch on it),
 * `detail`, field `errors` and the `correlationId` to quote to support.
 */
export class RealAppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly errors: FieldError[];
  readonly correlationId: string | null;
  /** Seconds to wait before retrying, from `Retry-After` (429, 409 `idempotency_request_in_progress`). */
  readonly retryAfterSeconds: number | null;
  /** The whole problem body, with any extra members the endpoint documents; null without one. */
  readonly problem: Problem | null;

  constructor(init: {
    status: number;
    code: string;
    detail: string;
    errors?: FieldError[];
    correlationId?: string | null;
    retryAfterSeconds?: number | null;
    problem?: Problem | null;
    cause?: unknown;
  }) {
    super(`${init.code}: ${init.detail}`);
    // Babel's class transform (React Native) breaks `instanceof` on Error subclasses without this.
    Object.setPrototypeOf(this, new.target.prototype);
    this.name = 'RealAppError';
    this.status = init.status;
    this.code = init.code;
    this.detail = init.detail;
    this.errors = init.errors ?? [];
    this.correlationId = init.correlationId ?? null;
    this.retryAfterSeconds = init.retryAfterSeconds ?? null;
    this.problem = init.problem ?? null;
    if (init.cause !== undefined)
      Object.defineProperty(this, 'cause', { value: init.cause, enumerable: false });
  }

  /** Reads an error response (it consumes the body). */
  static async fromResponse(response: Response): Promise<RealAppError> {
    const headerCorrelationId = response.headers.get('x-correlation-id');
    const retryAfter = retryAfterSeconds(response.headers.get('retry-after'));
    let body: unknown = null;
    try {
      const text = await response.text();
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    if (isRecord(body) && typeof body.code === 'string') {
      const problem: Problem = {
        ...body,
        type: String(body.type ?? 'about:blank'),
        title: String(body.title ?? ''),
        status: typeof body.status === 'number' ? body.status : response.status,
        detail: String(body.detail ?? ''),
        code: body.code,
        correlationId: String(body.correlationId ?? headerCorrelationId ?? ''),
        errors: fieldErrors(body.errors),
      };
      return new RealAppError({
        status: response.status,
        code: problem.code,
        detail: problem.detail,
        errors: problem.errors,
        correlationId: typeof body.correlationId === 'string' ? body.correlationId : headerCorrelationId,
        retryAfterSeconds: retryAfter,
        problem,
      });
    }
    return new RealAppError({
      status: response.status,
      code: CLIENT_ERROR_CODES.unexpected,
      detail: `HTTP ${response.status} without a problem+json body`,
      correlationId: headerCorrelationId,
      retryAfterSeconds: retryAfter,
    });
  }

  static network(cause: unknown): RealAppError {
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new RealAppError({
      status: 0,
      code: CLIENT_ERROR_CODES.network,
      detail: `No answer: ${reason}`,
      cause,
    });
  }
}

export function isRealAppError(error: unknown): error is RealAppError {
  return error instanceof RealAppError;
}
