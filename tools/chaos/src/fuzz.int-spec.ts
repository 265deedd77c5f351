import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { fillPath, loadOperations, Operation, Schema, validExample } from './fuzz/openapi';
import { findLeak, headerProblems } from './fuzz/leaks';
import { snapshotDiff, writeSnapshot } from './fuzz/write-snapshot';
import { buildPrivately, removeBuild } from './stack/build';
import { Customer, signUp } from './stack/customers';
import { call, HttpAnswer } from './stack/http';
import { PlatformStack, SERVICES, startPlatformStack } from './stack/platform-stack';

/*
 * Hostile input against every public endpoint, driven by each service's own OpenAPI document
 * (SPEC §3, §13): never a 5xx, never a stack trace, SQL or secret in an answer, nothing written
 * on a refusal, money only as JSON integers in range, unknown fields refused, malformed ids
 * 400/404, 413 over 1 MB, helmet's headers and CORS only for CORS_ALLOW_ORIGINS. The four
 * services run as real processes from a private SWC build, on their own database.
 */
const ALLOWED_ORIGIN = 'https://app.realapp.test';
/** FUZZ_SEED=<the seed a failure printed> replays that run's inputs (fast-check is deterministic given it). */
const SEED = process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {};
const KEYS = { ops: 'dev-ops-api-key', super: 'dev-super-admin-api-key' };
const SQL = [
  "' OR '1'='1",
  "'; DROP TABLE ads.orders; --",
  '" OR 1=1 --',
  '1; SELECT pg_sleep(5)',
  "Robert'); DROP TABLE auth.users;--",
  '$$; DELETE FROM ledger.entries; $$',
  "\\'; COPY (SELECT 1) TO PROGRAM 'id'; --",
  "ção' UNION SELECT password_hash FROM auth.users --",
];
/** Amounts SPEC §13 refuses: negative, fractional, huge, strings, exponent beyond a safe integer, other types. */
const BAD_AMOUNTS = [
  '-1',
  '-5000',
  '0.5',
  '3000.01',
  '1e20',
  '1E+400',
  '9007199254740993',
  '100000001',
  '"5000"',
  '"5e3"',
  'null',
  'true',
  '[5000]',
  '{"$gt":0}',
];
const NASTY_IDS = [
  "' OR 1=1--",
  '../../etc/passwd',
  '..%2F..%2Fetc%2Fpasswd',
  '%00',
  '-1',
  '0',
  '1e9',
  'null',
  'undefined',
  '{}',
  '[]',
  'ZZZZZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZZZZZZZZZ',
  '00000000-0000-0000-0000-00000000000g',
  `${randomUUID()} `,
  'a'.repeat(150),
  '😀',
  '<script>alert(1)</script>',
];

describe('hostile input on every public endpoint (OpenAPI-driven fuzz)', () => {
  let buildDir: string;
  let stack: PlatformStack;
  let customer: Customer;
  let operations: Operation[];
  const failures: string[] = [];

  const headersFor = (op: Operation, extra: Record<string, string> = {}): Record<string, string> => ({
    ...(op.credential === 'bearer' ? { authorization: `Bearer ${customer.token}` } : {}),
    ...(op.credential === 'ops' ? { 'x-ops-key': KEYS.ops } : {}),
    ...(op.credential === 'super' ? { 'x-super-admin-key': KEYS.super } : {}),
    ...(op.idempotent ? { 'idempotency-key': randomUUID() } : {}),
    'x-forwarded-for': customer.ip,
    ...extra,
  });

  const send = (
    op: Operation,
    options: { path?: string; body?: string; headers?: Record<string, string> } = {},
  ): Promise<HttpAnswer> =>
    call(
      op.baseUrl,
      op.method,
      options.path ??
        fillPath(op.path, { id: randomUUID(), tenantId: customer.tenantId, domain: 'real_estate' }),
      {
        body: options.body,
        headers: headersFor(op, {
          ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...options.headers,
        }),
      },
    );

  /** The invariants of every answer; returns what is wrong with it. */
  const problemsOf = (answer: HttpAnswer): string[] => {
    const problems: string[] = [];
    if (answer.status === 0) problems.push('no answer (connection dropped)');
    if (answer.status >= 500) problems.push(`status ${answer.status}`);
    if (answer.status >= 400) {
      if (!answer.headers.get('content-type')?.includes('application/problem+json'))
        problems.push('error without problem+json');
      const code = (answer.body as { code?: unknown } | null)?.code;
      if (typeof code !== 'string' || !/^[a-z_]+$/.test(code))
        problems.push(`error without a snake_case code: ${answer.text.slice(0, 120)}`);
    }
    const leak = findLeak(answer.status, answer.text);
    if (leak) problems.push(`leak (${leak})`);
    if (answer.status !== 0) problems.push(...headerProblems(answer.headers));
    return problems;
  };

  /** Records what is wrong with an answer; inside a property it also throws, so fast-check shows it. */
  const check = (label: string, answer: HttpAnswer, extra: string[] = []): boolean => {
    const problems = [...problemsOf(answer), ...extra];
    if (!problems.length) return true;
    const failure = `${label} → ${answer.status}: ${problems.join('; ')} | ${answer.text.slice(0, 200)}`;
    failures.push(failure);
    throw new Error(failure);
  };

  /** Sends, then checks that a refusal wrote nothing. */
  const sendAndCheck = async (
    op: Operation,
    label: string,
    options: { path?: string; body?: string } = {},
    expect: (answer: HttpAnswer) => string[] = () => [],
  ): Promise<boolean> => {
    const before = await writeSnapshot(stack);
    const answer = await send(op, options);
    const after = await writeSnapshot(stack);
    const written =
      answer.status >= 400 ? snapshotDiff(before, after).map((d) => `written on a refusal: ${d}`) : [];
    return check(label, answer, [...expect(answer), ...written]);
  };

  /** Operations that take a body: JSON DTOs, and the webhook receivers (raw bytes, so no schema in OpenAPI). */
  const bodyOps = (): Operation[] =>
    operations.filter(
      (op) => op.body !== undefined || (op.method === 'POST' && op.path.startsWith('/v1/webhooks/')),
    );
  const dtoOps = (): Operation[] => bodyOps().filter((op) => op.body !== undefined);
  const moneyFields = (op: Operation): string[] =>
    Object.keys(op.body?.properties ?? {}).filter((name) => /Cents$/.test(name));
  const base = (op: Operation): Record<string, unknown> =>
    (validExample(op.body, { tenantId: customer.tenantId }) as Record<string, unknown> | undefined) ?? {};

  beforeAll(async () => {
    buildDir = buildPrivately();
    stack = await startPlatformStack({
      buildDir,
      // The machine's PostgreSQL and RabbitMQ, like every integration suite (its own database and prefix).
      infrastructure: 'shared',
      env: {
        CORS_ALLOW_ORIGINS: ALLOWED_ORIGIN,
        // One fuzzing client sends thousands of requests a minute: the limits are tested on their own.
        RATE_LIMIT_PER_IP_PER_MINUTE: '1000000',
        RATE_LIMIT_TENANT_WRITES_PER_MINUTE: '1000000',
      },
    });
    customer = await signUp(stack);
    operations = (
      await Promise.all(SERVICES.map((service) => loadOperations(service, stack.url(service))))
    ).flat();
  }, 180_000);

  afterAll(async () => {
    await stack?.close();
    if (buildDir) removeBuild(buildDir);
  }, 60_000);

  beforeEach(() => {
    failures.length = 0;
  });

  it('reads the OpenAPI document of every service, with the public endpoints in it', () => {
    const labels = operations.map((op) => `${op.method} ${op.path}`);
    for (const expected of [
      'POST /v1/auth/signup',
      'POST /v1/billing/topups/pix',
      'POST /v1/ads/orders',
      'POST /v1/webhooks/mercadopago',
      'GET /health/readiness',
    ]) {
      expect(labels).toContain(expected);
    }
    expect(bodyOps().length).toBeGreaterThanOrEqual(15);
  });

  it('never answers arbitrary bodies with a 5xx or a leak, and writes nothing when it refuses', async () => {
    const arbitraryBody = (op: Operation): fc.Arbitrary<string> =>
      fc.oneof(
        fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
        fc.string({ maxLength: 120 }),
        // The valid body with one field swapped for anything at all.
        fc.tuple(fc.nat(), fc.jsonValue({ maxDepth: 2 })).map(([i, value]) => {
          const body = base(op);
          const keys = Object.keys(body ?? {});
          if (keys.length) body[keys[i % keys.length]] = value;
          return JSON.stringify(body);
        }),
      );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...bodyOps()).chain((op) => fc.tuple(fc.constant(op), arbitraryBody(op))),
        async ([op, body]) => sendAndCheck(op, `${op.label} ${body.slice(0, 80)}`, { body }),
      ),
      { numRuns: 250, ...SEED },
    );
    expect(failures).toEqual([]);
  }, 240_000);

  it('answers malformed ids in paths with 400 or 404, writing nothing', async () => {
    const withParams = operations.filter((op) => op.pathParams.length > 0);
    expect(withParams.length).toBeGreaterThanOrEqual(10);
    const idArb = fc.oneof(
      fc.constantFrom(...NASTY_IDS, ...SQL),
      fc.string({ minLength: 1, maxLength: 60 }).filter((s) => /[^A-Za-z0-9_-]/.test(s)),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...withParams), idArb, async (op, id) => {
        const path = fillPath(
          op.path,
          Object.fromEntries(op.pathParams.map((name) => [name, encodeURIComponent(id)])),
        );
        const body = op.body ? JSON.stringify(base(op)) : undefined;
        return sendAndCheck(op, `${op.method} ${path}`, { path, body }, (answer) =>
          [400, 404].includes(answer.status) ? [] : [`expected 400 or 404 for a malformed id`],
        );
      }),
      { numRuns: 150, ...SEED },
    );
    // A well-formed id that is not the tenant's (or does not exist) is simply not found.
    for (const op of withParams.filter((o) => o.pathParams.includes('id') && o.credential === 'bearer')) {
      const path = fillPath(op.path, { id: randomUUID() });
      await sendAndCheck(
        op,
        `${op.method} ${path}`,
        { path, body: op.body ? JSON.stringify(base(op)) : undefined },
        (answer) =>
          answer.status === 404 || answer.status === 400 ? [] : ['expected 404 for an unknown id'],
      );
    }
    expect(failures).toEqual([]);
  }, 240_000);

  it('refuses negative, fractional, huge, string and exponent amounts with 400 naming the field, writing nothing', async () => {
    const moneyOps = dtoOps().filter((op) => moneyFields(op).length > 0);
    expect(moneyOps.map((op) => op.path).sort()).toEqual(
      expect.arrayContaining([
        '/v1/ads/orders',
        '/v1/billing/checkout-session',
        '/v1/billing/topups/pix',
        '/v1/ops/credits/adjust',
      ]),
    );
    const refusedAmount =
      (field: string) =>
      (answer: HttpAnswer): string[] => {
        const body = answer.body as { code?: string; errors?: Array<{ field: string }> } | null;
        if (answer.status !== 400 || body?.code !== 'validation_failed')
          return [`expected 400 validation_failed, got ${answer.status} ${body?.code}`];
        return body.errors?.some((error) => error.field === field)
          ? []
          : [`errors[] does not name ${field}: ${answer.text.slice(0, 200)}`];
      };
    /** Whether the schema accepts this raw amount (ops adjustments are signed: -5000 is a debit, not an error). */
    const acceptable = (op: Operation, field: string, raw: string): boolean => {
      const schema = op.body?.properties?.[field];
      const value: unknown = JSON.parse(raw);
      return (
        typeof value === 'number' &&
        Number.isSafeInteger(value) &&
        value !== 0 &&
        value >= (schema?.minimum ?? -Infinity) &&
        value <= (schema?.maximum ?? Infinity)
      );
    };
    const withAmount = (op: Operation, field: string, raw: string): string =>
      JSON.stringify({ ...base(op), [field]: '__AMOUNT__' }).replace('"__AMOUNT__"', () => raw);
    for (const op of moneyOps) {
      for (const field of moneyFields(op)) {
        for (const raw of BAD_AMOUNTS.filter((r) => !acceptable(op, field, r)))
          await sendAndCheck(
            op,
            `${op.label} ${field}=${raw}`,
            { body: withAmount(op, field, raw) },
            refusedAmount(field),
          );
      }
    }
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...moneyOps),
        fc.oneof(
          fc.integer({ max: -1 }).map(String),
          fc
            .double({ noNaN: true, noDefaultInfinity: true })
            .filter((n) => !Number.isInteger(n))
            .map((n) => JSON.stringify(n)),
          fc.bigInt({ min: 100_000_001n, max: 10n ** 30n }).map(String),
          fc.integer({ min: 1, max: 10_000 }).map((n) => JSON.stringify(String(n))),
        ),
        async (op, raw) => {
          const field = moneyFields(op)[0];
          if (acceptable(op, field, raw)) return true;
          return sendAndCheck(
            op,
            `${op.label} ${field}=${raw}`,
            { body: withAmount(op, field, raw) },
            refusedAmount(field),
          );
        },
      ),
      { numRuns: 80, ...SEED },
    );
    expect(failures).toEqual([]);
  }, 240_000);

  it('refuses unknown fields, top-level and nested, with 400, writing nothing', async () => {
    const candidates = dtoOps().filter((op) => op.body?.type === 'object');
    const nestedObject = (op: Operation): string | undefined =>
      Object.entries(op.body?.properties ?? {}).find(
        ([name, schema]: [string, Schema]) =>
          schema.type === 'object' && schema.properties && (op.body?.required ?? []).includes(name),
      )?.[0];
    const keyArb = fc.oneof(
      fc.constantFrom(
        '__proto__',
        'constructor',
        'valueOf',
        'toString',
        'hasOwnProperty',
        'isAdmin',
        'tenantId',
        'role',
        'balanceCents',
      ),
      fc.string({ minLength: 1, maxLength: 20 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...candidates),
        keyArb,
        fc.jsonValue({ maxDepth: 1 }),
        fc.boolean(),
        async (op, key, value, nested) => {
          const body = base(op);
          const target = nested ? nestedObject(op) : undefined;
          const known = Object.keys((target ? op.body?.properties?.[target] : op.body)?.properties ?? {});
          if (known.includes(key)) return true;
          // Built as text: `__proto__` must arrive as an own JSON key, as an attacker would send it.
          const extra = `${JSON.stringify(key)}:${JSON.stringify(value)}`;
          // Replacer functions, not strings: a generated key or value may contain `$'` or `$&`,
          // which String.replace would expand and so corrupt the JSON we mean to send.
          const withExtra = (json: string): string =>
            json.replace(/^\{/, () => `{${extra},`).replace(/,\}$/, () => '}');
          const raw = target
            ? JSON.stringify({ ...body, [target]: '__NESTED__' }).replace('"__NESTED__"', () =>
                withExtra(JSON.stringify(body[target])),
              )
            : withExtra(JSON.stringify(body));
          // Prototype keys are refused by the JSON parser itself (secure-json-parse), before validation.
          const codes =
            key === '__proto__' || key === 'constructor'
              ? ['validation_failed', 'malformed_json']
              : ['validation_failed'];
          return sendAndCheck(
            op,
            `${op.label} +${target ? `${target}.` : ''}${key}`,
            { body: raw },
            (answer) =>
              answer.status === 400 && codes.includes((answer.body as { code?: string }).code ?? '')
                ? []
                : [`expected 400 ${codes.join(' or ')} for an unknown field`],
          );
        },
      ),
      { numRuns: 120, ...SEED },
    );
    expect(failures).toEqual([]);
  }, 240_000);

  it('answers malformed JSON with 400 malformed_json (401 first on an unsigned webhook)', async () => {
    for (const op of bodyOps()) {
      for (const raw of ['{"a":', '{a:1}', "{'a':1}", '[1,2', '\u0000', '{"amountCents": 1,}']) {
        await sendAndCheck(op, `${op.label} ${JSON.stringify(raw)}`, { body: raw }, (answer) => {
          const code = (answer.body as { code?: string } | null)?.code;
          if (op.service === 'webhook-gateway')
            return answer.status === 401 ? [] : ['an unsigned webhook must be refused as 401 before parsing'];
          return answer.status === 400 && code === 'malformed_json'
            ? []
            : [`expected 400 malformed_json, got ${code}`];
        });
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it('stores SQL-looking text literally (or refuses it), in bodies and queries', async () => {
    const orders = operations.find((op) => op.method === 'POST' && op.path === '/v1/ads/orders');
    const read = operations.find((op) => op.method === 'GET' && op.path === '/v1/ads/orders/{id}');
    if (!orders || !read) throw new Error('orders endpoints missing from OpenAPI');
    for (const text of SQL) {
      const body = {
        ...base(orders),
        name: text,
        creative: { ...(base(orders).creative as object), headline: text.slice(0, 40) },
      };
      const created = await send(orders, { body: JSON.stringify(body) });
      check(`create order named ${text}`, created);
      if (created.status === 201) {
        const id = (created.body as { id: string }).id;
        const fetched = await send(read, { path: `/v1/ads/orders/${id}` });
        const view = fetched.body as { name?: string; creative?: { headline?: string } };
        if (view.name !== text || view.creative?.headline !== text.slice(0, 40))
          failures.push(`order ${id} did not keep ${text} literally`);
      } else if (created.status !== 400) {
        failures.push(`create order named ${text} → ${created.status}`);
      }
    }
    const someone = await call<{ user: { name: string }; tenant: { name: string }; accessToken: string }>(
      stack.url('auth-api'),
      'POST',
      '/v1/auth/signup',
      {
        body: {
          email: `sql-${randomUUID()}@example.com`,
          password: 'Fuzz-password-1234!',
          name: SQL[4],
          tenantName: SQL[1],
        },
      },
    );
    if (someone.status === 201) {
      const me = await call<{ user: { name: string }; tenant: { name: string } }>(
        stack.url('auth-api'),
        'GET',
        '/v1/auth/me',
        { token: someone.body.accessToken },
      );
      if (me.body.user.name !== SQL[4] || me.body.tenant.name !== SQL[1])
        failures.push(`signup did not keep names literally: ${me.text}`);
    } else {
      check(
        'signup with SQL-looking names',
        someone,
        someone.status === 400 ? [] : [`unexpected ${someone.status}`],
      );
    }
    const lists = operations.filter((op) => op.method === 'GET' && op.queryParams.includes('cursor'));
    for (const op of lists) {
      for (const text of SQL) {
        for (const param of ['cursor', 'limit']) {
          const path = `${op.path}?${param}=${encodeURIComponent(text)}`;
          await sendAndCheck(op, `${op.method} ${path}`, { path }, (answer) =>
            answer.status === 400 ? [] : ['a malformed cursor or limit must be 400'],
          );
        }
      }
    }
    expect(failures).toEqual([]);
  }, 240_000);

  it('answers a body over 1 MB with 413 problem+json on every service that takes bodies', async () => {
    const big = JSON.stringify({ padding: 'x'.repeat(1024 * 1024 + 16) });
    const targets = ['auth-api', 'queue-api', 'webhook-gateway'].map((service) => {
      const op = bodyOps().find((o) => o.service === service);
      if (!op) throw new Error(`${service} documents no body endpoint`);
      return op;
    });
    for (const op of targets) {
      await sendAndCheck(op, `${op.label} (1 MB + 16 B)`, { body: big }, (answer) =>
        answer.status === 413 && (answer.body as { code?: string }).code === 'payload_too_large'
          ? []
          : ['expected 413 payload_too_large'],
      );
    }
    // codex-worker takes no bodies at all: its routes are GETs, so any POST is not found, even a huge one.
    const worker = await call(stack.url('codex-worker'), 'POST', '/health/readiness', { body: big });
    check(
      'codex-worker POST (1 MB + 16 B)',
      worker,
      [413, 404].includes(worker.status) ? [] : [`expected 413 or 404, got ${worker.status}`],
    );
    expect(failures).toEqual([]);
  }, 60_000);

  it('sends helmet headers and no X-Powered-By on every service, and CORS only to CORS_ALLOW_ORIGINS', async () => {
    for (const service of SERVICES) {
      const url = stack.url(service);
      check(`${service} GET /health/liveness`, await call(url, 'GET', '/health/liveness'));
      check(`${service} GET /nope`, await call(url, 'GET', '/nope'));
      const allowed = await call(url, 'OPTIONS', '/health/liveness', {
        headers: { origin: ALLOWED_ORIGIN, 'access-control-request-method': 'GET' },
      });
      if (allowed.headers.get('access-control-allow-origin') !== ALLOWED_ORIGIN)
        failures.push(`${service}: preflight from ${ALLOWED_ORIGIN} not allowed`);
      for (const origin of ['https://evil.example', 'null', `${ALLOWED_ORIGIN}.evil.example`]) {
        const preflight = await call(url, 'OPTIONS', '/health/liveness', {
          headers: { origin, 'access-control-request-method': 'POST' },
        });
        const simple = await call(url, 'GET', '/health/liveness', { headers: { origin } });
        for (const answer of [preflight, simple]) {
          if (answer.headers.get('access-control-allow-origin') !== null)
            failures.push(`${service}: CORS allowed ${origin}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });
});
