import { randomUUID } from 'node:crypto';
import { BillingStack, startBillingStack, TestTenant } from './testing/billing-stack';

interface TopupBody {
  id: string;
  status: string;
  amountCents: number;
  currency: string;
  provider: string;
  providerPaymentId: string | null;
  providerSessionId: string | null;
  pix?: { copyPasteCode: string; qrCodeBase64: string | null; expiresAt: string | null };
  checkoutUrl?: string;
  createdAt: string;
  updatedAt: string;
}

interface SandboxRequest {
  provider: string;
  method: string;
  path: string;
  body: Record<string, unknown> | null;
}

interface Problem {
  status: number;
  code: string;
  errors?: Array<{ field: string; message: string }>;
}

describe('queue-api billing endpoints (SPEC §5, §13) on the real stack', () => {
  let stack: BillingStack;

  const count = async (sql: string, params: unknown[]): Promise<number> => {
    const [row] = (await stack.dataSource.query(sql, params)) as Array<{ n: number }>;
    return row.n;
  };
  const topupsOf = (tenantId: string): Promise<number> =>
    count(`SELECT count(*)::int AS n FROM billing.topups WHERE tenant_id = $1`, [tenantId]);
  const idempotencyKeysOf = (tenantId: string): Promise<number> =>
    count(`SELECT count(*)::int AS n FROM platform.idempotency_keys WHERE scope = $1`, [
      `tenant:${tenantId}`,
    ]);
  const providerCalls = async (path: string, externalReference?: string): Promise<SandboxRequest[]> => {
    const { items } = await stack.sandboxCall<{ items: SandboxRequest[] }>(
      'GET',
      '/_sandbox/requests?limit=1000',
    );
    return items.filter(
      (r) =>
        r.method === 'POST' &&
        r.path === path &&
        (externalReference === undefined ||
          r.body?.['external_reference'] === externalReference ||
          r.body?.['client_reference_id'] === externalReference),
    );
  };
  const pix = (tenant: TestTenant, amountCents: unknown, key = randomUUID()) =>
    stack.request<TopupBody & Problem>('POST', '/v1/billing/topups/pix', {
      token: tenant.member,
      idempotencyKey: key,
      body: { amountCents },
    });

  beforeAll(async () => {
    stack = await startBillingStack();
  });

  afterAll(async () => {
    await stack?.close();
  });

  describe('authentication', () => {
    it.each([
      ['GET', '/v1/billing/config'],
      ['GET', '/v1/billing/wallet'],
      ['GET', '/v1/billing/ledger'],
      ['GET', '/v1/billing/topups'],
      ['POST', '/v1/billing/topups/pix'],
      ['POST', '/v1/billing/checkout-session'],
      ['GET', '/v1/billing/subscription'],
      ['POST', '/v1/billing/subscription/cancel'],
    ])('%s %s without a token → 401 invalid_token', async (method, path) => {
      const response = await stack.request<Problem>(method, path, {
        idempotencyKey: randomUUID(),
        body: method === 'POST' ? {} : undefined,
      });
      expect(response.status).toBe(401);
      expect(response.body.code).toBe('invalid_token');
    });
  });

  describe('GET /v1/billing/config', () => {
    it('answers the currency, the top-up limits and the plans', async () => {
      const response = await stack.request('GET', '/v1/billing/config', { token: stack.aTenant().member });
      expect(response.status).toBe(200);
      expect(response.body).toEqual({
        currency: 'BRL',
        minTopupCents: 3000,
        recommendedTopupCents: 9000,
        plans: [
          { id: 'plan_basic', name: 'Basic', priceCents: 9900, interval: 'month' },
          { id: 'plan_pro', name: 'Pro', priceCents: 19900, interval: 'month' },
        ],
      });
    });
  });

  describe('GET /v1/billing/wallet and /ledger', () => {
    it('answers zeros and an empty ledger for a new tenant', async () => {
      const tenant = stack.aTenant();
      const wallet = await stack.request('GET', '/v1/billing/wallet', { token: tenant.member });
      expect(wallet.status).toBe(200);
      expect(wallet.body).toEqual({
        balanceCents: 0,
        heldCents: 0,
        availableCents: 0,
        currency: 'BRL',
        updatedAt: null,
      });
      const ledger = await stack.request('GET', '/v1/billing/ledger', { token: tenant.member });
      expect(ledger.status).toBe(200);
      expect(ledger.body).toEqual({ items: [], nextCursor: null });
    });

    it('refuses a limit outside 1..100 and a malformed cursor with validation_failed', async () => {
      const { member } = stack.aTenant();
      for (const query of ['limit=0', 'limit=101', 'limit=abc', 'cursor=%%%', 'cursor=bm90LWpzb24']) {
        const response = await stack.request<Problem>('GET', `/v1/billing/ledger?${query}`, {
          token: member,
        });
        expect([query, response.status, response.body.code]).toEqual([query, 400, 'validation_failed']);
      }
    });

    it('refuses a cursor PostgreSQL could not read with 400 validation_failed, not a 500', async () => {
      const { member } = stack.aTenant();
      const cursorOf = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
      const cases: Array<[string, string]> = [
        ['/v1/billing/topups', cursorOf(['1', randomUUID()])],
        ['/v1/billing/topups', cursorOf(['2026-02-30T00:00:00.000Z', randomUUID()])],
        ['/v1/billing/topups', cursorOf(['2026-01-01T00:00:00Z', '-'.repeat(36)])],
        // The ledger keys on the wallet's sequence number, not a UUID.
        ['/v1/billing/ledger', cursorOf(['2026-01-01T00:00:00.000Z', randomUUID()])],
        ['/v1/billing/ledger', cursorOf(['1', '5'])],
      ];
      for (const [path, cursor] of cases) {
        const response = await stack.request<Problem>('GET', `${path}?cursor=${cursor}`, { token: member });
        expect([path, cursor, response.status]).toEqual([path, cursor, 400]);
        expect(response.headers.get('content-type')).toContain('application/problem+json');
        expect(response.body).toMatchObject({
          code: 'validation_failed',
          errors: [{ field: 'cursor', message: 'cursor is malformed' }],
        });
      }
      const ledger = await stack.request(
        'GET',
        `/v1/billing/ledger?cursor=${cursorOf(['2026-01-01T00:00:00.000Z', '5'])}`,
        {
          token: member,
        },
      );
      expect(ledger.status).toBe(200);
    });
  });

  describe('POST /v1/billing/topups/pix', () => {
    it('creates a pending PIX top-up with a valid copy-and-paste code, asking Mercado Pago once', async () => {
      const tenant = stack.aTenant();
      const response = await pix(tenant, 9000);
      expect(response.status).toBe(201);
      const body = response.body;
      expect(body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        status: 'pending',
        amountCents: 9000,
        currency: 'BRL',
        provider: 'mercadopago',
        providerPaymentId: expect.stringMatching(/^\d+$/),
        providerSessionId: null,
        pix: {
          copyPasteCode: expect.stringMatching(/^000201/),
          qrCodeBase64: expect.any(String),
          expiresAt: expect.any(String),
        },
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      expect(body.pix?.copyPasteCode).toContain('br.gov.bcb.pix');
      expect(Date.parse(body.pix?.expiresAt ?? '')).toBeGreaterThan(Date.now() + 30 * 60_000 - 5000);

      const calls = await providerCalls('/v1/payments', body.id);
      expect(calls).toHaveLength(1);
      expect(calls[0].body).toMatchObject({
        transaction_amount: 90,
        payment_method_id: 'pix',
        external_reference: body.id,
        notification_url: 'http://127.0.0.1:3003/v1/webhooks/mercadopago',
      });
      const read = await stack.request('GET', `/v1/billing/topups/${body.id}`, { token: tenant.member });
      expect(read.status).toBe(200);
      expect(read.body).toEqual(body);
    });

    it('accepts exactly the minimum and refuses one cent less with 422 amount_below_minimum', async () => {
      const tenant = stack.aTenant();
      expect((await pix(tenant, 3000)).status).toBe(201);
      const below = await pix(tenant, 2999);
      expect(below.status).toBe(422);
      expect(below.body.code).toBe('amount_below_minimum');
      expect(await topupsOf(tenant.tenantId)).toBe(1);
    });

    it.each<[string, string]>([
      ['negative', '{"amountCents": -3000}'],
      ['zero', '{"amountCents": 0}'],
      ['fractional', '{"amountCents": 3000.5}'],
      ['huge', '{"amountCents": 100000001}'],
      ['beyond a safe integer', '{"amountCents": 9007199254740993}'],
      ['exponent beyond range', '{"amountCents": 1e20}'],
      ['a string', '{"amountCents": "3000"}'],
      ['null', '{"amountCents": null}'],
      ['a boolean', '{"amountCents": true}'],
      ['missing', '{}'],
      ['an unknown field', '{"amountCents": 3000, "currency": "USD"}'],
    ])('refuses %s amounts with 400 validation_failed and writes nothing', async (_case, rawBody) => {
      const tenant = stack.aTenant();
      const response = await stack.request<Problem>('POST', '/v1/billing/topups/pix', {
        token: tenant.member,
        idempotencyKey: randomUUID(),
        rawBody,
      });
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('validation_failed');
      expect(response.body.errors?.length).toBeGreaterThan(0);
      expect(await topupsOf(tenant.tenantId)).toBe(0);
      expect(await idempotencyKeysOf(tenant.tenantId)).toBe(0);
    });

    it('accepts an integer written in exponent form within range (3e3 = 3000)', async () => {
      const tenant = stack.aTenant();
      const response = await stack.request<TopupBody>('POST', '/v1/billing/topups/pix', {
        token: tenant.member,
        idempotencyKey: randomUUID(),
        rawBody: '{"amountCents": 3e3}',
      });
      expect(response.status).toBe(201);
      expect(response.body.amountCents).toBe(3000);
    });

    it('needs an Idempotency-Key (400 idempotency_key_required)', async () => {
      const tenant = stack.aTenant();
      const response = await stack.request<Problem>('POST', '/v1/billing/topups/pix', {
        token: tenant.member,
        body: { amountCents: 9000 },
      });
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('idempotency_key_required');
      expect(await topupsOf(tenant.tenantId)).toBe(0);
    });

    it('turns 20 identical concurrent requests with one key into one top-up and one provider payment', async () => {
      const tenant = stack.aTenant();
      const key = randomUUID();
      const responses = await Promise.all(Array.from({ length: 20 }, () => pix(tenant, 12_000, key)));
      const statuses = responses.map((r) => r.status);
      // The first runs; the rest either replay it (201) or find it still running (409, retry later).
      expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
      const created = responses.filter((r) => r.status === 201);
      expect(created.length).toBeGreaterThanOrEqual(1);
      for (const r of responses.filter((x) => x.status === 409))
        expect(r.body.code).toBe('idempotency_request_in_progress');
      expect(new Set(created.map((r) => r.body.id)).size).toBe(1);
      expect(await topupsOf(tenant.tenantId)).toBe(1);
      const topupId = created[0].body.id;
      expect(await providerCalls('/v1/payments', topupId)).toHaveLength(1);

      // Once finished, a repeat is a replay of the same status and body.
      const replay = await pix(tenant, 12_000, key);
      expect(replay.status).toBe(201);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.body).toEqual(created[0].body);
      expect(await topupsOf(tenant.tenantId)).toBe(1);
      expect(await providerCalls('/v1/payments', topupId)).toHaveLength(1);
    });

    it('refuses the same key with a different body (422 idempotency_key_reused)', async () => {
      const tenant = stack.aTenant();
      const key = randomUUID();
      expect((await pix(tenant, 9000, key)).status).toBe(201);
      const reused = await pix(tenant, 9100, key);
      expect(reused.status).toBe(422);
      expect(reused.body.code).toBe('idempotency_key_reused');
      expect(await topupsOf(tenant.tenantId)).toBe(1);
    });

    it('scopes keys per tenant: another tenant may use the same key', async () => {
      const key = randomUUID();
      const a = stack.aTenant();
      const b = stack.aTenant();
      const first = await pix(a, 9000, key);
      const second = await pix(b, 9000, key);
      expect([first.status, second.status]).toEqual([201, 201]);
      expect(second.headers.get('idempotent-replayed')).toBeNull();
      expect(second.body.id).not.toBe(first.body.id);
    });

    it('answers 503 provider_unavailable when Mercado Pago keeps failing, frees the key, and a retry succeeds', async () => {
      const tenant = stack.aTenant();
      const key = randomUUID();
      await stack.sandboxCall('POST', '/_sandbox/faults', { provider: 'mercadopago', status: 500, count: 4 });
      const failed = await pix(tenant, 9000, key);
      expect(failed.status).toBe(503);
      expect(failed.body.code).toBe('provider_unavailable');
      expect(failed.headers.get('retry-after')).toBeTruthy();
      expect(JSON.stringify(failed.body)).not.toMatch(/sandbox|127\.0\.0\.1/);
      const [row] = (await stack.dataSource.query(
        `SELECT status, failure_code FROM billing.topups WHERE tenant_id = $1`,
        [tenant.tenantId],
      )) as Array<{ status: string; failure_code: string }>;
      // The payment may exist at the provider: the top-up waits for reconciliation.
      expect(row).toEqual({ status: 'pending', failure_code: 'provider_unavailable' });

      const retried = await pix(tenant, 9000, key);
      expect(retried.status).toBe(201);
      expect(retried.headers.get('idempotent-replayed')).toBeNull();
    });
  });

  describe('POST /v1/billing/checkout-session', () => {
    it('creates a pending card top-up with a Stripe Checkout URL, readable as a top-up', async () => {
      const tenant = stack.aTenant();
      const response = await stack.request<TopupBody>('POST', '/v1/billing/checkout-session', {
        token: tenant.member,
        idempotencyKey: randomUUID(),
        body: { amountCents: 15_000 },
      });
      expect(response.status).toBe(201);
      expect(response.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        status: 'pending',
        amountCents: 15_000,
        currency: 'BRL',
        provider: 'stripe',
        providerPaymentId: null,
        providerSessionId: expect.stringMatching(/^cs_/),
        checkoutUrl: expect.stringMatching(/^http/),
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      const calls = await providerCalls('/v1/checkout/sessions', response.body.id);
      expect(calls).toHaveLength(1);
      expect(calls[0].body).toMatchObject({
        mode: 'payment',
        client_reference_id: response.body.id,
        success_url: `http://127.0.0.1:8080/billing/topups/${response.body.id}?checkout=success`,
      });
      const read = await stack.request('GET', `/v1/billing/topups/${response.body.id}`, {
        token: tenant.owner,
      });
      expect(read.body).toEqual(response.body);
    });

    it('applies the same amount rules (422 under the minimum, 400 for a string)', async () => {
      const tenant = stack.aTenant();
      const below = await stack.request<Problem>('POST', '/v1/billing/checkout-session', {
        token: tenant.member,
        idempotencyKey: randomUUID(),
        body: { amountCents: 100 },
      });
      expect([below.status, below.body.code]).toEqual([422, 'amount_below_minimum']);
      const text = await stack.request<Problem>('POST', '/v1/billing/checkout-session', {
        token: tenant.member,
        idempotencyKey: randomUUID(),
        body: { amountCents: '9000' },
      });
      expect([text.status, text.body.code]).toEqual([400, 'validation_failed']);
      expect(await topupsOf(tenant.tenantId)).toBe(0);
    });

    it('turns 20 identical concurrent requests into one session', async () => {
      const tenant = stack.aTenant();
      const key = randomUUID();
      const responses = await Promise.all(
        Array.from({ length: 20 }, () =>
          stack.request<TopupBody>('POST', '/v1/billing/checkout-session', {
            token: tenant.member,
            idempotencyKey: key,
            body: { amountCents: 5000 },
          }),
        ),
      );
      expect(responses.every((r) => r.status === 201 || r.status === 409)).toBe(true);
      expect(await topupsOf(tenant.tenantId)).toBe(1);
      const id = responses.find((r) => r.status === 201)?.body.id ?? '';
      expect(await providerCalls('/v1/checkout/sessions', id)).toHaveLength(1);
    });
  });

  describe('GET /v1/billing/topups', () => {
    it('pages the tenant’s top-ups newest first and shows nothing of other tenants', async () => {
      const tenant = stack.aTenant();
      const ids: string[] = [];
      for (const amount of [3000, 4000, 5000]) ids.push((await pix(tenant, amount)).body.id);
      await pix(stack.aTenant(), 6000);
      const first = await stack.request<{ items: TopupBody[]; nextCursor: string | null }>(
        'GET',
        '/v1/billing/topups?limit=2',
        {
          token: tenant.member,
        },
      );
      expect(first.status).toBe(200);
      expect(first.body.items.map((t) => t.amountCents)).toEqual([5000, 4000]);
      expect(first.body.nextCursor).toEqual(expect.any(String));
      const second = await stack.request<{ items: TopupBody[]; nextCursor: string | null }>(
        'GET',
        `/v1/billing/topups?limit=2&cursor=${encodeURIComponent(first.body.nextCursor ?? '')}`,
        { token: tenant.member },
      );
      expect(second.body.items.map((t) => t.id)).toEqual([ids[0]]);
      expect(second.body.nextCursor).toBeNull();
    });

    it('answers 404 for another tenant’s top-up and for malformed ids', async () => {
      const owner = stack.aTenant();
      const other = stack.aTenant();
      const created = await pix(owner, 9000);
      for (const id of [created.body.id, randomUUID(), 'not-a-uuid', '1', "1' OR '1'='1"]) {
        const response = await stack.request<Problem>('GET', `/v1/billing/topups/${encodeURIComponent(id)}`, {
          token: other.member,
        });
        expect([id, response.status, response.body.code]).toEqual([id, 404, 'not_found']);
      }
    });
  });

  describe('subscriptions', () => {
    const subscribe = (token: string, planId: unknown, key = randomUUID()) =>
      stack.request<{ id: string; status: string; planId: string; checkoutUrl: string } & Problem>(
        'POST',
        '/v1/billing/subscription',
        {
          token,
          idempotencyKey: key,
          body: { planId },
        },
      );

    it('answers status none before the first subscription', async () => {
      const response = await stack.request('GET', '/v1/billing/subscription', {
        token: stack.aTenant().member,
      });
      expect(response.status).toBe(200);
      expect(response.body).toEqual({
        status: 'none',
        planId: null,
        currentPeriodEnd: null,
        cancelAtPeriodEnd: false,
        pending: null,
      });
    });

    it('creates a pending pre-approval from the plan’s price; checkoutUrl is the init_point', async () => {
      const tenant = stack.aTenant();
      const response = await subscribe(tenant.owner, 'plan_basic');
      expect(response.status).toBe(201);
      expect(response.body).toEqual({
        id: expect.any(String),
        status: 'pending',
        planId: 'plan_basic',
        checkoutUrl: expect.stringMatching(/preapproval_id=/),
      });
      const calls = await providerCalls('/preapproval', response.body.id);
      expect(calls).toHaveLength(1);
      expect(calls[0].body).toMatchObject({
        external_reference: response.body.id,
        status: 'pending',
        auto_recurring: {
          frequency: 1,
          frequency_type: 'months',
          transaction_amount: 99,
          currency_id: 'BRL',
        },
      });
      const current = await stack.request('GET', '/v1/billing/subscription', { token: tenant.member });
      expect(current.body).toMatchObject({ status: 'pending', planId: 'plan_basic', currentPeriodEnd: null });
    });

    it('subscribes to the default plan (MERCADO_PAGO_SUBSCRIPTION_PLAN_ID) when no planId is sent', async () => {
      const tenant = stack.aTenant();
      const response = await stack.request<{ planId: string; status: string }>(
        'POST',
        '/v1/billing/subscription',
        {
          token: tenant.owner,
          idempotencyKey: randomUUID(),
          body: {},
        },
      );
      expect(response.status).toBe(201);
      expect(response.body).toMatchObject({ status: 'pending', planId: 'plan_basic' });
    });

    it('turns 20 identical concurrent requests into one pre-approval', async () => {
      const tenant = stack.aTenant();
      const key = randomUUID();
      const responses = await Promise.all(
        Array.from({ length: 20 }, () => subscribe(tenant.owner, 'plan_pro', key)),
      );
      expect(responses.every((r) => r.status === 201 || r.status === 409)).toBe(true);
      const ids = new Set(responses.filter((r) => r.status === 201).map((r) => r.body.id));
      expect(ids.size).toBe(1);
      expect(await providerCalls('/preapproval', [...ids][0])).toHaveLength(1);
      const replay = await subscribe(tenant.owner, 'plan_pro', key);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
    });

    it('creates one pre-approval when 10 requests with different keys race for the same plan', async () => {
      const tenant = stack.aTenant();
      const responses = await Promise.all(
        Array.from({ length: 10 }, () => subscribe(tenant.owner, 'plan_basic')),
      );
      for (const r of responses) {
        expect(
          r.status === 201 || (r.status === 409 && r.body.code === 'subscription_request_in_progress'),
        ).toBe(true);
      }
      const ids = new Set(responses.filter((r) => r.status === 201).map((r) => r.body.id));
      expect(ids.size).toBe(1);
      const [row] = (await stack.dataSource.query(
        `SELECT count(*)::int AS n FROM billing.subscriptions WHERE tenant_id = $1`,
        [tenant.tenantId],
      )) as Array<{ n: number }>;
      expect(row.n).toBe(1);
      expect(await providerCalls('/preapproval', [...ids][0])).toHaveLength(1);
    });

    it('is for owners and admins: a member gets 403 forbidden_role', async () => {
      const tenant = stack.aTenant();
      const member = await subscribe(tenant.member, 'plan_basic');
      expect([member.status, member.body.code]).toEqual([403, 'forbidden_role']);
      const cancel = await stack.request<Problem>('POST', '/v1/billing/subscription/cancel', {
        token: tenant.member,
      });
      expect([cancel.status, cancel.body.code]).toEqual([403, 'forbidden_role']);
      expect((await subscribe(tenant.admin, 'plan_basic')).status).toBe(201);
    });

    it('refuses an unknown plan with 400 validation_failed', async () => {
      const tenant = stack.aTenant();
      for (const planId of ['plan_gold', 42, '']) {
        const response = await subscribe(tenant.owner, planId);
        expect([response.status, response.body.code]).toEqual([400, 'validation_failed']);
      }
    });

    it('answers 409 no_subscription when cancelling without one', async () => {
      const response = await stack.request<Problem>('POST', '/v1/billing/subscription/cancel', {
        token: stack.aTenant().owner,
      });
      expect([response.status, response.body.code]).toEqual([409, 'no_subscription']);
    });
  });

  it('documents the billing endpoints and their bodies in OpenAPI', async () => {
    const response = await stack.request<{
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, unknown> };
    }>('GET', '/docs-json');
    expect(response.status).toBe(200);
    for (const path of [
      '/v1/billing/config',
      '/v1/billing/topups/pix',
      '/v1/billing/checkout-session',
      '/v1/billing/topups',
      '/v1/billing/topups/{id}',
      '/v1/billing/wallet',
      '/v1/billing/ledger',
      '/v1/billing/subscription',
      '/v1/billing/subscription/cancel',
    ]) {
      expect(Object.keys(response.body.paths)).toContain(path);
    }
    expect(response.body.components.schemas).toHaveProperty('TopupRequestDto');
    expect(response.body.components.schemas).toHaveProperty('TopupDto');
    expect(response.body.components.schemas).toHaveProperty('LedgerEntryDto');
  });
});
