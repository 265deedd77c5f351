// Graph reports spend as a decimal string in the account currency ("12.34"). Converting through
// a float (12.34 * 100 = 1233.9999…) loses centavos, so the conversion is done on the digits.

const DECIMAL = /^(\d+)(?:\.(\d*))?$/;

/**
 * "12.34" → 1234, "0.1" → 10, "7" → 700. More than two decimals (not seen from Meta for BRL, but
 * not excluded by its docs) round half up, so a capture is never off by more than half a centavo.
 * Throws RangeError for anything that is not a plain non-negative decimal or does not fit a safe integer.
 */
export function spendToCents(spend: string): number {
  const match = DECIMAL.exec(spend.trim());
  if (match === null) {
    throw new RangeError(`Not a decimal amount: ${JSON.stringify(spend)}`);
  }
  const whole = match[1];
  const fraction = match[2] ?? '';
  const cents = BigInt(whole) * 100n + BigInt(fraction.slice(0, 2).padEnd(2, '0'));
  const roundUp = fraction.length > 2 && Number(fraction[2]) >= 5;
  const total = cents + (roundUp ? 1n : 0n);
  if (total > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`Amount too large for integer cents: ${JSON.stringify(spend)}`);
  }
  return Number(total);
}
