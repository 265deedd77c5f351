import { randomUUID } from 'node:crypto';
import { OrderQueued, OrdersReevaluationRequested } from '@realapp/contracts';
import { campaignNameForOrder } from '@realapp/meta-ads';
import { OutboxService } from '@realapp/messaging';
import { OrderLifecycleService, OrderView } from '@realapp/orders';
import { expectEventually } from '@realapp/testing';
import { AdsStack, ApiResponse, startAdsStack, TestTenant } from './testing/ads-stack.test-helper';

interface Problem {
  status: number;
  code: string;
  errors?: Array<{ field: string; message: string }>;
}

interface SandboxRequest {
  provider: string;
  method: string;
  path: string;
  body: { name?: string } | null;
  response: { status: number };
}

/** A valid order body (SPEC §13) with overrides. */
function anOrder(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'Beach apartments',
    objective: 'traffic',
    budgetCents: 5000,
    targeting: { countries: ['BR'], ageMin: 18, ageMax: 45, genders: ['female'] },
    creative: {
      headline: 'Apartments near the beach',
      body: 'Two bedrooms, sea view, ready to move in.',
      imageUrl: 'https://cdn.example.com/ad.jpg',
      linkUrl: 'https://example.com/listing/42',
    },
    ...overrides,
  };
}

// Two apps, a broker and Meta's round trips per test: more than jest's default 5 s on a busy machine.
jest.setTimeout(60_000);

describe('ads orders on the real stack (queue-api + codex-worker, Meta at the sandbox)', () => {
  let stack: AdsStack;

  beforeAll(async () => {
    stack = await startAdsStack();
  });

  afterAll(async () => {
    await stack?.close();
  });

  const create = (
    tenant: TestTenant,
    body: unknown = anOrder(),
    key: string = randomUUID(),
  ): Promise<ApiResponse<OrderView>> =>
    stack.request<OrderView>('POST', '/v1/ads/orders', { token: tenant.token, idempotencyKey: key, body });
  const get = (tenant: TestTenant, id: string): Promise<ApiResponse<OrderView>> =>
    stack.request<OrderView>('GET', `/v1/ads/orders/${id}`, { token: tenant.token });
  const act = (
    tenant: TestTenant,
    id: string,
    action: 'pause' | 'resume' | 'stop',
  ): Promise<ApiResponse<OrderView>> =>
    stack.request<OrderView>('POST', `/v1/ads/orders/${id}/${action}`, { token: tenant.token });

  const eventually = async (
    tenant: TestTenant,
    id: string,
    check: (order: OrderView) => void,
    timeoutMs = 20000,
  ): Promise<OrderView> =>
    expectEventually(
      async () => {
        const answer = await get(tenant, id);
        expect(answer.status).toBe(200);
        check(answer.body);
        return answer.body;
      },
      { timeoutMs },
    );
  const eventuallyActive = (tenant: TestTenant, id: string): Promise<OrderView> =>
    eventually(tenant, id, (order) => {
      expect(order.status).toBe('active');
      expect(order.campaignId).toEqual(expect.any(String));
    });
  const campaignStatus = async (id: string): Promise<string | undefined> =>
    (await stack.campaignsNamed(campaignNameForOrder(id)))[0]?.status;

  /** A tenant with an active plan and `cents` in the wallet. */
  const aFundedTenant = async (cents: number): Promise<TestTenant> => {
    const tenant = stack.aTenant();
    await stack.activatePlan(tenant);
    if (cents > 0) await stack.topUp(tenant, cents);
    return tenant;
  };

  const entriesFor = async (
    tenantId: string,
    orderId: string,
  ): Promise<Array<{ kind: string; amountCents: number; heldDeltaCents: number; reference: string }>> =>
    (await stack.ledger(tenantId))
      .filter((entry) => entry.reference.startsWith(`order:${orderId}:`))
      .reverse();

  describe('creation (SPEC §6, §11 step 4)', () => {
    it('queues an order when the plan is active and the wallet covers it: budget held, OrderQueued, launched at Meta', async () => {
      const tenant = await aFundedTenant(10000);
      const answer = await create(tenant, anOrder({ budgetCents: 6000, objective: 'leads' }));
      expect(answer.status).toBe(201);
      expect(answer.body).toMatchObject({
        status: 'queued',
        waitingReason: null,
        budgetCents: 6000,
        heldCents: 6000,
        spentCents: 0,
        objective: 'leads',
        failureReason: null,
        targeting: { countries: ['BR'], ageMin: 18, ageMax: 45, genders: ['female'] },
        startsAt: null,
        endsAt: null,
      });
      expect(answer.body.history).toEqual([
        { from: null, to: 'queued', at: expect.any(String), reason: 'budget_held' },
      ]);
      expect(await stack.wallet(tenant.tenantId)).toMatchObject({
        balanceCents: 10000,
        heldCents: 6000,
        availableCents: 4000,
      });
      expect(await entriesFor(tenant.tenantId, answer.body.id)).toEqual([
        expect.objectContaining({
          kind: 'hold',
          amountCents: 0,
          heldDeltaCents: 6000,
          reference: `order:${answer.body.id}:hold`,
        }),
      ]);

      const active = await eventuallyActive(tenant, answer.body.id);
      expect(active.history.map((h) => [h.from, h.to])).toEqual([
        [null, 'queued'],
        ['queued', 'launching'],
        ['launching', 'active'],
      ]);
      const campaigns = await stack.campaignsNamed(campaignNameForOrder(answer.body.id));
      expect(campaigns).toHaveLength(1);
      expect(campaigns[0]).toMatchObject({
        id: active.campaignId,
        status: 'ACTIVE',
        objective: 'OUTCOME_LEADS',
        lifetime_budget: '6000',
      });
    });

    it('waits with missing_plan when there is no active plan, even with money (the plan is checked first)', async () => {
      const tenant = stack.aTenant();
      await stack.topUp(tenant, 10000);
      const answer = await create(tenant, anOrder({ budgetCents: 5000 }));
      expect(answer.status).toBe(201);
      expect(answer.body).toMatchObject({
        status: 'waiting_payment',
        waitingReason: 'missing_plan',
        heldCents: 0,
      });
      expect(answer.body.history).toEqual([
        { from: null, to: 'waiting_payment', at: expect.any(String), reason: 'missing_plan' },
      ]);

      const broke = stack.aTenant();
      expect((await create(broke)).body).toMatchObject({
        status: 'waiting_payment',
        waitingReason: 'missing_plan',
      });
      expect(await stack.wallet(tenant.tenantId)).toMatchObject({ heldCents: 0, availableCents: 10000 });
    });

    it('waits with insufficient_balance when the plan is active and the wallet does not cover the budget', async () => {
      const tenant = await aFundedTenant(3000);
      const answer = await create(tenant, anOrder({ budgetCents: 3001 }));
      expect(answer.status).toBe(201);
      expect(answer.body).toMatchObject({
        status: 'waiting_payment',
        waitingReason: 'insufficient_balance',
        heldCents: 0,
      });
      expect(await stack.wallet(tenant.tenantId)).toMatchObject({ heldCents: 0, availableCents: 3000 });

      // A tenant that never had money: the order waits and the tenant still has no wallet at all.
      const planOnly = await aFundedTenant(0);
      expect((await create(planOnly)).body).toMatchObject({
        status: 'waiting_payment',
        waitingReason: 'insufficient_balance',
        heldCents: 0,
      });
      const wallet = await stack.request('GET', '/v1/billing/wallet', { token: planOnly.token });
      expect(wallet.body).toMatchObject({
        balanceCents: 0,
        heldCents: 0,
        availableCents: 0,
        updatedAt: null,
      });
    });

    it('runs ten concurrent creations with one Idempotency-Key once: one order, one hold', async () => {
      const tenant = await aFundedTenant(10000);
      const key = randomUUID();
      const body = anOrder({ budgetCents: 4000 });
      const answers = await Promise.all(Array.from({ length: 10 }, () => create(tenant, body, key)));
      const created = answers.filter((a) => a.status === 201);
      expect(created.length).toBeGreaterThanOrEqual(1);
      expect(
        answers.every(
          (a) =>
            a.status === 201 ||
            (a.status === 409 && (a.body as unknown as Problem).code === 'idempotency_request_in_progress'),
        ),
      ).toBe(true);
      expect(new Set(created.map((a) => a.body.id)).size).toBe(1);

      const replay = await create(tenant, body, key);
      expect(replay.status).toBe(201);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.body.id).toBe(created[0].body.id);

      const list = await stack.request<{ items: OrderView[] }>('GET', '/v1/ads/orders', {
        token: tenant.token,
      });
      expect(list.body.items).toHaveLength(1);
      expect(
        (await entriesFor(tenant.tenantId, created[0].body.id)).filter((e) => e.kind === 'hold'),
      ).toHaveLength(1);
      expect(await stack.wallet(tenant.tenantId)).toMatchObject({ heldCents: 4000, availableCents: 6000 });
      expect((await create(tenant, anOrder({ budgetCents: 4001 }), key)).status).toBe(422);
    });

    it('queues only what the wallet covers when orders race for the same money', async () => {
      const tenant = await aFundedTenant(10000);
      const answers = await Promise.all(
        Array.from({ length: 6 }, () => create(tenant, anOrder({ budgetCents: 3000 }))),
      );
      expect(answers.every((a) => a.status === 201)).toBe(true);
      const queued = answers.filter((a) => a.body.status === 'queued');
      const waiting = answers.filter((a) => a.body.status === 'waiting_payment');
      expect(queued).toHaveLength(3);
      expect(waiting).toHaveLength(3);
      expect(waiting.every((a) => a.body.waitingReason === 'insufficient_balance')).toBe(true);
      expect(await stack.wallet(tenant.tenantId)).toMatchObject({
        balanceCents: 10000,
        heldCents: 9000,
        availableCents: 1000,
      });
    });

    it('refuses invalid bodies with validation_failed naming each field, and writes nothing', async () => {
      const tenant = await aFundedTenant(10000);
      const cases: Array<[Record<string, unknown>, string]> = [
        [anOrder({ objective: 'conversions' }), 'objective'],
        [anOrder({ budgetCents: 999 }), 'budgetCents'],
        [anOrder({ budgetCents: 100000001 }), 'budgetCents'],
        [anOrder({ budgetCents: '5000' }), 'budgetCents'],
        [anOrder({ budgetCents: 5000.5 }), 'budgetCents'],
        [anOrder({ name: '' }), 'name'],
        [anOrder({ targeting: { countries: [], ageMin: 18, ageMax: 45 } }), 'targeting.countries'],
        [anOrder({ targeting: { countries: ['br'], ageMin: 18, ageMax: 45 } }), 'targeting.countries'],
        [anOrder({ targeting: { countries: ['XX'], ageMin: 18, ageMax: 45 } }), 'targeting.countries'],
        [
          anOrder({
            targeting: {
              countries: Array.from({ length: 26 }, (_, i) => ['BR', 'US', 'AR'][i % 3]),
              ageMin: 18,
              ageMax: 45,
            },
          }),
          'targeting.countries',
        ],
        [anOrder({ targeting: { countries: ['BR'], ageMin: 12, ageMax: 45 } }), 'targeting.ageMin'],
        [anOrder({ targeting: { countries: ['BR'], ageMin: 18, ageMax: 66 } }), 'targeting.ageMax'],
        [anOrder({ targeting: { countries: ['BR'], ageMin: 40, ageMax: 30 } }), 'targeting.ageMax'],
        [
          anOrder({ targeting: { countries: ['BR'], ageMin: 18, ageMax: 45, genders: ['other'] } }),
          'targeting.genders',
        ],
        [
          anOrder({
            creative: {
              headline: 'h'.repeat(41),
              body: 'b',
              imageUrl: 'https://a.example/i.jpg',
              linkUrl: 'https://a.example',
            },
          }),
          'creative.headline',
        ],
        [
          anOrder({
            creative: {
              headline: 'h',
              body: 'b'.repeat(126),
              imageUrl: 'https://a.example/i.jpg',
              linkUrl: 'https://a.example',
            },
          }),
          'creative.body',
        ],
        [
          anOrder({
            creative: {
              headline: 'h',
              body: 'b',
              imageUrl: 'http://a.example/i.jpg',
              linkUrl: 'https://a.example',
            },
          }),
          'creative.imageUrl',
        ],
        [
          anOrder({
            creative: { headline: 'h', body: 'b', imageUrl: 'https://a.example/i.jpg', linkUrl: 'not a url' },
          }),
          'creative.linkUrl',
        ],
        [anOrder({ creative: undefined }), 'creative'],
        // An array where an object belongs: ValidateNested alone passes an empty one (the fuzz found a 500).
        [anOrder({ targeting: [] }), 'targeting'],
        [anOrder({ creative: [] }), 'creative'],
        [anOrder({ targeting: 'BR' }), 'targeting'],
        [anOrder({ startsAt: '2030-01-02T00:00:00Z', endsAt: '2030-01-01T00:00:00Z' }), 'endsAt'],
        [anOrder({ endsAt: '2001-01-01T00:00:00Z' }), 'endsAt'],
        [anOrder({ startsAt: 'tomorrow' }), 'startsAt'],
        [anOrder({ currency: 'USD' }), 'currency'],
      ];
      for (const [body, field] of cases) {
        const answer = (await create(tenant, body)) as unknown as ApiResponse<Problem>;
        expect({ field, status: answer.status, code: answer.body.code }).toEqual({
          field,
          status: 400,
          code: 'validation_failed',
        });
        expect(answer.body.errors?.map((e) => e.field)).toContain(field);
      }
      const missingKey = await stack.request<Problem>('POST', '/v1/ads/orders', {
        token: tenant.token,
        body: anOrder(),
      });
      expect({ status: missingKey.status, code: missingKey.body.code }).toEqual({
        status: 400,
        code: 'idempotency_key_required',
      });
      const anonymous = await stack.request<Problem>('POST', '/v1/ads/orders', {
        idempotencyKey: randomUUID(),
        body: anOrder(),
      });
      expect({ status: anonymous.status, code: anonymous.body.code }).toEqual({
        status: 401,
        code: 'invalid_token',
      });

      const list = await stack.request<{ items: OrderView[] }>('GET', '/v1/ads/orders', {
        token: tenant.token,
      });
      expect(list.body.items).toEqual([]);
      expect(await stack.wallet(tenant.tenantId)).toMatchObject({ heldCents: 0 });

      const scheduled = await create(
        tenant,
        anOrder({ startsAt: '2030-01-01T00:00:00Z', endsAt: '2030-02-01T00:00:00.000Z' }),
      );
      expect(scheduled.status).toBe(201);
      expect(scheduled.body).toMatchObject({
        startsAt: '2030-01-01T00:00:00.000Z',
        endsAt: '2030-02-01T00:00:00.000Z',
      });
    });
  });

  describe('re-evaluation when money or a plan arrives', () => {
    it('queues the waiting orders the wallet now covers, oldest first, once under concurrent events', async () => {
      const tenant = await aFundedTenant(0);
      const a = (await create(tenant, anOrder({ name: 'A', budgetCents: 6000 }))).body;
      const b = (await create(tenant, anOrder({ name: 'B', budgetCents: 5000 }))).body;
      const c = (await create(tenant, anOrder({ name: 'C', budgetCents: 3000 }))).body;
      for (const order of [a, b, c])
        expect(order).toMatchObject({ status: 'waiting_payment', waitingReason: 'insufficient_balance' });

      // 9000 covers A (oldest) and then C, not B: youngest first would have queued B and C instead.
      await stack.topUp(tenant, 9000);
      const outbox = stack.api.get(OutboxService);
      await Promise.all(
        Array.from({ length: 5 }, () =>
          stack.dataSource.transaction((tx) =>
            outbox.enqueue(tx, OrdersReevaluationRequested, {
              tenantId: tenant.tenantId,
              data: { tenantId: tenant.tenantId, cause: 'adjustment' },
            }),
          ),
        ),
      );
      await eventuallyActive(tenant, a.id);
      await eventuallyActive(tenant, c.id);
      const waitingB = await get(tenant, b.id);
      expect(waitingB.body).toMatchObject({
        status: 'waiting_payment',
        waitingReason: 'insufficient_balance',
        heldCents: 0,
      });
      expect(await stack.wallet(tenant.tenantId)).toMatchObject({
        balanceCents: 9000,
        heldCents: 9000,
        availableCents: 0,
      });
      for (const order of [a, c]) {
        expect((await entriesFor(tenant.tenantId, order.id)).filter((e) => e.kind === 'hold')).toHaveLength(
          1,
        );
        expect((await get(tenant, order.id)).body.history[1]).toMatchObject({
          from: 'waiting_payment',
          to: 'queued',
          reason: 'budget_held',
        });
      }
    });

    it('queues an insufficient_balance order once a top-up is approved: the approval itself re-evaluates', async () => {
      const tenant = await aFundedTenant(0);
      const order = (await create(tenant, anOrder({ budgetCents: 4000 }))).body;
      expect(order).toMatchObject({ status: 'waiting_payment', waitingReason: 'insufficient_balance' });
      await stack.topUp(tenant, 4000);
      await eventuallyActive(tenant, order.id);
      expect((await get(tenant, order.id)).body.history[1]).toMatchObject({
        from: 'waiting_payment',
        to: 'queued',
        reason: 'budget_held',
      });
      expect(await stack.wallet(tenant.tenantId)).toMatchObject({ balanceCents: 4000, heldCents: 4000 });
    });

    it('queues a missing_plan order once the plan is activated', async () => {
      const tenant = stack.aTenant();
      await stack.topUp(tenant, 5000);
      const order = (await create(tenant, anOrder({ budgetCents: 5000 }))).body;
      expect(order).toMatchObject({ status: 'waiting_payment', waitingReason: 'missing_plan' });
      await stack.activatePlan(tenant);
      await eventuallyActive(tenant, order.id);
      expect(await stack.wallet(tenant.tenantId)).toMatchObject({ heldCents: 5000, availableCents: 0 });
    });
  });

  describe('pause, resume and stop (SPEC §6, §11 step 5)', () => {
    it('pauses and resumes at Meta, stops for good, and releases exactly the unspent budget', async () => {
      const tenant = await aFundedTenant(10000);
      const order = (await create(tenant, anOrder({ budgetCents: 8000 }))).body;
      const active = await eventuallyActive(tenant, order.id);

      const paused = await act(tenant, order.id, 'pause');
      expect(paused.status).toBe(202);
      expect(paused.body.status).toBe('paused');
      await expectEventually(async () => expect(await campaignStatus(order.id)).toBe('PAUSED'));
      const again = (await act(tenant, order.id, 'pause')) as unknown as ApiResponse<Problem>;
      expect({ status: again.status, code: again.body.code }).toEqual({
        status: 409,
        code: 'invalid_transition',
      });

      const resumed = await act(tenant, order.id, 'resume');
      expect(resumed.status).toBe(202);
      expect(resumed.body.status).toBe('active');
      await expectEventually(async () => expect(await campaignStatus(order.id)).toBe('ACTIVE'));

      // Meta reports 15.00 spent before the stop; it must be captured, and only the rest released.
      await stack.sandboxCall('POST', `/_sandbox/meta/campaigns/${active.campaignId}/spend`, {
        amountCents: 1500,
      });
      const stopped = await act(tenant, order.id, 'stop');
      expect(stopped.status).toBe(202);
      expect(stopped.body.status).toBe('stopped');
      const settled = await eventually(tenant, order.id, (o) =>
        expect(o).toMatchObject({ status: 'stopped', heldCents: 0, spentCents: 1500 }),
      );
      expect(await campaignStatus(order.id)).toBe('ARCHIVED');
      expect(await stack.wallet(tenant.tenantId)).toMatchObject({
        balanceCents: 8500,
        heldCents: 0,
        availableCents: 8500,
      });
      expect(await entriesFor(tenant.tenantId, order.id)).toEqual([
        expect.objectContaining({ kind: 'hold', heldDeltaCents: 8000, reference: `order:${order.id}:hold` }),
        expect.objectContaining({
          kind: 'spend',
          amountCents: -1500,
          heldDeltaCents: -1500,
          reference: `order:${order.id}:spend:1500`,
        }),
        expect.objectContaining({
          kind: 'hold_release',
          amountCents: 0,
          heldDeltaCents: -6500,
          reference: `order:${order.id}:release`,
        }),
      ]);
      expect(settled.history.map((h) => [h.from, h.to, h.reason])).toEqual([
        [null, 'queued', 'budget_held'],
        ['queued', 'launching', 'launch_started'],
        ['launching', 'active', 'campaign_created'],
        ['active', 'paused', 'customer_pause'],
        ['paused', 'active', 'customer_resume'],
        ['active', 'stopped', 'customer_stop'],
      ]);

      for (const action of ['resume', 'pause', 'stop'] as const) {
        const refused = (await act(tenant, order.id, action)) as unknown as ApiResponse<Problem>;
        expect({ action, status: refused.status, code: refused.body.code }).toEqual({
          action,
          status: 409,
          code: 'invalid_transition',
        });
      }
      // Later spend reports change nothing: the order is closed and holds nothing.
      await stack.sandboxCall('POST', `/_sandbox/meta/campaigns/${active.campaignId}/spend`, {
        amountCents: 500,
      });
      await stack.sweepNow();
      expect((await get(tenant, order.id)).body).toMatchObject({ heldCents: 0, spentCents: 1500 });
    });

    it('takes one of ten concurrent stops and releases the unspent hold once', async () => {
      const tenant = await aFundedTenant(10000);
      const order = (await create(tenant, anOrder({ budgetCents: 6000 }))).body;
      const active = await eventuallyActive(tenant, order.id);
      await stack.sandboxCall('POST', `/_sandbox/meta/campaigns/${active.campaignId}/spend`, {
        amountCents: 1000,
      });
      const answers = await Promise.all(Array.from({ length: 10 }, () => act(tenant, order.id, 'stop')));
      expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
      expect(answers.filter((a) => a.status === 409)).toHaveLength(9);
      await eventually(tenant, order.id, (o) =>
        expect(o).toMatchObject({ status: 'stopped', heldCents: 0, spentCents: 1000 }),
      );
      const entries = await entriesFor(tenant.tenantId, order.id);
      expect(entries.filter((e) => e.kind === 'hold_release').map((e) => e.heldDeltaCents)).toEqual([-5000]);
      expect(await stack.wallet(tenant.tenantId)).toMatchObject({ balanceCents: 9000, heldCents: 0 });
    });

    it('stops a queued order before launch: the hold goes back at once and no campaign is ever created', async () => {
      const tenant = await aFundedTenant(10000);
      await stack.stopWorker();
      try {
        const order = (await create(tenant, anOrder({ budgetCents: 7000 }))).body;
        expect(order.status).toBe('queued');
        const stopped = await act(tenant, order.id, 'stop');
        expect(stopped.status).toBe(202);
        expect(stopped.body).toMatchObject({ status: 'stopped', heldCents: 0 });
        expect(await stack.wallet(tenant.tenantId)).toMatchObject({ heldCents: 0, availableCents: 10000 });
        const worker = await stack.startWorker();
        // The OrderQueued already on the broker reaches the new worker, which must leave the order alone.
        await expectEventually(async () => {
          const metrics = await fetch(`${await worker.getUrl()}/metrics`).then((r) => r.text());
          expect(metrics).toMatch(/messages_consumed_total\{type="ads\.order\.queued",outcome="ack"\} [1-9]/);
        });
        expect(await stack.campaignsNamed(campaignNameForOrder(order.id))).toEqual([]);
        expect((await get(tenant, order.id)).body).toMatchObject({
          status: 'stopped',
          heldCents: 0,
          campaignId: null,
        });
        expect((await entriesFor(tenant.tenantId, order.id)).map((e) => [e.kind, e.heldDeltaCents])).toEqual([
          ['hold', 7000],
          ['hold_release', -7000],
        ]);
      } finally {
        if (!stack.workerRunning) await stack.startWorker();
      }
    });

    it('stops a waiting order without touching the wallet', async () => {
      const tenant = await aFundedTenant(3000);
      const order = (await create(tenant, anOrder({ budgetCents: 5000 }))).body;
      const stopped = await act(tenant, order.id, 'stop');
      expect(stopped.status).toBe(202);
      expect(stopped.body).toMatchObject({ status: 'stopped', waitingReason: null, heldCents: 0 });
      expect(await entriesFor(tenant.tenantId, order.id)).toEqual([]);
      expect((await act(tenant, order.id, 'resume')).status).toBe(409);
    });

    it('pauses a tenant’s running campaigns when a refund takes the balance below zero', async () => {
      const tenant = stack.aTenant();
      await stack.activatePlan(tenant);
      const paymentId = await stack.topUp(tenant, 6000);
      const order = (await create(tenant, anOrder({ budgetCents: 6000 }))).body;
      const active = await eventuallyActive(tenant, order.id);
      await stack.sandboxCall('POST', `/_sandbox/meta/campaigns/${active.campaignId}/spend`, {
        amountCents: 2000,
      });
      await stack.sweepNow();
      await eventually(tenant, order.id, (o) => expect(o.spentCents).toBe(2000));

      await stack.applyPaymentStatus(paymentId, 'refunded');
      const paused = await eventually(tenant, order.id, (o) => expect(o.status).toBe('paused'));
      expect(paused.history[paused.history.length - 1]).toMatchObject({
        from: 'active',
        to: 'paused',
        reason: 'balance_negative',
      });
      await expectEventually(async () => expect(await campaignStatus(order.id)).toBe('PAUSED'));
    });
  });

  describe('launching at Meta', () => {
    it('retries a throttled campaign creation and launches exactly one campaign', async () => {
      const tenant = await aFundedTenant(10000);
      await stack.sandboxCall('POST', '/_sandbox/faults', { provider: 'meta', status: 429, count: 1 });
      const order = (await create(tenant, anOrder({ budgetCents: 5000 }))).body;
      await eventuallyActive(tenant, order.id);
      expect(await stack.campaignsNamed(campaignNameForOrder(order.id))).toHaveLength(1);
      const { items } = await stack.sandboxCall<{ items: SandboxRequest[] }>(
        'GET',
        '/_sandbox/requests?provider=meta&limit=50',
      );
      const creates = items
        .filter(
          (r) =>
            r.method === 'POST' &&
            /\/act_\d+\/campaigns$/.test(r.path) &&
            r.body?.name === campaignNameForOrder(order.id),
        )
        .map((r) => r.response.status);
      expect(creates).toContain(429);
      expect(creates.filter((s) => s === 200)).toHaveLength(1);
    });

    it('creates one campaign when the same launch arrives ten times at once', async () => {
      const tenant = await aFundedTenant(10000);
      await stack.stopWorker();
      let orderId = '';
      try {
        const order = (await create(tenant, anOrder({ budgetCents: 5000 }))).body;
        orderId = order.id;
        const outbox = stack.api.get(OutboxService);
        await Promise.all(
          Array.from({ length: 9 }, () =>
            stack.dataSource.transaction((tx) =>
              outbox.enqueue(tx, OrderQueued, {
                tenantId: tenant.tenantId,
                data: { orderId: order.id, tenantId: tenant.tenantId },
              }),
            ),
          ),
        );
      } finally {
        await stack.startWorker();
      }
      await eventuallyActive(tenant, orderId);
      expect(await stack.campaignsNamed(campaignNameForOrder(orderId))).toHaveLength(1);
      expect((await get(tenant, orderId)).body.history.filter((h) => h.to === 'active')).toHaveLength(1);
    });

    it('rides out transient Graph errors inside the client', async () => {
      const tenant = await aFundedTenant(10000);
      await stack.sandboxCall('POST', '/_sandbox/faults', { provider: 'meta', status: 500, count: 2 });
      const order = (await create(tenant, anOrder({ budgetCents: 5000 }))).body;
      await eventuallyActive(tenant, order.id);
      expect(await stack.campaignsNamed(campaignNameForOrder(order.id))).toHaveLength(1);
    });

    it('fails the order and releases its hold when Meta refuses the campaign for good', async () => {
      const tenant = await aFundedTenant(10000);
      await stack.sandboxCall('POST', '/_sandbox/faults', {
        provider: 'meta',
        status: 400,
        graphCode: 100,
        count: 1,
      });
      const order = (await create(tenant, anOrder({ budgetCents: 5000 }))).body;
      const failed = await eventually(tenant, order.id, (o) => expect(o.status).toBe('failed'));
      expect(failed.failureReason).toMatch(/^meta_rejected: /);
      expect(failed).toMatchObject({ heldCents: 0, campaignId: null });
      expect(failed.history[failed.history.length - 1]).toMatchObject({
        from: 'launching',
        to: 'failed',
        reason: 'meta_rejected',
      });
      expect(await stack.wallet(tenant.tenantId)).toMatchObject({ heldCents: 0, availableCents: 10000 });
      expect(await stack.campaignsNamed(campaignNameForOrder(order.id))).toEqual([]);
    });

    it('adopts the campaign a crashed launch created instead of creating a second one (stale launch re-enqueued on start)', async () => {
      const tenant = await aFundedTenant(10000);
      await stack.stopWorker();
      try {
        const order = (await create(tenant, anOrder({ budgetCents: 5000 }))).body;
        // What a worker killed after Meta's answer leaves behind: the intent committed (launching,
        // one attempt), the campaign created at Meta, its id never recorded.
        await stack.dataSource.query(
          `UPDATE ads.orders SET status = 'launching', launch_attempts = 1, launch_started_at = now() - interval '1 hour' WHERE id = $1`,
          [order.id],
        );
        const graph = `${stack.sandbox.url}/v26.0/act_1000000000000001/campaigns`;
        const created = await fetch(graph, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer dev-meta-access-token' },
          body: JSON.stringify({
            name: campaignNameForOrder(order.id),
            objective: 'OUTCOME_TRAFFIC',
            status: 'ACTIVE',
            special_ad_categories: [],
            lifetime_budget: 5000,
          }),
        });
        const campaign = (await created.json()) as { id: string };
        // Only the start-up recovery may launch it: the creation's OrderQueued is gone.
        await stack.purgeWorkerQueue('ads.order.queued');
        await stack.startWorker({ MVP_RUNNING_STALE_SECONDS: '1' });
        const adopted = await eventuallyActive(tenant, order.id);
        expect(adopted.campaignId).toBe(campaign.id);
        expect(adopted.history[adopted.history.length - 1]).toMatchObject({
          from: 'launching',
          to: 'active',
          reason: 'campaign_adopted',
        });
        expect(await stack.campaignsNamed(campaignNameForOrder(order.id))).toHaveLength(1);
      } finally {
        if (!stack.workerRunning) await stack.startWorker();
      }
    });
  });

  describe('with REAL_ADS_ENABLED=false', () => {
    it('launches through the built-in simulator, never calling Graph, and labels its calls as simulated', async () => {
      const worker = await stack.restartWorker({ REAL_ADS_ENABLED: 'false' });
      try {
        const tenant = await aFundedTenant(10000);
        const order = (await create(tenant, anOrder({ budgetCents: 5000 }))).body;
        const active = await eventuallyActive(tenant, order.id);
        expect(active.campaignId).toMatch(/^sim_/);
        expect(await stack.campaignsNamed(campaignNameForOrder(order.id))).toEqual([]);
        const metrics = await fetch(`${await worker.getUrl()}/metrics`).then((r) => r.text());
        expect(metrics).toMatch(
          /meta_api_calls_total\{operation="createCampaign",result="ok",mode="simulator"\} 1/,
        );
        expect((await act(tenant, order.id, 'stop')).status).toBe(202);
        await eventually(tenant, order.id, (o) =>
          expect(o).toMatchObject({ status: 'stopped', heldCents: 0 }),
        );
      } finally {
        await stack.restartWorker();
      }
    });
  });

  describe('spend from insights', () => {
    it('captures spend every META_INSIGHTS_INTERVAL_MS, never more than the budget, then pauses and completes', async () => {
      await stack.restartWorker({ META_INSIGHTS_INTERVAL_MS: '200' });
      try {
        const tenant = await aFundedTenant(10000);
        const order = (await create(tenant, anOrder({ budgetCents: 5000 }))).body;
        const active = await eventuallyActive(tenant, order.id);
        const spend = (cents: number): Promise<unknown> =>
          stack.sandboxCall('POST', `/_sandbox/meta/campaigns/${active.campaignId}/spend`, {
            amountCents: cents,
          });

        await spend(2000);
        await eventually(tenant, order.id, (o) =>
          expect(o).toMatchObject({ status: 'active', spentCents: 2000, heldCents: 3000 }),
        );
        expect(await stack.wallet(tenant.tenantId)).toMatchObject({
          balanceCents: 8000,
          heldCents: 3000,
          availableCents: 5000,
        });

        await spend(1000);
        await eventually(tenant, order.id, (o) =>
          expect(o).toMatchObject({ spentCents: 3000, heldCents: 2000 }),
        );

        // Meta over-delivers past the budget: capture stops at the hold, the campaign is paused, the order completes.
        await spend(4000);
        const completed = await eventually(tenant, order.id, (o) =>
          expect(o).toMatchObject({ status: 'completed', spentCents: 5000, heldCents: 0 }),
        );
        expect(completed.history[completed.history.length - 1]).toMatchObject({
          from: 'active',
          to: 'completed',
          reason: 'budget_used_up',
        });
        expect(await campaignStatus(order.id)).toBe('PAUSED');
        expect(await stack.wallet(tenant.tenantId)).toMatchObject({
          balanceCents: 5000,
          heldCents: 0,
          availableCents: 5000,
        });
        const spends = (await entriesFor(tenant.tenantId, order.id)).filter((e) => e.kind === 'spend');
        expect(spends.map((e) => [e.reference, e.amountCents])).toEqual([
          [`order:${order.id}:spend:2000`, -2000],
          [`order:${order.id}:spend:3000`, -1000],
          [`order:${order.id}:spend:5000`, -2000],
        ]);
        expect(
          (await entriesFor(tenant.tenantId, order.id)).filter((e) => e.kind === 'hold_release'),
        ).toEqual([]);
      } finally {
        await stack.restartWorker();
      }
    });
  });

  describe('spend capture under concurrency', () => {
    it('captures one reading reported ten times at once exactly once', async () => {
      const tenant = await aFundedTenant(10000);
      const order = (await create(tenant, anOrder({ budgetCents: 5000 }))).body;
      await eventuallyActive(tenant, order.id);
      const lifecycle = stack.api.get(OrderLifecycleService);
      await Promise.all(Array.from({ length: 10 }, () => lifecycle.captureSpend(order.id, 2500)));
      // A stale, lower reading afterwards changes nothing: spend never decreases.
      await lifecycle.captureSpend(order.id, 1000);
      expect((await get(tenant, order.id)).body).toMatchObject({ spentCents: 2500, heldCents: 2500 });
      const spends = (await entriesFor(tenant.tenantId, order.id)).filter((e) => e.kind === 'spend');
      expect(spends.map((e) => [e.reference, e.amountCents])).toEqual([
        [`order:${order.id}:spend:2500`, -2500],
      ]);
      expect(await stack.wallet(tenant.tenantId)).toMatchObject({
        balanceCents: 7500,
        heldCents: 2500,
        availableCents: 5000,
      });
    });
  });

  describe('tenancy', () => {
    it('answers 404 for another tenant’s order on read and on every action', async () => {
      const owner = await aFundedTenant(10000);
      const order = (await create(owner, anOrder({ budgetCents: 5000 }))).body;
      const stranger = await aFundedTenant(10000);
      expect((await get(stranger, order.id)).status).toBe(404);
      for (const action of ['pause', 'resume', 'stop'] as const) {
        const answer = (await act(stranger, order.id, action)) as unknown as ApiResponse<Problem>;
        expect({ action, status: answer.status, code: answer.body.code }).toEqual({
          action,
          status: 404,
          code: 'not_found',
        });
      }
      expect((await get(stranger, 'not-a-uuid')).status).toBe(404);
      const list = await stack.request<{ items: OrderView[] }>('GET', '/v1/ads/orders', {
        token: stranger.token,
      });
      expect(list.body.items.map((o) => o.id)).not.toContain(order.id);
      expect((await get(owner, order.id)).body.status).not.toBe('stopped');
    });

    it('pages the tenant’s orders newest first', async () => {
      const tenant = await aFundedTenant(0);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await create(tenant, anOrder({ name: `order ${i}` }))).body.id);
      const first = await stack.request<{ items: OrderView[]; nextCursor: string | null }>(
        'GET',
        '/v1/ads/orders?limit=2',
        { token: tenant.token },
      );
      expect(first.body.items.map((o) => o.id)).toEqual([ids[4], ids[3]]);
      const second = await stack.request<{ items: OrderView[]; nextCursor: string | null }>(
        'GET',
        `/v1/ads/orders?limit=2&cursor=${first.body.nextCursor}`,
        { token: tenant.token },
      );
      expect(second.body.items.map((o) => o.id)).toEqual([ids[2], ids[1]]);
      const third = await stack.request<{ items: OrderView[]; nextCursor: string | null }>(
        'GET',
        `/v1/ads/orders?limit=2&cursor=${second.body.nextCursor}`,
        { token: tenant.token },
      );
      expect(third.body).toEqual({ items: [expect.objectContaining({ id: ids[0] })], nextCursor: null });
      expect(
        (await stack.request<Problem>('GET', '/v1/ads/orders?cursor=garbage', { token: tenant.token }))
          .status,
      ).toBe(400);
      expect(
        (await stack.request<Problem>('GET', '/v1/ads/orders?limit=101', { token: tenant.token })).status,
      ).toBe(400);
    });

    it('refuses a cursor PostgreSQL could not read with 400 validation_failed, not a 500', async () => {
      const tenant = await aFundedTenant(0);
      const cursorOf = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
      for (const cursor of [
        cursorOf(['1', randomUUID()]),
        cursorOf(['2026-02-30T00:00:00.000Z', randomUUID()]),
        cursorOf(['0000-01-01T00:00:00Z', randomUUID()]),
        cursorOf(['2026-01-01T00:00:00Z', '-'.repeat(36)]),
      ]) {
        const answer = await stack.request<Problem>('GET', `/v1/ads/orders?cursor=${cursor}`, {
          token: tenant.token,
        });
        expect(answer.status).toBe(400);
        expect(answer.headers.get('content-type')).toContain('application/problem+json');
        expect(answer.body).toMatchObject({
          status: 400,
          code: 'validation_failed',
          errors: [{ field: 'cursor', message: 'cursor is malformed' }],
        });
      }
    });
  });

  it('counts transitions and Meta calls in the metrics, marked as real Graph calls', async () => {
    const api = await fetch(`${await stack.api.getUrl()}/metrics`).then((r) => r.text());
    expect(api).toMatch(/ads_order_transitions_total\{from="none",to="queued"\} \d+/);
    const worker = await fetch(`${await stack.worker.getUrl()}/metrics`).then((r) => r.text());
    expect(worker).toMatch(/meta_api_calls_total\{operation="createCampaign",result="ok",mode="graph"\} \d+/);
  });
});
