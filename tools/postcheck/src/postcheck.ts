import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { PostcheckOptions } from './args';
import { HttpClient, HttpResult, waitFor } from './http';
import { mercadoPagoPaymentNotification } from './mercadopago-notification';

/** A check that did not hold: its message says what was expected and what came back. */
export class CheckFailed extends Error {}

function expectThat(condition: unknown, message: string): asserts condition {
  if (!condition) throw new CheckFailed(message);
}

function describe(res: HttpResult<unknown>): string {
  const body = res.text.length > 300 ? `${res.text.slice(0, 300)}…` : res.text;
  return `HTTP ${res.status} ${body}`;
}

interface OrderView {
  id: string;
  status: string;
  waitingReason: string | null;
  budgetCents: number;
}
interface TopupView {
  id: string;
  status: string;
  amountCents: number;
  providerPaymentId: string | null;
}
interface WalletView {
  balanceCents: number;
  heldCents: number;
  availableCents: number;
}

export interface PostcheckReport {
  ok: boolean;
  passed: number;
  failed: number;
  tenantId: string | null;
  runId: string;
}

const ORDER_BUDGET_CENTS = 1000;

/**
 * SPEC §11, automated: the five checks of the go-live runbook (seed 000 "Postcheck") against any
 * deployment. Each check prints ✓ or ✗ per step; a check whose preconditions failed is reported
 * as skipped (✗). The run uses a fresh tenant, so it never touches real customers' data, and
 * stops the orders it created.
 */
export async function runPostcheck(
  options: PostcheckOptions,
  out: (line: string) => void,
): Promise<PostcheckReport> {
  const runId = randomBytes(4).toString('hex');
  const http = new HttpClient(runId, options.verbose ? out : null);
  const started = Date.now();
  const state: {
    token?: string;
    tenantId?: string;
    topup?: TopupView;
    paymentId?: string;
    queued?: OrderView;
    orders: string[];
  } = { orders: [] };
  let passed = 0;
  let failed = 0;

  const api = <T = Record<string, unknown>>(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    idempotent = false,
  ): Promise<HttpResult<T>> =>
    http.call<T>({
      method,
      url: `${options.baseUrl}${path}`,
      headers: {
        ...(state.token ? { authorization: `Bearer ${state.token}` } : {}),
        ...(idempotent ? { 'idempotency-key': `postcheck-${runId}-${randomUUID()}` } : {}),
      },
      body,
    });
  const ok = (line: string): void => out(`  ✓ ${line}`);
  const wallet = async (): Promise<WalletView> => {
    const res = await api<WalletView>('GET', '/v1/billing/wallet');
    expectThat(res.status === 200, `GET /v1/billing/wallet: expected 200, got ${describe(res)}`);
    return res.body;
  };
  const getOrder = async (id: string): Promise<OrderView> => {
    const res = await api<OrderView>('GET', `/v1/ads/orders/${id}`);
    expectThat(res.status === 200, `GET /v1/ads/orders/${id}: expected 200, got ${describe(res)}`);
    return res.body;
  };
  const createOrder = async (budgetCents: number, label: string): Promise<OrderView> => {
    const res = await api<OrderView>(
      'POST',
      '/v1/ads/orders',
      {
        name: `postcheck ${runId} ${label}`,
        objective: 'traffic',
        budgetCents,
        targeting: { countries: ['BR'], ageMin: 18, ageMax: 45 },
        creative: {
          headline: 'RealApp go-live check',
          body: 'Automated postcheck order; stopped by the check itself.',
          imageUrl: 'https://example.com/postcheck.png',
          linkUrl: 'https://example.com/',
        },
      },
      true,
    );
    expectThat(res.status === 201, `POST /v1/ads/orders (${label}): expected 201, got ${describe(res)}`);
    state.orders.push(res.body.id);
    return res.body;
  };
  const act = async (
    order: OrderView,
    action: 'pause' | 'resume' | 'stop',
    expected: { status: number; orderStatus?: string; code?: string },
  ): Promise<void> => {
    const res = await api<OrderView & { code?: string }>('POST', `/v1/ads/orders/${order.id}/${action}`);
    expectThat(
      res.status === expected.status,
      `POST …/${action}: expected ${expected.status}, got ${describe(res)}`,
    );
    if (expected.orderStatus)
      expectThat(
        res.body.status === expected.orderStatus,
        `POST …/${action}: expected status ${expected.orderStatus}, got ${res.body.status}`,
      );
    if (expected.code)
      expectThat(
        res.body.code === expected.code,
        `POST …/${action}: expected code ${expected.code}, got ${String(res.body.code)}`,
      );
  };

  const check = async (
    title: string,
    needs: Array<keyof typeof state>,
    body: () => Promise<void>,
    counts = true,
  ): Promise<boolean> => {
    out(`▶ ${title}`);
    const missing = needs.filter((key) => state[key] === undefined);
    if (missing.length) {
      out(`  ✗ skipped: an earlier step did not produce ${missing.join(', ')}`);
      if (counts) failed++;
      return false;
    }
    try {
      await body();
      if (counts) passed++;
      return true;
    } catch (error) {
      out(`  ✗ ${error instanceof Error ? error.message : String(error)}`);
      if (counts) failed++;
      return false;
    }
  };

  out(`RealApp postcheck (run ${runId}) against ${options.baseUrl}`);
  out(`  auth ${options.authUrl} · webhooks ${options.webhookUrl} · sandbox ${options.sandboxUrl}`);

  await check(
    '0. A fresh tenant signs up for the check',
    [],
    async () => {
      const res = await http.call<{ accessToken: string; tenant: { id: string } }>({
        method: 'POST',
        url: `${options.authUrl}/v1/auth/signup`,
        body: {
          email: `postcheck+${runId}-${Date.now()}@example.com`,
          password: randomBytes(18).toString('base64url'),
          name: 'Postcheck',
          tenantName: `Postcheck ${runId}`,
        },
      });
      expectThat(
        res.status === 201 && typeof res.body.accessToken === 'string',
        `POST /v1/auth/signup: expected 201 with tokens, got ${describe(res)}`,
      );
      state.token = res.body.accessToken;
      state.tenantId = res.body.tenant.id;
      ok(`tenant ${state.tenantId} signed up`);
    },
    false,
  );

  await check('1. A PIX top-up is created and is pending', ['token'], async () => {
    const res = await api<TopupView & { pix?: { copyPasteCode?: string } }>(
      'POST',
      '/v1/billing/topups/pix',
      { amountCents: options.topupCents },
      true,
    );
    expectThat(res.status === 201, `POST /v1/billing/topups/pix: expected 201, got ${describe(res)}`);
    expectThat(
      res.body.status === 'pending',
      `POST /v1/billing/topups/pix: expected status pending, got ${res.body.status}`,
    );
    expectThat(
      typeof res.body.pix?.copyPasteCode === 'string' && res.body.pix.copyPasteCode.startsWith('000201'),
      'the top-up has no PIX copy-and-paste code',
    );
    expectThat(typeof res.body.providerPaymentId === 'string', 'the top-up has no Mercado Pago payment id');
    ok(
      `POST /v1/billing/topups/pix → 201 pending (top-up ${res.body.id}, payment ${String(res.body.providerPaymentId)})`,
    );
    const read = await api<TopupView>('GET', `/v1/billing/topups/${res.body.id}`);
    expectThat(
      read.status === 200 && read.body.status === 'pending',
      `GET /v1/billing/topups/:id: expected pending, got ${describe(read)}`,
    );
    ok('GET /v1/billing/topups/:id → pending');
    state.topup = res.body;
    state.paymentId = String(res.body.providerPaymentId);
  });

  await check(
    '2. A correctly signed Mercado Pago webhook approves it; a duplicate changes nothing',
    ['topup', 'paymentId'],
    async () => {
      const paymentId = state.paymentId as string;
      const topup = state.topup as TopupView;
      const approve = await http.call({
        method: 'POST',
        url: `${options.sandboxUrl}/_sandbox/mercadopago/payments/${paymentId}/status`,
        body: { status: 'approved' },
      });
      expectThat(
        approve.status === 200,
        `sandbox: approving payment ${paymentId} failed: ${describe(approve)}`,
      );
      ok(`sandbox: payment ${paymentId} approved at the provider`);

      const notification = mercadoPagoPaymentNotification({
        paymentId,
        notificationId: randomInt(10_000_000_000, 99_999_999_999),
        requestId: randomUUID(),
        secret: options.mercadoPagoWebhookSecret,
      });
      const send = (): Promise<HttpResult<unknown>> =>
        http.call({
          method: 'POST',
          url: `${options.webhookUrl}${notification.path}`,
          headers: notification.headers,
          body: notification.body,
        });
      const first = await send();
      expectThat(
        first.status >= 200 && first.status < 300,
        `POST /v1/webhooks/mercadopago (signed): expected 2xx, got ${describe(first)}`,
      );
      ok(`signed webhook accepted (${first.status})`);
      await waitFor('the top-up to become approved', options.timeoutMs, async () => {
        const res = await api<TopupView>('GET', `/v1/billing/topups/${topup.id}`);
        if (res.body.status === 'approved') return true;
        throw new Error(`status is ${res.body.status}`);
      });
      ok('the top-up is approved');
      const before = await wallet();

      const duplicate = await send();
      expectThat(
        duplicate.status >= 200 && duplicate.status < 300,
        `duplicate webhook: expected 2xx, got ${describe(duplicate)}`,
      );
      ok(`duplicate webhook answered ${duplicate.status}`);
      // A second credit would follow within moments of the duplicate; watch the wallet for a while.
      const until = Date.now() + Math.min(3000, options.timeoutMs);
      while (Date.now() < until) {
        const now = await wallet();
        expectThat(
          now.balanceCents === before.balanceCents,
          `the duplicate changed the balance: ${before.balanceCents} → ${now.balanceCents}`,
        );
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      const ledger = await api<{ items: Array<{ kind: string; reference: string }> }>(
        'GET',
        '/v1/billing/ledger?limit=100',
      );
      const credits = ledger.body.items.filter((entry) => entry.kind === 'topup');
      expectThat(credits.length === 1, `expected exactly one topup ledger entry, found ${credits.length}`);
      ok('the duplicate changed nothing (one credit, same balance)');
    },
  );

  await check('3. GET /v1/billing/wallet shows the new balance', ['topup'], async () => {
    const now = await wallet();
    expectThat(
      now.balanceCents === options.topupCents,
      `expected balance ${options.topupCents}, got ${now.balanceCents}`,
    );
    expectThat(
      now.availableCents === options.topupCents,
      `expected available ${options.topupCents}, got ${now.availableCents}`,
    );
    ok(`balance ${now.balanceCents}, held ${now.heldCents}, available ${now.availableCents}`);
  });

  await check(
    '4. An ads order is queued with an active plan and enough balance, waiting_payment otherwise',
    ['token'],
    async () => {
      const noPlan = await createOrder(ORDER_BUDGET_CENTS, 'no plan yet');
      expectThat(
        noPlan.status === 'waiting_payment' && noPlan.waitingReason === 'missing_plan',
        `without a plan: expected waiting_payment/missing_plan, got ${noPlan.status}/${String(noPlan.waitingReason)}`,
      );
      ok('without a plan → waiting_payment (missing_plan)');

      const subscribe = await api<{ status: string; checkoutUrl: string }>(
        'POST',
        '/v1/billing/subscription',
        {},
        true,
      );
      expectThat(
        subscribe.status === 201 && typeof subscribe.body.checkoutUrl === 'string',
        `POST /v1/billing/subscription: expected 201, got ${describe(subscribe)}`,
      );
      const preapprovalId = new URL(subscribe.body.checkoutUrl).searchParams.get('preapproval_id');
      expectThat(preapprovalId, `the checkoutUrl carries no preapproval_id: ${subscribe.body.checkoutUrl}`);
      const authorize = await http.call<{ notified?: { status: number } }>({
        method: 'POST',
        url: `${options.sandboxUrl}/_sandbox/mercadopago/preapproval/${preapprovalId}/status`,
        body: { status: 'authorized', notify: true },
      });
      expectThat(
        authorize.status === 200,
        `sandbox: authorizing pre-approval ${preapprovalId} failed: ${describe(authorize)}`,
      );
      await waitFor('the subscription to become active', options.timeoutMs, async () => {
        const res = await api<{ status: string }>('GET', '/v1/billing/subscription');
        if (res.body.status === 'active') return true;
        throw new Error(`status is ${res.body.status}`);
      });
      ok('plan authorized at the provider → subscription active');

      await waitFor('the waiting order to be re-evaluated', options.timeoutMs, async () => {
        const order = await getOrder(noPlan.id);
        if (order.status !== 'waiting_payment') return true;
        throw new Error(`still waiting_payment (${String(order.waitingReason)})`);
      });
      ok('the order that waited for the plan left waiting_payment');

      const funded = await createOrder(ORDER_BUDGET_CENTS, 'funded');
      expectThat(
        funded.status === 'queued',
        `with a plan and enough balance: expected queued, got ${funded.status}/${String(funded.waitingReason)}`,
      );
      state.queued = funded;
      ok(`with a plan and enough balance → queued (order ${funded.id})`);

      const available = (await wallet()).availableCents;
      const tooBig = await createOrder(
        Math.min(100_000_000, Math.max(ORDER_BUDGET_CENTS, available + ORDER_BUDGET_CENTS)),
        'over budget',
      );
      expectThat(
        tooBig.status === 'waiting_payment' && tooBig.waitingReason === 'insufficient_balance',
        `beyond the balance: expected waiting_payment/insufficient_balance, got ${tooBig.status}/${String(tooBig.waitingReason)}`,
      );
      ok('beyond the available balance → waiting_payment (insufficient_balance)');
    },
  );

  await check('5. Pause, resume and stop work; resume after stop is refused', ['queued'], async () => {
    const order = state.queued as OrderView;
    await waitFor('the campaign to be launched (active)', options.timeoutMs, async () => {
      const now = await getOrder(order.id);
      if (now.status === 'active') return true;
      if (now.status === 'failed') throw new CheckFailed(`the launch failed: ${JSON.stringify(now)}`);
      throw new Error(`status is ${now.status}`);
    });
    ok('the worker launched the campaign → active');
    await act(order, 'pause', { status: 202, orderStatus: 'paused' });
    ok('pause → 202 paused');
    await act(order, 'resume', { status: 202, orderStatus: 'active' });
    ok('resume → 202 active');
    await act(order, 'stop', { status: 202, orderStatus: 'stopped' });
    ok('stop → 202 stopped');
    await act(order, 'resume', { status: 409, code: 'invalid_transition' });
    ok('resume after stop → 409 invalid_transition');
  });

  // Leave nothing running: stop what the check created (already-stopped orders answer 409).
  if (state.token && state.orders.length) {
    for (const id of state.orders) await api('POST', `/v1/ads/orders/${id}/stop`).catch(() => undefined);
    out(
      `  (stopped the ${state.orders.length} orders this run created; tenant ${String(state.tenantId)} keeps them for inspection)`,
    );
  }

  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  out(
    failed === 0
      ? `✓ ${passed}/5 checks passed in ${seconds} s`
      : `✗ ${failed} of 5 checks failed (${passed} passed) in ${seconds} s — search the logs for postcheck-${runId}`,
  );
  return { ok: failed === 0 && passed === 5, passed, failed, tenantId: state.tenantId ?? null, runId };
}
