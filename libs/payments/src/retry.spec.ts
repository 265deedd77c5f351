import fc from 'fast-check';
import { backoffDelayMs, parseRetryAfterMs } from './retry';

describe('backoffDelayMs', () => {
  it('doubles the ceiling per attempt up to the max', () => {
    const top = (): number => 1;
    expect([0, 1, 2, 3, 4, 5].map((attempt) => backoffDelayMs(attempt, 100, 1000, top))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
  });

  it('is a full jitter: anywhere from 0 to the ceiling', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 30 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (attempt, r) => {
          const delay = backoffDelayMs(attempt, 200, 5000, () => r);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(Math.min(5000, 200 * 2 ** attempt));
          expect(Number.isInteger(delay)).toBe(true);
        },
      ),
    );
  });
});

describe('parseRetryAfterMs', () => {
  const now = Date.parse('2026-11-24T12:00:00Z');

  it.each<[string | null | undefined, number | null]>([
    ['2', 2000],
    [' 0 ', 0],
    ['Tue, 24 Nov 2026 12:00:05 GMT', 5000],
    ['Tue, 24 Nov 2026 11:59:00 GMT', 0],
    ['soon', null],
    ['-1', null],
    ['1.5', null],
    ['', null],
    [null, null],
    [undefined, null],
  ])('%s → %s', (value, expected) => {
    expect(parseRetryAfterMs(value, now)).toBe(expected);
  });
});
