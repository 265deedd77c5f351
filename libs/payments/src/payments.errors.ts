/**
 * The payments lib's error vocabulary. Shaped like the platform's `AppError` (`code`, `status`,
 * `detail`, `extra`) so the HTTP problem filter can render it, but standalone so this lib does not
 * depend on `@realapp/platform` while that lib is still moving.
 */
export type PaymentsErrorCode =
  /** Network error, timeout, 5xx, 429 or 423 after every retry: try again later. */
  | 'provider_unavailable'
  /** The provider refused the request (4xx other than 404/423/429): retrying the same call won't help. */
  | 'provider_rejected'
  /** The provider has no such object (404). */
  | 'provider_not_found'
  /** A 2xx answer whose body does not have the shape the provider documents. */
  | 'provider_invalid_response'
  /** An amount that cannot be money here: not an integer number of cents, out of range, sub-cent. */
  | 'invalid_amount'
  /** A status change the state machine does not allow. */
  | 'invalid_transition';

export type PaymentsProvider = 'mercadopago' | 'stripe';

export interface PaymentsErrorExtra {
  provider?: PaymentsProvider;
  /** HTTP status the provider answered, when it answered at all. */
  providerStatus?: number;
  /** The provider's own human message (from its error body), for logs and ops. */
  providerMessage?: string;
  /** How long the provider asked us to wait (Retry-After), when it did. */
  retryAfterMs?: number;
  [key: string]: unknown;
}

/** Makes a new member of a union a compile error wherever a `switch` forgets it. */
export function assertUnreachable(value: never, message = 'Unexpected value'): never {
  throw new Error(`${message}: ${String(value)}`);
}

export function paymentsErrorStatus(code: PaymentsErrorCode): number {
  switch (code) {
    case 'provider_unavailable':
    case 'provider_rejected':
    case 'provider_invalid_response':
      // The fault is upstream of us, not in the caller's request.
      return 502;
    case 'provider_not_found':
      return 404;
    case 'invalid_amount':
      return 400;
    case 'invalid_transition':
      return 409;
    default:
      return assertUnreachable(code, 'Unknown payments error code');
  }
}

export function isRetryablePaymentsErrorCode(code: PaymentsErrorCode): boolean {
  switch (code) {
    case 'provider_unavailable':
      return true;
    case 'provider_rejected':
    case 'provider_not_found':
    case 'provider_invalid_response':
    case 'invalid_amount':
    case 'invalid_transition':
      return false;
    default:
      return assertUnreachable(code, 'Unknown payments error code');
  }
}

export class PaymentsError extends Error {
  readonly status: number;
  readonly retryable: boolean;

  constructor(
    readonly code: PaymentsErrorCode,
    readonly detail: string,
    readonly extra: PaymentsErrorExtra = {},
    options?: { cause?: unknown },
  ) {
    super(detail, options);
    this.name = 'PaymentsError';
    this.status = paymentsErrorStatus(code);
    this.retryable = isRetryablePaymentsErrorCode(code);
  }
}

export function isPaymentsError(error: unknown, code?: PaymentsErrorCode): error is PaymentsError {
  return error instanceof PaymentsError && (code === undefined || error.code === code);
}
