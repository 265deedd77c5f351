import { assertUnreachable, isPaymentsError, PaymentsError, PaymentsErrorCode } from './payments.errors';

describe('PaymentsError', () => {
  it.each<[PaymentsErrorCode, number, boolean]>([
    ['provider_unavailable', 502, true],
    ['provider_rejected', 502, false],
    ['provider_not_found', 404, false],
    ['provider_invalid_response', 502, false],
    ['invalid_amount', 400, false],
    ['invalid_transition', 409, false],
  ])('%s answers %i, retryable %s', (code, status, retryable) => {
    const error = new PaymentsError(code, 'detail', { provider: 'stripe' });
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({
      code,
      status,
      retryable,
      detail: 'detail',
      message: 'detail',
      name: 'PaymentsError',
    });
    expect(isPaymentsError(error)).toBe(true);
    expect(isPaymentsError(error, code)).toBe(true);
  });

  it('keeps the cause', () => {
    const cause = new Error('socket hang up');
    expect(new PaymentsError('provider_unavailable', 'down', {}, { cause }).cause).toBe(cause);
  });

  it('isPaymentsError refuses other errors and other codes', () => {
    expect(isPaymentsError(new Error('x'))).toBe(false);
    expect(isPaymentsError(new PaymentsError('provider_rejected', 'x'), 'provider_unavailable')).toBe(false);
  });

  it('assertUnreachable throws when reached anyway', () => {
    expect(() => assertUnreachable('surprise' as never)).toThrow('surprise');
  });
});
