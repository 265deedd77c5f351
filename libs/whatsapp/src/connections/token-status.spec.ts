import { CONNECTION_STATUSES, statusAfterCheck, TOKEN_EXPIRING_WITHIN_MS } from './token-status';

const NOW = new Date('2026-11-24T02:00:00.000Z');
const at = (msFromNow: number): Date => new Date(NOW.getTime() + msFromNow);

describe('statusAfterCheck', () => {
  it.each([
    ['a token that never expires', { valid: true, expiresAt: null }, 'active'],
    ['60 days left', { valid: true, expiresAt: at(60 * 86_400_000) }, 'active'],
    ['exactly 7 days left', { valid: true, expiresAt: at(TOKEN_EXPIRING_WITHIN_MS) }, 'active'],
    ['one second under 7 days', { valid: true, expiresAt: at(TOKEN_EXPIRING_WITHIN_MS - 1000) }, 'token_expiring'],
    ['one minute left', { valid: true, expiresAt: at(60_000) }, 'token_expiring'],
    ['expired although Meta still says valid', { valid: true, expiresAt: at(0) }, 'token_invalid'],
    ['invalid', { valid: false, expiresAt: at(60 * 86_400_000) }, 'token_invalid'],
    ['invalid without expiry', { valid: false, expiresAt: null }, 'token_invalid'],
  ] as const)('%s → %s', (_name, facts, expected) => {
    for (const current of ['active', 'token_expiring', 'token_invalid'] as const) {
      expect(statusAfterCheck(current, facts, NOW)).toBe(expected);
    }
  });

  it('never brings a disconnected connection back', () => {
    for (const facts of [
      { valid: true, expiresAt: null },
      { valid: false, expiresAt: null },
      { valid: true, expiresAt: at(60_000) },
    ]) {
      expect(statusAfterCheck('disconnected', facts, NOW)).toBe('disconnected');
    }
  });

  it('only ever answers one of the four statuses of SPEC §14', () => {
    for (const current of CONNECTION_STATUSES) {
      for (const valid of [true, false]) {
        for (const offset of [null, -1, 0, 1, TOKEN_EXPIRING_WITHIN_MS, 10 * TOKEN_EXPIRING_WITHIN_MS]) {
          const status = statusAfterCheck(current, { valid, expiresAt: offset === null ? null : at(offset) }, NOW);
          expect(CONNECTION_STATUSES).toContain(status);
        }
      }
    }
  });
});
