// How a failed Graph call is treated (PROVIDERS.md, Meta "Errors"). The kind decides everything
// downstream: throttled and transient are retried (here with backoff, then by the message-level
// retry), permanent goes straight to the caller so the order fails and its hold is released.

export type GraphErrorKind = 'throttled' | 'transient' | 'permanent';
export type MetaAdsErrorCode = 'meta_throttled' | 'meta_unavailable' | 'meta_rejected';

/** The `error` object of a Graph error body, with Graph's snake_case names made ours. */
export interface GraphErrorDetails {
  message: string | null;
  type: string | null;
  code: number | null;
  subcode: number | null;
  userTitle: string | null;
  userMessage: string | null;
  fbtraceId: string | null;
  /** Undocumented by Meta: only consulted for codes that no rule below knows. */
  isTransient: boolean | null;
}

export interface GraphErrorClassification {
  kind: GraphErrorKind;
  /** null when no HTTP response arrived (network error, timeout). */
  httpStatus: number | null;
  code: number | null;
  subcode: number | null;
  type: string | null;
  message: string;
  userMessage: string | null;
  fbtraceId: string | null;
  /** How long Meta asked us to stay away, when it said so (uncapped: the caller applies its cap). */
  retryAfterMs?: number;
}

export type HeaderSource = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

/** What callers may show or log about the Graph error behind a MetaAdsError. */
export interface MetaGraphErrorInfo {
  code: number | null;
  subcode: number | null;
  fbtraceId: string | null;
  message: string;
  type: string | null;
  userMessage: string | null;
  httpStatus: number | null;
}

// Meta lists these as "back off and retry". 32 is the page-level sibling of 4/17 and behaves the same.
const THROTTLE_CODES: ReadonlySet<number> = new Set([4, 17, 32, 341, 613]);
const BUSINESS_USE_CASE_CODES = { first: 80000, last: 80014 };
const TRANSIENT_CODES: ReadonlySet<number> = new Set([1, 2]);
// 368 is a temporary block for a policy violation: retrying within seconds only extends it.
const POLICY_BLOCK_CODE = 368;
export const POLICY_BLOCK_RETRY_AFTER_MS = 5 * 60_000;
// Token (190), permissions (10, 200–299), method/capability (3), bad parameter (100) and
// duplicate post (506): the same request will fail the same way, whatever the HTTP status says.
const PERMANENT_CODES: ReadonlySet<number> = new Set([3, 10, 100, 190, 506]);
const PERMISSION_CODES = { first: 200, last: 299 };

export class MetaAdsError extends Error {
  readonly code: MetaAdsErrorCode;
  readonly retryable: boolean;
  readonly graph?: MetaGraphErrorInfo;
  /** Set when Meta named a wait longer than we are willing to sleep in-process. */
  readonly retryAfterMs?: number;

  constructor(
    code: MetaAdsErrorCode,
    message: string,
    options: { retryable?: boolean; graph?: MetaGraphErrorInfo; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MetaAdsError';
    this.code = code;
    this.retryable = options.retryable ?? code !== 'meta_rejected';
    this.graph = options.graph;
    this.retryAfterMs = options.retryAfterMs;
  }

  static fromClassification(
    classification: GraphErrorClassification,
    context: { operation: string; attempts?: number; cause?: unknown },
  ): MetaAdsError {
    const code = errorCodeForKind(classification.kind);
    const ref = [
      classification.code === null
        ? null
        : `code ${classification.code}${classification.subcode === null ? '' : `/${classification.subcode}`}`,
      classification.httpStatus === null ? null : `HTTP ${classification.httpStatus}`,
      classification.fbtraceId === null ? null : `fbtrace_id ${classification.fbtraceId}`,
      context.attempts === undefined ? null : `${context.attempts} attempt(s)`,
    ]
      .filter((part): part is string => part !== null)
      .join(', ');
    return new MetaAdsError(
      code,
      `Meta ${context.operation} failed (${classification.kind}): ${classification.message}${ref ? ` [${ref}]` : ''}`,
      {
        retryable: classification.kind !== 'permanent',
        graph: {
          code: classification.code,
          subcode: classification.subcode,
          fbtraceId: classification.fbtraceId,
          message: classification.message,
          type: classification.type,
          userMessage: classification.userMessage,
          httpStatus: classification.httpStatus,
        },
        retryAfterMs: classification.retryAfterMs,
        cause: context.cause,
      },
    );
  }
}

export function isMetaAdsError(error: unknown): error is MetaAdsError {
  return error instanceof MetaAdsError;
}

/** Anything that is not a MetaAdsError is a bug on our side, and retrying a bug does not fix it. */
export function isRetryableMetaError(error: unknown): boolean {
  return isMetaAdsError(error) && error.retryable;
}

export function errorCodeForKind(kind: GraphErrorKind): MetaAdsErrorCode {
  switch (kind) {
    case 'throttled':
      return 'meta_throttled';
    case 'transient':
      return 'meta_unavailable';
    case 'permanent':
      return 'meta_rejected';
    default:
      return assertUnreachable(kind);
  }
}

/** Accepts the body as text or already parsed; null when it is not a Graph error body. */
export function parseGraphErrorBody(body: unknown): GraphErrorDetails | null {
  const parsed = typeof body === 'string' ? parseJson(body) : body;
  if (!isRecord(parsed) || !isRecord(parsed.error)) {
    return null;
  }
  const error = parsed.error;
  return {
    message: asString(error.message),
    type: asString(error.type),
    code: asInteger(error.code),
    subcode: asInteger(error.error_subcode),
    userTitle: asString(error.error_user_title),
    userMessage: asString(error.error_user_msg),
    fbtraceId: asString(error.fbtrace_id),
    isTransient: typeof error.is_transient === 'boolean' ? error.is_transient : null,
  };
}

export function classifyGraphError(
  httpStatus: number,
  body: unknown,
  headers?: HeaderSource,
): GraphErrorClassification {
  const details = parseGraphErrorBody(body);
  const code = details?.code ?? null;
  const kind = kindFor(httpStatus, code, details?.isTransient ?? null);

  const classification: GraphErrorClassification = {
    kind,
    httpStatus,
    code,
    subcode: details?.subcode ?? null,
    type: details?.type ?? null,
    message: details?.message ?? `HTTP ${httpStatus} without a Graph error body`,
    userMessage: details?.userMessage ?? null,
    fbtraceId: details?.fbtraceId ?? null,
  };

  const retryAfterMs = retryAfterFor(kind, code, headers);
  if (retryAfterMs !== undefined) {
    classification.retryAfterMs = retryAfterMs;
  }
  return classification;
}

/**
 * No response at all: the request may or may not have reached Meta. Always transient, which is
 * why createCampaign looks its campaign up by name before sending the POST again.
 */
export function classifyNetworkError(error: unknown, timeoutMs?: number): GraphErrorClassification {
  const timedOut = isTimeout(error);
  const message = timedOut
    ? `no response within ${timeoutMs === undefined ? 'the timeout' : `${timeoutMs} ms`}`
    : `network error: ${describeNetworkError(error)}`;
  return {
    kind: 'transient',
    httpStatus: null,
    code: null,
    subcode: null,
    type: timedOut ? 'timeout' : 'network',
    message,
    userMessage: null,
    fbtraceId: null,
  };
}

/**
 * The longest wait any of Meta's rate-limit headers asks for, in ms, or undefined when none does.
 * `X-Business-Use-Case-Usage` is `{<business id>: [{type, call_count, …, estimated_time_to_regain_access (min)}]}`,
 * `X-Ad-Account-Usage` is `{acc_id_util_pct, reset_time_duration (s), …}`.
 */
export function retryAfterFromUsageHeaders(headers: HeaderSource): number | undefined {
  const waits: number[] = [];

  const businessUsage = parseJson(headerValue(headers, 'x-business-use-case-usage'));
  if (isRecord(businessUsage)) {
    for (const perBusiness of Object.values(businessUsage)) {
      const entries: unknown[] = Array.isArray(perBusiness) ? perBusiness : [perBusiness];
      for (const entry of entries) {
        if (isRecord(entry)) {
          waits.push(minutesToMs(asNumber(entry.estimated_time_to_regain_access)));
        }
      }
    }
  }

  const adAccountUsage = parseJson(headerValue(headers, 'x-ad-account-usage'));
  if (isRecord(adAccountUsage)) {
    waits.push(secondsToMs(asNumber(adAccountUsage.reset_time_duration)));
  }

  waits.push(retryAfterHeaderMs(headers) ?? 0);

  const longest = Math.max(0, ...waits);
  return longest > 0 ? longest : undefined;
}

function kindFor(httpStatus: number, code: number | null, isTransient: boolean | null): GraphErrorKind {
  if (code !== null) {
    if (PERMANENT_CODES.has(code) || (code >= PERMISSION_CODES.first && code <= PERMISSION_CODES.last)) {
      return 'permanent';
    }
    if (
      THROTTLE_CODES.has(code) ||
      code === POLICY_BLOCK_CODE ||
      (code >= BUSINESS_USE_CASE_CODES.first && code <= BUSINESS_USE_CASE_CODES.last)
    ) {
      return 'throttled';
    }
    if (TRANSIENT_CODES.has(code)) {
      return 'transient';
    }
  }
  if (httpStatus === 429) {
    return 'throttled';
  }
  if (httpStatus >= 500) {
    return 'transient';
  }
  return isTransient === true ? 'transient' : 'permanent';
}

function retryAfterFor(
  kind: GraphErrorKind,
  code: number | null,
  headers?: HeaderSource,
): number | undefined {
  switch (kind) {
    case 'throttled': {
      const fromHeaders = headers === undefined ? undefined : retryAfterFromUsageHeaders(headers);
      if (code === POLICY_BLOCK_CODE) {
        return Math.max(fromHeaders ?? 0, POLICY_BLOCK_RETRY_AFTER_MS);
      }
      return fromHeaders;
    }
    case 'transient':
      // Usage headers describe rate limits, not outages; only an explicit Retry-After counts here.
      return headers === undefined ? undefined : retryAfterHeaderMs(headers);
    case 'permanent':
      return undefined;
    default:
      return assertUnreachable(kind);
  }
}

function retryAfterHeaderMs(headers: HeaderSource): number | undefined {
  const raw = headerValue(headers, 'retry-after');
  if (raw === null || !/^\d+$/.test(raw.trim())) {
    return undefined;
  }
  const ms = secondsToMs(Number(raw.trim()));
  return ms > 0 ? ms : undefined;
}

function headerValue(headers: HeaderSource, name: string): string | null {
  if (headers instanceof Headers) {
    return headers.get(name);
  }
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) {
      if (value === undefined) return null;
      return typeof value === 'string' ? value : value.join(', ');
    }
  }
  return null;
}

// Duck-typed, not instanceof: fetch's DOMException and undici's errors can come from another
// realm (jest's vm context, worker threads), where instanceof Error is false.
function isTimeout(error: unknown): boolean {
  return isRecord(error) && (error.name === 'TimeoutError' || error.name === 'AbortError');
}

function describeNetworkError(error: unknown): string {
  if (!isRecord(error) || typeof error.message !== 'string') {
    return String(error);
  }
  // undici hides the useful part (ECONNREFUSED, ECONNRESET, …) in `cause`.
  const cause = error.cause;
  if (isRecord(cause)) {
    const detail = typeof cause.code === 'string' ? cause.code : cause.message;
    if (typeof detail === 'string') {
      return `${error.message} (${detail})`;
    }
  }
  return error.message;
}

function minutesToMs(minutes: number | null): number {
  return minutes !== null && minutes > 0 ? Math.ceil(minutes * 60_000) : 0;
}

function secondsToMs(seconds: number | null): number {
  return seconds !== null && seconds > 0 ? Math.ceil(seconds * 1000) : 0;
}

function parseJson(text: string | null): unknown {
  if (text === null || text.trim() === '') {
    return null;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asString(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function asNumber(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
    return Number(value);
  return null;
}

function asInteger(value: unknown): number | null {
  const n = asNumber(value);
  return n !== null && Number.isInteger(n) ? n : null;
}

function assertUnreachable(value: never): never {
  throw new Error(`Unhandled value: ${String(value)}`);
}
