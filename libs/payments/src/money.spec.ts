import fc from 'fast-check';
import { centsToDecimalString, fromCents, MAX_EXACT_REAIS_CENTS, toCents } from './money';
import { PaymentsError } from './payments.errors';

describe('money', () => {
  describe('fromCents', () => {
    it.each([
      [1, 0.01],
      [99, 0.99],
      [100, 1],
      [3000, 30],
      [9000, 90],
      [100000000, 1000000],
      [123456789, 1234567.89],
      [0, 0],
      [-150, -1.5],
    ])('%i cents → %d reais', (cents, reais) => {
      expect(fromCents(cents)).toBe(reais);
    });

    it('serialises to the decimal Mercado Pago expects', () => {
      expect(JSON.stringify({ a: fromCents(1), b: fromCents(3010), c: fromCents(100000000) })).toBe(
        '{"a":0.01,"b":30.1,"c":1000000}',
      );
    });

    it.each([1.5, Number.NaN, Infinity, MAX_EXACT_REAIS_CENTS + 1, Number.MAX_SAFE_INTEGER])(
      'refuses %d',
      (cents) => {
        expect(() => fromCents(cents)).toThrow(PaymentsError);
      },
    );
  });

  describe('centsToDecimalString', () => {
    it.each([
      [1, '0.01'],
      [99, '0.99'],
      [100, '1.00'],
      [3000, '30.00'],
      [100000000, '1000000.00'],
      [-1, '-0.01'],
      [-150, '-1.50'],
      [Number.MAX_SAFE_INTEGER, '90071992547409.91'],
    ])('%i → %s', (cents, text) => {
      expect(centsToDecimalString(cents)).toBe(text);
    });
  });

  describe('toCents', () => {
    it.each<[number | string, number]>([
      [0.01, 1],
      [0.99, 99],
      [1, 100],
      [30, 3000],
      [1000000, 100000000],
      [1234567.89, 123456789],
      ['30.5', 3050],
      ['30.50', 3050],
      ['30.', 3000],
      ['.5', 50],
      ['-1.50', -150],
      ['+2', 200],
      [' 12.34 ', 1234],
      ['1e3', 100000],
      ['1.5E-1', 15],
      [1e-2, 1],
      ['90071992547409.91', Number.MAX_SAFE_INTEGER],
      ['-0.00', 0],
    ])('%s → %i', (reais, cents) => {
      expect(toCents(reais)).toBe(cents);
    });

    it.each<number | string>([
      '',
      'abc',
      '1,50',
      '1.2.3',
      '--1',
      '.',
      '1e',
      '0.001',
      '30.505',
      // Results of float arithmetic are refused, never rounded into someone's balance.
      0.1 + 0.2,
      0.1 + 0.7,
      1.005 * 1000,
      Number.NaN,
      Infinity,
      '90071992547409.92',
      '1e999999',
      '9'.repeat(100),
    ])('refuses %s', (reais) => {
      expect(() => toCents(reais)).toThrow(PaymentsError);
    });

    it('is the exact inverse of centsToDecimalString for every safe integer', () => {
      fc.assert(
        fc.property(fc.maxSafeInteger(), (cents) => {
          expect(toCents(centsToDecimalString(cents))).toBe(cents);
        }),
        { numRuns: 5000 },
      );
    });

    it('round-trips through a JSON number for every amount up to MAX_EXACT_REAIS_CENTS', () => {
      fc.assert(
        fc.property(fc.integer({ min: -MAX_EXACT_REAIS_CENTS, max: MAX_EXACT_REAIS_CENTS }), (cents) => {
          const overTheWire = JSON.parse(JSON.stringify({ amount: fromCents(cents) })) as { amount: number };
          expect(toCents(fromCents(cents))).toBe(cents);
          expect(toCents(overTheWire.amount)).toBe(cents);
        }),
        { numRuns: 5000 },
      );
    });

    it('round-trips every top-up amount the product accepts (1..100000000)', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 100_000_000 }), (cents) => {
          expect(toCents(fromCents(cents))).toBe(cents);
        }),
        { numRuns: 5000 },
      );
    });
  });
});
