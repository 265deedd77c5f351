import {
  GraphErrorKind,
  MetaAdsError,
  POLICY_BLOCK_RETRY_AFTER_MS,
  classifyGraphError,
  classifyNetworkError,
  errorCodeForKind,
  isRetryableMetaError,
  parseGraphErrorBody,
  retryAfterFromUsageHeaders,
} from './graph.errors';

const body = (code: number, extra: Record<string, unknown> = {}): unknown => ({
  error: { message: `(#${code}) x`, type: 'OAuthException', code, fbtrace_id: 'AbCdEf', ...extra },
});

describe('classifyGraphError', () => {
  // Straight from PROVIDERS.md "Errors", one row per code it names.
  const table: Array<[number, GraphErrorKind]> = [
    [1, 'transient'],
    [2, 'transient'],
    [4, 'throttled'],
    [17, 'throttled'],
    [341, 'throttled'],
    [613, 'throttled'],
    ...Array.from({ length: 15 }, (_, i): [number, GraphErrorKind] => [80000 + i, 'throttled']),
    [368, 'throttled'],
    [190, 'permanent'],
    [10, 'permanent'],
    ...Array.from({ length: 100 }, (_, i): [number, GraphErrorKind] => [200 + i, 'permanent']),
    [3, 'permanent'],
    [100, 'permanent'],
    [506, 'permanent'],
  ];

  it.each(table)('code %i is %s', (code, kind) => {
    expect(classifyGraphError(400, body(code), {}).kind).toBe(kind);
  });

  it('does not stretch the business use case range past 80014', () => {
    expect(classifyGraphError(400, body(80015), {}).kind).toBe('permanent');
    expect(classifyGraphError(400, body(79999), {}).kind).toBe('permanent');
  });

  it('lets a never-retry code win over a 5xx status', () => {
    expect(classifyGraphError(500, body(100), {}).kind).toBe('permanent');
    expect(classifyGraphError(503, body(190), {}).kind).toBe('permanent');
  });

  it.each([
    [429, 'throttled'],
    [500, 'transient'],
    [502, 'transient'],
    [503, 'transient'],
    [400, 'permanent'],
    [404, 'permanent'],
  ] as const)('HTTP %i without a Graph body is %s', (status, kind) => {
    expect(classifyGraphError(status, '<html>oops</html>', {}).kind).toBe(kind);
  });

  it('uses is_transient only for codes no rule knows', () => {
    expect(classifyGraphError(400, body(1487390, { is_transient: true }), {}).kind).toBe('transient');
    expect(classifyGraphError(400, body(1487390, { is_transient: false }), {}).kind).toBe('permanent');
    expect(classifyGraphError(400, body(100, { is_transient: true }), {}).kind).toBe('permanent');
  });

  it('carries every field callers log and show', () => {
    const classification = classifyGraphError(
      400,
      JSON.stringify(
        body(100, { error_subcode: 1487, error_user_title: 'Budget', error_user_msg: 'Too low' }),
      ),
      {},
    );

    expect(classification).toEqual({
      kind: 'permanent',
      httpStatus: 400,
      code: 100,
      subcode: 1487,
      type: 'OAuthException',
      message: '(#100) x',
      userMessage: 'Too low',
      fbtraceId: 'AbCdEf',
    });
  });

  it('reads the throttling wait from X-Business-Use-Case-Usage in minutes', () => {
    const headers = new Headers({
      'X-Business-Use-Case-Usage': JSON.stringify({
        '111': [{ type: 'ads_management', call_count: 100, estimated_time_to_regain_access: 1 }],
      }),
    });

    expect(classifyGraphError(400, body(80000), headers).retryAfterMs).toBe(60_000);
  });

  it('ignores usage headers when the error is permanent', () => {
    const headers = { 'x-ad-account-usage': JSON.stringify({ reset_time_duration: 30 }) };

    expect(classifyGraphError(400, body(100), headers).retryAfterMs).toBeUndefined();
  });

  it('honours Retry-After on a transient outage', () => {
    expect(classifyGraphError(503, body(2), { 'Retry-After': '7' }).retryAfterMs).toBe(7000);
    expect(classifyGraphError(503, body(2), {}).retryAfterMs).toBeUndefined();
  });

  it('makes 368 wait at least the policy block pause', () => {
    expect(classifyGraphError(400, body(368), {}).retryAfterMs).toBe(POLICY_BLOCK_RETRY_AFTER_MS);
  });
});

describe('retryAfterFromUsageHeaders', () => {
  it('takes the longest wait across businesses, entries and headers', () => {
    const headers = {
      'x-business-use-case-usage': JSON.stringify({
        '111': [
          { type: 'ads_management', estimated_time_to_regain_access: 0 },
          { type: 'ads_insights', estimated_time_to_regain_access: 2 },
        ],
        '222': [{ type: 'ads_management', estimated_time_to_regain_access: 1 }],
      }),
      'x-ad-account-usage': JSON.stringify({ acc_id_util_pct: 100, reset_time_duration: 90 }),
    };

    expect(retryAfterFromUsageHeaders(headers)).toBe(120_000);
  });

  it('accepts a single object where Meta usually sends an array', () => {
    const headers = {
      'x-business-use-case-usage': JSON.stringify({ '1': { estimated_time_to_regain_access: 3 } }),
    };

    expect(retryAfterFromUsageHeaders(headers)).toBe(180_000);
  });

  it('answers undefined for zero, absent or malformed usage', () => {
    expect(retryAfterFromUsageHeaders({})).toBeUndefined();
    expect(retryAfterFromUsageHeaders({ 'x-business-use-case-usage': '{not json' })).toBeUndefined();
    expect(
      retryAfterFromUsageHeaders({
        'x-ad-account-usage': JSON.stringify({ acc_id_util_pct: 3, reset_time_duration: 0 }),
      }),
    ).toBeUndefined();
    expect(
      retryAfterFromUsageHeaders({ 'x-app-usage': JSON.stringify({ call_count: 100 }) }),
    ).toBeUndefined();
  });
});

describe('classifyNetworkError', () => {
  it('is transient for a timeout and names the limit', () => {
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');

    expect(classifyNetworkError(timeout, 250)).toMatchObject({
      kind: 'transient',
      type: 'timeout',
      httpStatus: null,
      message: 'no response within 250 ms',
    });
  });

  it('is transient for a refused connection and keeps the socket error code', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

    expect(classifyNetworkError(new TypeError('fetch failed', { cause }))).toMatchObject({
      kind: 'transient',
      type: 'network',
      message: 'network error: fetch failed (ECONNREFUSED)',
    });
  });
});

describe('MetaAdsError', () => {
  it.each([
    ['throttled', 'meta_throttled', true],
    ['transient', 'meta_unavailable', true],
    ['permanent', 'meta_rejected', false],
  ] as const)('%s becomes %s (retryable %s)', (kind, code, retryable) => {
    expect(errorCodeForKind(kind)).toBe(code);
    expect(new MetaAdsError(code, 'm').retryable).toBe(retryable);
  });

  it('describes the Graph error in its message and keeps the details', () => {
    const error = MetaAdsError.fromClassification(
      classifyGraphError(400, body(100, { error_subcode: 33 }), {}),
      {
        operation: 'updateCampaignStatus',
        attempts: 1,
      },
    );

    expect(error.message).toBe(
      'Meta updateCampaignStatus failed (permanent): (#100) x [code 100/33, HTTP 400, fbtrace_id AbCdEf, 1 attempt(s)]',
    );
    expect(error.graph).toMatchObject({ code: 100, subcode: 33, fbtraceId: 'AbCdEf' });
    expect(isRetryableMetaError(error)).toBe(false);
  });

  it('treats errors that are not MetaAdsError as not retryable', () => {
    expect(isRetryableMetaError(new Error('bug'))).toBe(false);
    expect(isRetryableMetaError(new MetaAdsError('meta_throttled', 'slow down'))).toBe(true);
  });
});

describe('parseGraphErrorBody', () => {
  it('answers null for anything that is not a Graph error', () => {
    expect(parseGraphErrorBody('')).toBeNull();
    expect(parseGraphErrorBody('{"data": []}')).toBeNull();
    expect(parseGraphErrorBody(null)).toBeNull();
    expect(parseGraphErrorBody({ error: 'string' })).toBeNull();
  });
});
