import { randomUUID } from 'node:crypto';
import {
  activatePlan,
  anOrder,
  approveAndNotify,
  createPixTopup,
  Customer,
  redeliver,
  signUp,
} from './stack/customers';
import { buildPrivately, removeBuild } from './stack/build';
import { call, waitFor } from './stack/http';
import { PlatformStack, startPlatformStack } from './stack/platform-stack';

/*
 * SPEC §8: "Any number of worker and API replicas may run at once: periodic jobs run once per
 * interval across all replicas, and competing consumers never double-apply." Two queue-apis and
 * two codex-workers (real processes) on one database and one broker, the money paths driven at
 * both at once. A fault-spec because it runs six processes: it runs alone, after the others.
 */
const RECONCILIATION_INTERVAL_MS = 2000;
const INSIGHTS_INTERVAL_MS = 2000;

describe('two queue-apis and two codex-workers on one database and broker', () => {
  let buildDir: string;
  let stack: PlatformStack;
  const api = (i: number): string => stack.url('queue-api', i % 2);

  const as = (customer: Customer): { token: string; ip: string } => ({
    token: customer.token,
    ip: customer.ip,
  });
  const ledgerCount = async (reference: string): Promise<number> =>
    (
      await stack.query<{ n: number }>(`SELECT count(*)::int AS n FROM ledger.entries WHERE reference = $1`, [
        reference,
      ])
    )[0].n;
  const wallet = async (
    customer: Customer,
  ): Promise<{ balanceCents: number; heldCents: number; availableCents: number }> =>
    (
      await call<{ balanceCents: number; heldCents: number; availableCents: number }>(
        api(0),
        'GET',
        '/v1/billing/wallet',
        as(customer),
      )
    ).body;
  const fundedCustomer = async (amountCents: number): Promise<Customer> => {
    const customer = await signUp(stack);
    await activatePlan(stack, customer);
    const topup = await createPixTopup(stack, customer, amountCents);
    if (!topup) throw new Error('top-up refused');
    expect(await approveAndNotify(stack, topup.paymentId)).toEqual([200]);
    await waitFor(
      async () => ((await wallet(customer)).balanceCents === amountCents ? true : undefined),
      20_000,
    );
    expect((await wallet(customer)).balanceCents).toBe(amountCents);
    return customer;
  };

  beforeAll(async () => {
    buildDir = buildPrivately();
    stack = await startPlatformStack({
      buildDir,
      replicas: { 'queue-api': 2, 'codex-worker': 2 },
      serviceEnv: {
        'codex-worker': {
          TOPUP_RECONCILIATION_INTERVAL_MS: String(RECONCILIATION_INTERVAL_MS),
          META_INSIGHTS_INTERVAL_MS: String(INSIGHTS_INTERVAL_MS),
          HEARTBEAT_INTERVAL_MS: '500',
        },
      },
    });
  }, 180_000);

  afterAll(async () => {
    await stack?.close();
    if (buildDir) removeBuild(buildDir);
  }, 60_000);

  it('credits a payment once when its notification reaches both workers many times over', async () => {
    const customer = await signUp(stack);
    const topups = await Promise.all(
      Array.from({ length: 6 }, (_, i) => createPixTopup(stack, customer, 3000 + i * 100, i % 2)),
    );
    // Each approval: one notification delivered 4 times, redelivered 4 more, and a fresh one on top.
    await Promise.all(
      topups.map(async (topup) => {
        if (!topup) throw new Error('top-up refused');
        await Promise.all([
          approveAndNotify(stack, topup.paymentId, 4),
          redeliver(stack, topup.paymentId, 4),
        ]);
        await approveAndNotify(stack, topup.paymentId, 2);
      }),
    );
    const expected = topups.reduce((sum, topup) => sum + (topup?.amountCents ?? 0), 0);
    await waitFor(
      async () => ((await wallet(customer)).balanceCents === expected ? true : undefined),
      30_000,
    );
    expect((await wallet(customer)).balanceCents).toBe(expected);
    for (const topup of topups) expect(await ledgerCount(`mercadopago:${topup?.paymentId}:topup`)).toBe(1);
  }, 90_000);

  it('creates one order, one hold and one campaign for one Idempotency-Key sent to both APIs at once', async () => {
    const customer = await fundedCustomer(10_000);
    const key = randomUUID();
    const body = anOrder(2500);
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        call<{ id: string }>(api(i), 'POST', '/v1/ads/orders', {
          ...as(customer),
          idempotencyKey: key,
          body,
        }),
      ),
    );
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.every((status) => status === 201 || status === 409)).toBe(true);
    const ids = new Set(answers.filter((answer) => answer.status === 201).map((answer) => answer.body.id));
    expect(ids.size).toBe(1);
    const [orderId] = [...ids];
    const [{ n: orders }] = await stack.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ads.orders WHERE tenant_id = $1`,
      [customer.tenantId],
    );
    expect(orders).toBe(1);
    expect(await ledgerCount(`order:${orderId}:hold`)).toBe(1);
    await waitFor(async () => {
      const order = await call<{ status: string }>(api(1), 'GET', `/v1/ads/orders/${orderId}`, as(customer));
      return order.body?.status === 'active' ? true : undefined;
    }, 30_000);
    const campaigns = await call<{ items: Array<{ name: string }> }>(
      stack.sandbox.url,
      'GET',
      '/_sandbox/meta/campaigns',
    );
    expect(
      campaigns.body.items.filter((campaign) => campaign.name === `realapp-order-${orderId}`),
    ).toHaveLength(1);
  }, 90_000);

  it('never holds more than the wallet has when orders race on both APIs, and launches each queued order once', async () => {
    const customer = await fundedCustomer(10_000);
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        call<{ id: string; status: string; waitingReason: string | null }>(api(i), 'POST', '/v1/ads/orders', {
          ...as(customer),
          idempotencyKey: randomUUID(),
          body: anOrder(2000),
        }),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(10).fill(201));
    const queued = answers.filter((answer) => answer.body.status === 'queued');
    const waiting = answers.filter((answer) => answer.body.status === 'waiting_payment');
    expect(queued).toHaveLength(5);
    expect(waiting).toHaveLength(5);
    expect(waiting.every((answer) => answer.body.waitingReason === 'insufficient_balance')).toBe(true);
    expect(await wallet(customer)).toMatchObject({
      balanceCents: 10_000,
      heldCents: 10_000,
      availableCents: 0,
    });

    await waitFor(async () => {
      const [{ n }] = await stack.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ads.orders WHERE tenant_id = $1 AND status = 'active'`,
        [customer.tenantId],
      );
      return n === 5 ? true : undefined;
    }, 30_000);
    const campaigns = await call<{ items: Array<{ name: string }> }>(
      stack.sandbox.url,
      'GET',
      '/_sandbox/meta/campaigns',
    );
    for (const order of queued) {
      expect(
        campaigns.body.items.filter((campaign) => campaign.name === `realapp-order-${order.body.id}`),
      ).toHaveLength(1);
      expect(await ledgerCount(`order:${order.body.id}:hold`)).toBe(1);
    }
  }, 90_000);

  it('releases a hold once when the same stop reaches both APIs at once', async () => {
    const customer = await fundedCustomer(5000);
    const created = await call<{ id: string; status: string }>(api(0), 'POST', '/v1/ads/orders', {
      ...as(customer),
      idempotencyKey: randomUUID(),
      body: anOrder(3000),
    });
    expect(created.body.status).toBe('queued');
    const stops = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        call(api(i), 'POST', `/v1/ads/orders/${created.body.id}/stop`, as(customer)),
      ),
    );
    const statuses = stops.map((stop) => stop.status);
    expect(statuses.filter((status) => status === 202).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((status) => status === 202 || status === 409)).toBe(true);
    await waitFor(async () => ((await wallet(customer)).heldCents === 0 ? true : undefined), 30_000);
    expect(await wallet(customer)).toMatchObject({ balanceCents: 5000, heldCents: 0, availableCents: 5000 });
    expect(await ledgerCount(`order:${created.body.id}:release`)).toBe(1);
  }, 90_000);

  /**
   * The times at which the sandbox saw `count` calls matching `matches` after `from` (waits for
   * them): a job running once per interval spreads them one interval apart, whatever the replicas.
   */
  const callTimes = async (
    provider: string,
    from: number,
    count: number,
    matches: (entry: { method: string; path: string }) => boolean,
  ): Promise<number[]> => {
    const times = await waitFor(
      async () => {
        const log = await call<{ items: Array<{ at: string; method: string; path: string }> }>(
          stack.sandbox.url,
          'GET',
          `/_sandbox/requests?provider=${provider}&limit=1000`,
        );
        const found = log.body.items
          .filter((entry) => matches(entry) && Date.parse(entry.at) >= from)
          .map((entry) => Date.parse(entry.at))
          .sort((a, b) => a - b);
        return found.length >= count ? found.slice(0, count) : undefined;
      },
      count * 4 * Math.max(RECONCILIATION_INTERVAL_MS, INSIGHTS_INTERVAL_MS),
    );
    if (!times) throw new Error(`fewer than ${count} ${provider} calls seen`);
    return times;
  };

  it('runs the top-up reconciliation once per interval across both workers', async () => {
    const customer = await signUp(stack);
    const pending = await createPixTopup(stack, customer, 4000);
    if (!pending) throw new Error('top-up refused');
    const times = await callTimes(
      'mercadopago',
      Date.now(),
      6,
      (e) => e.method === 'GET' && e.path === `/v1/payments/${pending.paymentId}`,
    );
    // Six passes, each checking the pending top-up once, span five intervals; one pass per replica
    // per interval would fit them into about half of that.
    expect(times[5] - times[0]).toBeGreaterThanOrEqual(5 * RECONCILIATION_INTERVAL_MS * 0.8);
  }, 90_000);

  it('reads campaign insights once per interval across both workers', async () => {
    // Earlier tests stop some orders (their campaigns are archived and no longer polled): watch a live one.
    const campaign = (
      await call<{ items: Array<{ id: string; status: string }> }>(stack.sandbox.url, 'GET', '/_sandbox/meta/campaigns')
    ).body.items.find((c) => c.status === 'ACTIVE');
    if (!campaign) throw new Error('no active campaign to watch');
    const times = await callTimes(
      'meta',
      Date.now(),
      6,
      (e) => e.method === 'GET' && e.path.endsWith(`/${campaign.id}/insights`),
    );
    expect(times[5] - times[0]).toBeGreaterThanOrEqual(5 * INSIGHTS_INTERVAL_MS * 0.8);
  }, 90_000);

  it('shows both workers alive in worker-health', async () => {
    const health = await call<{ healthy: boolean; workers: Array<{ workerId: string }> }>(
      api(1),
      'GET',
      '/v1/ops/worker-health',
      {
        headers: { 'x-ops-key': 'dev-ops-api-key' },
      },
    );
    expect(health.body.healthy).toBe(true);
    const ids = health.body.workers.map((worker) => worker.workerId);
    for (const worker of stack.instances['codex-worker'])
      expect(ids.some((id) => id.endsWith(worker.name))).toBe(true);
  }, 90_000);
});
