/** What must never appear in an answer: stack frames, SQL and driver errors, file paths, secrets. */
const LEAKS: Array<[string, RegExp]> = [
  ['stack frame', /\bat\s+[\w$.<>]+\s+\(?[^\s()]+:\d+:\d+\)?/],
  ['file path', /(\/work\/|\/node_modules\/|\.ts:\d+|\.js:\d+)/],
  [
    'SQL error',
    /(QueryFailedError|syntax error at or near|violates (unique|foreign key|check) constraint|relation "[^"]+"|duplicate key value)/i,
  ],
  ['SQL text', /\b(SELECT\s+[\w*"., ]+\s+FROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b/i],
  ['driver error', /\b(ECONNREFUSED|ETIMEDOUT|TypeError|ReferenceError|Cannot read propert)/],
  [
    'secret',
    /(dev-ops-api-key|dev-super-admin-api-key|dev-worker-api-key|dev-mercadopago-webhook-secret|whsec_dev|dev-meta-app-secret|dev-meta-verify-token|TEST-dev-mercadopago|sk_test_dev|BEGIN (EC |)PRIVATE KEY)/,
  ],
];

/** The first leak found in an error answer (SQL-looking input echoed in a 2xx is the caller's own data). */
export function findLeak(status: number, text: string): string | null {
  for (const [kind, pattern] of LEAKS) {
    if (status < 400 && (kind === 'SQL text' || kind === 'SQL error')) continue;
    const match = pattern.exec(text);
    if (match) return `${kind}: ${match[0]}`;
  }
  return null;
}

/** helmet's headers, checked on every answer; nothing may name the framework. */
export function headerProblems(headers: Headers): string[] {
  const problems: string[] = [];
  if (headers.get('x-powered-by') !== null) problems.push(`x-powered-by: ${headers.get('x-powered-by')}`);
  if (headers.get('x-content-type-options') !== 'nosniff') problems.push('x-content-type-options missing');
  if (!headers.get('x-frame-options')) problems.push('x-frame-options missing');
  if (!headers.get('strict-transport-security')) problems.push('strict-transport-security missing');
  if (!headers.get('referrer-policy')) problems.push('referrer-policy missing');
  if (!headers.get('x-correlation-id')) problems.push('x-correlation-id missing');
  return problems;
}
