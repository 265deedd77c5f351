import { PaymentsError } from './payments.errors';

/**
 * Largest |cents| whose reais value survives the trip through a JSON number: a decimal with at
 * most 15 significant digits always parses to a double that prints back as the same decimal.
 * Mercado Pago speaks decimal reais as JSON numbers, so past this we could not promise exactness.
 */
export const MAX_EXACT_REAIS_CENTS = 999_999_999_999_999;

/** Caps the digits we are willing to expand, so a hostile or broken `1e999999` costs nothing. */
const MAX_DECIMAL_INPUT_LENGTH = 64;
const MAX_EXPONENT = 32;
const DECIMAL_PATTERN = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

function assertSafeCents(cents: number, max: number): void {
  if (!Number.isSafeInteger(cents) || Math.abs(cents) > max) {
    throw new PaymentsError(
      'invalid_amount',
      `Amount ${String(cents)} is not an integer number of cents in range.`,
    );
  }
}

/** `12345` → `"123.45"`, by string assembly so no float ever touches the value. */
export function centsToDecimalString(cents: number): string {
  assertSafeCents(cents, Number.MAX_SAFE_INTEGER);
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  const whole = Math.trunc(abs / 100);
  const fraction = abs % 100;
  return `${sign}${whole}.${String(fraction).padStart(2, '0')}`;
}

/**
 * Integer cents → decimal reais as a JS number for Mercado Pago's `transaction_amount`. Built from
 * the exact decimal string so `Number()` picks the double nearest the true value (100000000 →
 * 1000000, 1 → 0.01), which `cents / 100` does not guarantee.
 */
export function fromCents(cents: number): number {
  assertSafeCents(cents, MAX_EXACT_REAIS_CENTS);
  return Number(centsToDecimalString(cents));
}

/**
 * Decimal reais (a JSON number or a decimal string, exponent form allowed) → integer cents, by
 * digit arithmetic on the decimal text: `Math.round(x * 100)` drifts once x is large. A value with
 * non-zero digits below the cent is refused rather than rounded, because silently inventing or
 * losing money is worse than a loud error.
 */
export function toCents(reais: number | string): number {
  const text = typeof reais === 'number' ? numberToDecimalText(reais) : reais.trim();
  if (text.length === 0 || text.length > MAX_DECIMAL_INPUT_LENGTH) {
    throw new PaymentsError('invalid_amount', `Amount "${text.slice(0, 32)}" is not a decimal number.`);
  }
  const match = DECIMAL_PATTERN.exec(text);
  const [, sign = '', wholeDigits = '', fractionDigits = '', exponentText = '0'] = match ?? [];
  if (!match || wholeDigits.length + fractionDigits.length === 0) {
    throw new PaymentsError('invalid_amount', `Amount "${text}" is not a decimal number.`);
  }
  const exponent = Number(exponentText);
  if (Math.abs(exponent) > MAX_EXPONENT) {
    throw new PaymentsError('invalid_amount', `Amount "${text}" is out of range.`);
  }
  // value = digits × 10^(exponent − fractionLength) reais = digits × 10^(shift) cents
  const digits = BigInt(`${wholeDigits}${fractionDigits}`);
  const shift = exponent - fractionDigits.length + 2;
  let cents: bigint;
  if (shift >= 0) {
    cents = digits * 10n ** BigInt(shift);
  } else {
    const divisor = 10n ** BigInt(-shift);
    if (digits % divisor !== 0n) {
      throw new PaymentsError('invalid_amount', `Amount "${text}" has a fraction of a cent.`);
    }
    cents = digits / divisor;
  }
  if (sign === '-') cents = -cents;
  if (cents > BigInt(Number.MAX_SAFE_INTEGER) || cents < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new PaymentsError('invalid_amount', `Amount "${text}" is out of range.`);
  }
  return Number(cents);
}

function numberToDecimalText(value: number): string {
  if (!Number.isFinite(value)) {
    throw new PaymentsError('invalid_amount', `Amount ${String(value)} is not a finite number.`);
  }
  // String() yields the shortest decimal that round-trips to this double, which for any amount
  // the provider wrote with ≤ 15 significant digits is exactly what it wrote.
  return String(value);
}
