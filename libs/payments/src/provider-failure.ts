import { AppError, validationFailed } from '@realapp/platform';
import { assertUnreachable, isPaymentsError } from './payments.errors';

/**
 * A provider failure as the HTTP caller sees it: 503 (try again) when the provider is down, 502
 * when it refused or answered nonsense. The provider's own message stays in the logs: it may name
 * internals the tenant has no use for.
 */
export function toHttpError(error: unknown): unknown {
  if (!isPaymentsError(error)) return error;
  switch (error.code) {
    case 'provider_unavailable':
      return new AppError(
        'provider_unavailable',
        503,
        'The payment provider is unavailable; try again shortly.',
        {
          headers: {
            'retry-after': String(Math.max(1, Math.ceil((error.extra.retryAfterMs ?? 5000) / 1000))),
          },
        },
      );
    case 'provider_rejected':
    case 'provider_not_found':
    case 'provider_invalid_response':
      return new AppError('provider_error', 502, 'The payment provider could not process the request.');
    case 'invalid_amount':
      return validationFailed([
        { field: 'amountCents', message: 'amountCents must be an integer number of cents' },
      ]);
    case 'invalid_transition':
      return new AppError('invalid_transition', 409, error.detail);
    default:
      return assertUnreachable(error.code, 'Unknown payments error code');
  }
}
