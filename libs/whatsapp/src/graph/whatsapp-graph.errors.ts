import { GraphErrorClassification, GraphErrorKind } from '@realapp/meta-ads';

/** Graph's "this access token is no good" (expired, revoked, password changed). */
export const GRAPH_TOKEN_ERROR_CODE = 190;

/**
 * A Graph call that failed after our retries. `retryable` says whether the same call may work
 * later (throttled, transient); `ambiguous` whether Meta may have acted on it even though no
 * answer came back (a timeout or a connection cut after the request left), which matters for
 * calls that are not idempotent, like sending a message.
 */
export class WhatsAppGraphError extends Error {
  readonly kind: GraphErrorKind;
  readonly retryable: boolean;
  readonly ambiguous: boolean;
  readonly httpStatus: number | null;
  readonly graphCode: number | null;
  readonly graphSubcode: number | null;
  readonly fbtraceId: string | null;
  readonly retryAfterMs?: number;

  constructor(
    readonly operation: string,
    classification: GraphErrorClassification,
    options: { ambiguous: boolean; attempts: number; cause?: unknown },
  ) {
    const ref = [
      classification.code === null
        ? null
        : `code ${classification.code}${classification.subcode === null ? '' : `/${classification.subcode}`}`,
      classification.httpStatus === null ? null : `HTTP ${classification.httpStatus}`,
      classification.fbtraceId === null ? null : `fbtrace_id ${classification.fbtraceId}`,
      `${options.attempts} attempt(s)`,
    ]
      .filter((part): part is string => part !== null)
      .join(', ');
    super(`Meta ${operation} failed (${classification.kind}): ${classification.message} [${ref}]`, {
      cause: options.cause,
    });
    this.name = 'WhatsAppGraphError';
    this.kind = classification.kind;
    this.retryable = classification.kind !== 'permanent';
    this.ambiguous = options.ambiguous;
    this.httpStatus = classification.httpStatus;
    this.graphCode = classification.code;
    this.graphSubcode = classification.subcode;
    this.fbtraceId = classification.fbtraceId;
    if (classification.retryAfterMs !== undefined) this.retryAfterMs = classification.retryAfterMs;
  }

  get tokenInvalid(): boolean {
    return this.graphCode === GRAPH_TOKEN_ERROR_CODE;
  }
}

export function isWhatsAppGraphError(error: unknown): error is WhatsAppGraphError {
  return error instanceof WhatsAppGraphError;
}
