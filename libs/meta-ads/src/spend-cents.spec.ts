import { spendToCents } from './spend-cents';

describe('spendToCents', () => {
  it.each([
    ['12.34', 1234],
    ['0.1', 10],
    ['0.10', 10],
    ['1000000.05', 100000005],
    ['0', 0],
    ['0.00', 0],
    ['5.', 500],
    ['19.99', 1999],
    // 0.29 * 100 = 28.999999999999996 in floating point: the case that loses a centavo.
    ['0.29', 29],
    ['1.005', 101],
    ['1.004', 100],
    ['1.0049', 100],
    [' 3.5 ', 350],
    ['90071992547409.91', 9007199254740991],
  ])('%s → %i', (spend, cents) => {
    expect(spendToCents(spend)).toBe(cents);
  });

  it.each(['', '-1.00', '1,50', '1e3', 'abc', '.5', '12.34.5', 'NaN'])('refuses %j', (spend) => {
    expect(() => spendToCents(spend)).toThrow(RangeError);
  });

  it('refuses an amount that does not fit a safe integer of cents', () => {
    expect(() => spendToCents('90071992547409.92')).toThrow('too large');
  });
});
