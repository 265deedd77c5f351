/**
 * Headers that prove or grant something (signatures, credentials, cookies) never reach the
 * database: a leaked row must not let anyone forge or replay a call. Everything else, notably
 * Mercado Pago's `x-request-id` (SPEC §13), is kept for ops.
 */
const SECRET_HEADER = /(signature|authorization|cookie|token|secret|api[-_]?key|x-ops-key|x-super-admin-key|password)/i;
const MAX_HEADER_VALUE = 1024;

export function storableHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || SECRET_HEADER.test(name)) continue;
    const text = Array.isArray(value) ? value.join(', ') : value;
    kept[name.toLowerCase()] = text.length > MAX_HEADER_VALUE ? text.slice(0, MAX_HEADER_VALUE) : text;
  }
  return kept;
}
