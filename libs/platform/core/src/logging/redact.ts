/**
 * Keys whose values never reach a log line: credentials, tokens, card data and personal data.
 * Matched case-insensitively against every key at any depth, because pino's path-based
 * redaction only covers the shapes someone remembered to list.
 */
const SENSITIVE_KEY =
  /(pass(word)?|secret|token|authorization|cookie|api[-_]?key|x-ops-key|x-super-admin-key|signature|card|cvv|cvc|pan|email|phone|cpf|document|private[-_]?key|code_verifier)/i;
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
const BEARER = /Bearer\s+[A-Za-z0-9._~+/=-]+/gi;
const ALLOWED_KEYS = new Set(['tokenExpiresAt', 'idempotencyKey', 'phoneNumberId', 'displayPhoneNumberMasked']);

export const REDACTED = '[redacted]';

export function redactValue(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[depth]';
  if (typeof value === 'string') return value.replace(EMAIL, REDACTED).replace(BEARER, `Bearer ${REDACTED}`);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  if (value instanceof Error) return value;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      out[key] = !ALLOWED_KEYS.has(key) && SENSITIVE_KEY.test(key) ? REDACTED : redactValue(v, depth + 1);
    }
    return out;
  }
  return value;
}
