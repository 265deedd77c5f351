import { randomUUID } from 'node:crypto';
import { LedgerService } from '@realapp/ledger';
import { MetricsService } from '@realapp/platform';
import {
  MercadoPagoClient,
  MercadoPagoPayment,
  StripeGateway,
  SubscriptionService,
  TopupApplyResult,
  TopupService,
} from '@realapp/payments';
import { IDEMPOTENCY_CLEANUP_LOCK, IdempotencyCleanupJob } from '../jobs/idempotency-cleanup.job';
import { BillingStack, startBillingStack, TestTenant } from './testing/billing-stack';

interface TopupBody {
  id: string;
  status: string;
  providerPaymentId: string | null;
  providerSessionId: string | null;
}

interface OutboxRow {
  type: string;
  data: Record<string, unknown>;
}

/**
 * The application API the payments worker (webhooks, reconciliation) calls, on the real database
 * with the provider sandbox as Mercado Pago and Stripe: every report applied once however many
 * times it arrives, and the ledger, the top-up and the outbox moving together.
 */
describe('billing application API on the real stack', () => {
  let stack: BillingStack;
  let topups: TopupService;
  let subscriptions: SubscriptionService;
  let ledger: LedgerService;
  let mercadoPago: MercadoPagoClient;
  let stripe: StripeGateway;

  const outbox = async (tenantId: string): Promise<OutboxRow[]> =>
    (await stack.dataSource.query(
      `SELECT type, envelope -> 'data' AS data FROM messaging.outbox_log WHERE envelope ->> 'tenantId' = $1 ORDER BY seq`,
      [tenantId],
    )) as OutboxRow[];
  const outboxTypes = async (tenantId: string): Promise<string[]> =>
    (await outbox(tenantId)).map((row) => row.type);
  /** An order of `tenantId` waiting for money, as queue-api leaves one the wallet does not cover. */
  const aWaitingOrder = async (tenantId: string): Promise<void> => {
    await stack.dataSource.query(
      `INSERT INTO ads.orders (id, tenant_id, name, objective, status, waiting_reason, budget_cents, targeting, creative)
       VALUES ($1, $2, 'waiting', 'traffic', 'waiting_payment', 'insufficient_balance', 900000, '{}'::jsonb, '{}'::jsonb)`,
      [randomUUID(), tenantId],
    );
  };
  /** On-call's credit counters in this process, for one provider. */
  const creditCounters = async (provider: string): Promise<{ credits: number; cents: number }> => {
    const registry = stack.app.get(MetricsService).registry;
    const value = async (name: string): Promise<number> =>
      (await registry.getSingleMetric(name)?.get())?.values.find((v) => v.labels['provider'] === provider)
        ?.value ?? 0;
    return {
      credits: await value('credits_applied_total'),
      cents: await value('credits_applied_cents_total'),
    };
  };
  const references = async (tenantId: string): Promise<string[]> =>
    (
      (await stack.dataSource.query(
        `SELECT reference FROM ledger.entries WHERE tenant_id = $1 ORDER BY seq`,
        [tenantId],
      )) as Array<{
        reference: string;
      }>
    ).map((row) => row.reference);
  const balance = async (tenantId: string): Promise<number> =>
    (await ledger.getWallet(tenantId)).balanceCents;
  const topupStatus = async (tenant: TestTenant, id: string): Promise<string> =>
    (await stack.request<TopupBody>('GET', `/v1/billing/topups/${id}`, { token: tenant.member })).body.status;

  /** A PIX top-up through the API; returns its id and Mercado Pago payment id. */
  async function aPixTopup(
    tenant: TestTenant,
    amountCents = 9000,
  ): Promise<{ id: string; paymentId: string }> {
    const response = await stack.request<TopupBody>('POST', '/v1/billing/topups/pix', {
      token: tenant.member,
      idempotencyKey: randomUUID(),
      body: { amountCents },
    });
    expect(response.status).toBe(201);
    return { id: response.body.id, paymentId: response.body.providerPaymentId ?? '' };
  }

  /** Sets the payment's status at the sandbox, then fetches it the way the worker does. */
  async function paymentNow(paymentId: string, change: Record<string, unknown>): Promise<MercadoPagoPayment> {
    await stack.sandboxCall('POST', `/_sandbox/mercadopago/payments/${paymentId}/status`, change);
    return mercadoPago.getPayment(paymentId);
  }

  async function aCardTopup(
    tenant: TestTenant,
    amountCents = 10_000,
  ): Promise<{ id: string; sessionId: string }> {
    const response = await stack.request<TopupBody>('POST', '/v1/billing/checkout-session', {
      token: tenant.member,
      idempotencyKey: randomUUID(),
      body: { amountCents },
    });
    expect(response.status).toBe(201);
    return { id: response.body.id, sessionId: response.body.providerSessionId ?? '' };
  }

  const applyConcurrently = (
    times: number,
    apply: () => Promise<TopupApplyResult>,
  ): Promise<TopupApplyResult[]> => Promise.all(Array.from({ length: times }, apply));

  beforeAll(async () => {
    stack = await startBillingStack();
    topups = stack.app.get(TopupService);
    subscriptions = stack.app.get(SubscriptionService);
    ledger = stack.app.get(LedgerService);
    mercadoPago = stack.app.get(MercadoPagoClient);
    stripe = stack.app.get(StripeGateway);
  });

  afterAll(async () => {
    await stack?.close();
  });

  describe('TopupService.applyMercadoPagoPayment', () => {
    it('credits an approved payment once when it is applied 20 times at once', async () => {
      const tenant = stack.aTenant();
      await aWaitingOrder(tenant.tenantId);
      const { id, paymentId } = await aPixTopup(tenant, 9000);
      const payment = await paymentNow(paymentId, { status: 'approved' });
      const countedBefore = await creditCounters('mercadopago');
      const results = await applyConcurrently(20, () => topups.applyMercadoPagoPayment(payment));

      expect(results.filter((r) => r.outcome === 'applied')).toHaveLength(1);
      expect(results.filter((r) => r.outcome === 'unchanged')).toHaveLength(19);
      const applied = results.find((r) => r.outcome === 'applied');
      expect(applied).toMatchObject({
        topupId: id,
        tenantId: tenant.tenantId,
        previousStatus: 'pending',
        status: 'approved',
        steps: ['approved'],
      });
      expect(applied?.entries).toHaveLength(1);
      expect(await references(tenant.tenantId)).toEqual([`mercadopago:${paymentId}:topup`]);
      expect(await balance(tenant.tenantId)).toBe(9000);
      // An order waits for this tenant's money: the one credit asks once for its re-evaluation.
      expect(await outbox(tenant.tenantId)).toEqual([
        {
          type: 'ads.orders.reevaluation_requested',
          data: {
            tenantId: tenant.tenantId,
            cause: 'topup_approved',
            reference: `mercadopago:${paymentId}:topup`,
          },
        },
      ]);
      expect(await topupStatus(tenant, id)).toBe('approved');
      // Counted once, when the one credit committed (the 19 that found it applied count nothing).
      const countedAfter = await creditCounters('mercadopago');
      expect(countedAfter.credits - countedBefore.credits).toBe(1);
      expect(countedAfter.cents - countedBefore.cents).toBe(9000);

      const wallet = await stack.request('GET', '/v1/billing/wallet', { token: tenant.member });
      expect(wallet.body).toMatchObject({
        balanceCents: 9000,
        heldCents: 0,
        availableCents: 9000,
        currency: 'BRL',
      });
      const entries = await stack.request<{ items: Array<Record<string, unknown>> }>(
        'GET',
        '/v1/billing/ledger',
        { token: tenant.member },
      );
      expect(entries.body.items).toEqual([
        {
          id: expect.any(String),
          kind: 'topup',
          amountCents: 9000,
          heldDeltaCents: 0,
          balanceAfterCents: 9000,
          reference: `mercadopago:${paymentId}:topup`,
          createdAt: expect.any(String),
        },
      ]);
    });

    it('leaves a pending payment pending and records nothing', async () => {
      const tenant = stack.aTenant();
      const { paymentId } = await aPixTopup(tenant);
      const result = await topups.applyMercadoPagoPayment(await mercadoPago.getPayment(paymentId));
      expect(result).toMatchObject({ outcome: 'unchanged', status: 'pending', entries: [] });
      expect(await references(tenant.tenantId)).toEqual([]);
    });

    it('debits a refund of an approved top-up once, even 20 times at once', async () => {
      const tenant = stack.aTenant();
      const { id, paymentId } = await aPixTopup(tenant, 5000);
      await topups.applyMercadoPagoPayment(await paymentNow(paymentId, { status: 'approved' }));
      const refunded = await paymentNow(paymentId, { status: 'refunded' });
      const results = await applyConcurrently(20, () => topups.applyMercadoPagoPayment(refunded));
      expect(results.filter((r) => r.outcome === 'applied')).toHaveLength(1);
      expect(await references(tenant.tenantId)).toEqual([
        `mercadopago:${paymentId}:topup`,
        `mercadopago:${paymentId}:refund`,
      ]);
      expect(await balance(tenant.tenantId)).toBe(0);
      expect(await topupStatus(tenant, id)).toBe('refunded');
      expect(await outboxTypes(tenant.tenantId)).not.toContain('billing.balance.negative');
    });

    it('credits first when the refund is the first thing it hears of (missed approval)', async () => {
      const tenant = stack.aTenant();
      const { paymentId } = await aPixTopup(tenant, 7000);
      await stack.sandboxCall('POST', `/_sandbox/mercadopago/payments/${paymentId}/status`, {
        status: 'approved',
      });
      const result = await topups.applyMercadoPagoPayment(
        await paymentNow(paymentId, { status: 'refunded' }),
      );
      expect(result).toMatchObject({
        outcome: 'applied',
        previousStatus: 'pending',
        status: 'refunded',
        steps: ['approved', 'refunded'],
      });
      expect(await references(tenant.tenantId)).toEqual([
        `mercadopago:${paymentId}:topup`,
        `mercadopago:${paymentId}:refund`,
      ]);
      expect(await balance(tenant.tenantId)).toBe(0);
      // Nothing waits for this tenant: the credit and its refund publish nothing.
      expect(await outboxTypes(tenant.tenantId)).toEqual([]);
    });

    it('lets a refund of spent money take the balance below zero and announces BalanceNegative', async () => {
      const tenant = stack.aTenant();
      const { paymentId } = await aPixTopup(tenant, 9000);
      await topups.applyMercadoPagoPayment(await paymentNow(paymentId, { status: 'approved' }));
      // An order held 5000 and Meta spent it all.
      await stack.dataSource.transaction(async (tx) => {
        await ledger.hold(tx, {
          tenantId: tenant.tenantId,
          amountCents: 5000,
          reference: `order:${tenant.tenantId}:hold`,
        });
        await ledger.spend(tx, {
          tenantId: tenant.tenantId,
          amountCents: 5000,
          reference: `order:${tenant.tenantId}:spend:1`,
        });
      });
      const result = await topups.applyMercadoPagoPayment(
        await paymentNow(paymentId, { status: 'refunded' }),
      );
      expect(result).toMatchObject({ outcome: 'applied', status: 'refunded', balanceNegative: true });
      expect(await balance(tenant.tenantId)).toBe(-5000);
      const negative = (await outbox(tenant.tenantId)).filter(
        (row) => row.type === 'billing.balance.negative',
      );
      expect(negative).toEqual([
        {
          type: 'billing.balance.negative',
          data: {
            tenantId: tenant.tenantId,
            balanceCents: -5000,
            reference: `mercadopago:${paymentId}:refund`,
          },
        },
      ]);
      const wallet = await stack.request('GET', '/v1/billing/wallet', { token: tenant.member });
      expect(wallet.body).toMatchObject({ balanceCents: -5000, heldCents: 0, availableCents: -5000 });
    });

    it('debits partial refunds by difference, then the remainder when fully refunded', async () => {
      const tenant = stack.aTenant();
      const { id, paymentId } = await aPixTopup(tenant, 10_000);
      await topups.applyMercadoPagoPayment(await paymentNow(paymentId, { status: 'approved' }));
      const partial = await paymentNow(paymentId, { status: 'refunded', refundAmount: 30 });
      expect(partial).toMatchObject({ status: 'approved', transactionAmountRefundedCents: 3000 });
      const first = await applyConcurrently(5, () => topups.applyMercadoPagoPayment(partial));
      expect(first.filter((r) => r.outcome === 'applied')).toHaveLength(1);
      expect(await balance(tenant.tenantId)).toBe(7000);
      expect(await topupStatus(tenant, id)).toBe('approved');
      const full = await paymentNow(paymentId, { status: 'refunded' });
      await topups.applyMercadoPagoPayment(full);
      expect(await references(tenant.tenantId)).toEqual([
        `mercadopago:${paymentId}:topup`,
        `mercadopago:${paymentId}:refund:3000`,
        `mercadopago:${paymentId}:refund`,
      ]);
      expect(await balance(tenant.tenantId)).toBe(0);
      expect(await topupStatus(tenant, id)).toBe('refunded');
    });

    it('debits a chargeback, below zero when the money was spent', async () => {
      const tenant = stack.aTenant();
      const { id, paymentId } = await aPixTopup(tenant, 4000);
      await topups.applyMercadoPagoPayment(await paymentNow(paymentId, { status: 'approved' }));
      await stack.dataSource.transaction((tx) =>
        ledger.hold(tx, {
          tenantId: tenant.tenantId,
          amountCents: 4000,
          reference: `order:${tenant.tenantId}:hold`,
        }),
      );
      const chargedBack = await paymentNow(paymentId, { status: 'charged_back' });
      const results = await applyConcurrently(10, () => topups.applyMercadoPagoPayment(chargedBack));
      expect(results.filter((r) => r.outcome === 'applied')).toHaveLength(1);
      expect(await references(tenant.tenantId)).toContain(`mercadopago:${paymentId}:chargeback`);
      expect(await ledger.getWallet(tenant.tenantId)).toMatchObject({
        balanceCents: 0,
        heldCents: 4000,
        availableCents: -4000,
      });
      expect(await topupStatus(tenant, id)).toBe('charged_back');
      // The balance is 0, not below: no BalanceNegative (the held budget is the orders' problem).
      expect(await outboxTypes(tenant.tenantId)).not.toContain('billing.balance.negative');
    });

    it.each([
      [{ status: 'rejected' }, 'rejected'],
      [{ status: 'cancelled', statusDetail: 'by_collector' }, 'cancelled'],
      [{ status: 'cancelled', statusDetail: 'expired' }, 'expired'],
    ])('closes the top-up on %j (→ %s) without touching the ledger', async (change, expected) => {
      const tenant = stack.aTenant();
      const { id, paymentId } = await aPixTopup(tenant);
      const result = await topups.applyMercadoPagoPayment(await paymentNow(paymentId, change));
      expect(result).toMatchObject({ outcome: 'applied', status: expected, entries: [] });
      expect(await topupStatus(tenant, id)).toBe(expected);
      expect(await references(tenant.tenantId)).toEqual([]);
      expect(await outboxTypes(tenant.tenantId)).toEqual([]);
    });

    it('ignores a stale approval after a refund, and flags money paid for a closed top-up', async () => {
      const tenant = stack.aTenant();
      const { paymentId } = await aPixTopup(tenant, 6000);
      const approved = await paymentNow(paymentId, { status: 'approved' });
      await topups.applyMercadoPagoPayment(approved);
      await topups.applyMercadoPagoPayment(await paymentNow(paymentId, { status: 'refunded' }));
      expect(await topups.applyMercadoPagoPayment(approved)).toMatchObject({
        outcome: 'stale',
        status: 'refunded',
        entries: [],
      });
      expect(await balance(tenant.tenantId)).toBe(0);

      const closed = await aPixTopup(tenant, 6000);
      const rejected = await paymentNow(closed.paymentId, { status: 'rejected' });
      await topups.applyMercadoPagoPayment(rejected);
      const late = { ...rejected, status: 'approved' as const, statusDetail: 'accredited' };
      expect(await topups.applyMercadoPagoPayment(late)).toMatchObject({
        outcome: 'stale',
        detail: 'paid_after_close',
      });
      expect(await balance(tenant.tenantId)).toBe(0);
    });

    it('refuses a payment whose amount differs from the top-up, and answers not_found for unknown payments', async () => {
      const tenant = stack.aTenant();
      const { id, paymentId } = await aPixTopup(tenant, 9000);
      const approved = await paymentNow(paymentId, { status: 'approved' });
      expect(await topups.applyMercadoPagoPayment({ ...approved, amountCents: 90_000 })).toMatchObject({
        outcome: 'mismatch',
        topupId: id,
      });
      expect(await balance(tenant.tenantId)).toBe(0);
      expect(
        await topups.applyMercadoPagoPayment({ ...approved, id: '999999999999', externalReference: null }),
      ).toMatchObject({
        outcome: 'not_found',
      });
      expect(
        await topups.applyMercadoPagoPayment({
          ...approved,
          id: '999999999998',
          externalReference: randomUUID(),
        }),
      ).toMatchObject({
        outcome: 'not_found',
      });
    });

    it('finds a top-up by external_reference when the payment id never got attached', async () => {
      const tenant = stack.aTenant();
      const { id, paymentId } = await aPixTopup(tenant, 8000);
      // As after a crash between the provider's answer and our second transaction.
      await stack.dataSource.query(`UPDATE billing.topups SET provider_payment_id = NULL WHERE id = $1`, [
        id,
      ]);
      const result = await topups.applyMercadoPagoPayment(
        await paymentNow(paymentId, { status: 'approved' }),
      );
      expect(result).toMatchObject({ outcome: 'applied', topupId: id, status: 'approved' });
      const read = await stack.request<TopupBody>('GET', `/v1/billing/topups/${id}`, {
        token: tenant.member,
      });
      expect(read.body.providerPaymentId).toBe(paymentId);
      expect(await balance(tenant.tenantId)).toBe(8000);
    });
  });

  describe('TopupService Stripe application', () => {
    it('credits a paid Checkout Session once when applied 20 times at once', async () => {
      const tenant = stack.aTenant();
      const { id, sessionId } = await aCardTopup(tenant, 10_000);
      await stack.sandboxCall('POST', `/_sandbox/stripe/checkout/sessions/${sessionId}/complete`, {});
      const session = await stripe.getCheckoutSession(sessionId);
      const results = await applyConcurrently(20, () =>
        topups.applyStripeCheckoutSession(session, 'checkout.session.completed'),
      );
      expect(results.filter((r) => r.outcome === 'applied')).toHaveLength(1);
      expect(await references(tenant.tenantId)).toEqual([`stripe:${sessionId}:topup`]);
      expect(await balance(tenant.tenantId)).toBe(10_000);
      expect(await outboxTypes(tenant.tenantId)).toEqual([]);
      expect(await topupStatus(tenant, id)).toBe('approved');
    });

    it('debits partial refunds by difference and the remainder on the full refund', async () => {
      const tenant = stack.aTenant();
      const { id, sessionId } = await aCardTopup(tenant, 10_000);
      await stack.sandboxCall('POST', `/_sandbox/stripe/checkout/sessions/${sessionId}/complete`, {});
      const session = await stripe.getCheckoutSession(sessionId);
      await topups.applyStripeCheckoutSession(session);
      const { charge } = await stack.sandboxCall<{
        charge: { id: string; amount_refunded: number; payment_intent: string };
      }>('POST', `/_sandbox/stripe/checkout/sessions/${sessionId}/refund`, { amountCents: 2500 });
      const partial = {
        topupId: id,
        paymentIntentId: charge.payment_intent,
        amountRefundedCents: charge.amount_refunded,
        chargeId: charge.id,
      };
      const results = await applyConcurrently(10, () => topups.applyStripeRefund(partial));
      expect(results.filter((r) => r.outcome === 'applied')).toHaveLength(1);
      expect(await balance(tenant.tenantId)).toBe(7500);
      expect(await topupStatus(tenant, id)).toBe('approved');
      const full = await topups.applyStripeRefund({ ...partial, amountRefundedCents: 10_000 });
      expect(full).toMatchObject({ outcome: 'applied', status: 'refunded' });
      expect(await references(tenant.tenantId)).toEqual([
        `stripe:${sessionId}:topup`,
        `stripe:${sessionId}:refund:2500`,
        `stripe:${sessionId}:refund`,
      ]);
      expect(await balance(tenant.tenantId)).toBe(0);
    });

    it('debits a dispute (chargeback), matched through the PaymentIntent alone', async () => {
      const tenant = stack.aTenant();
      const { id, sessionId } = await aCardTopup(tenant, 6000);
      await stack.sandboxCall('POST', `/_sandbox/stripe/checkout/sessions/${sessionId}/complete`, {});
      await topups.applyStripeCheckoutSession(await stripe.getCheckoutSession(sessionId));
      const { dispute } = await stack.sandboxCall<{
        dispute: { id: string; amount: number; payment_intent: string };
      }>('POST', `/_sandbox/stripe/checkout/sessions/${sessionId}/dispute`, {});
      const results = await applyConcurrently(10, () =>
        topups.applyStripeDispute({
          paymentIntentId: dispute.payment_intent,
          amountCents: dispute.amount,
          disputeId: dispute.id,
        }),
      );
      expect(results.filter((r) => r.outcome === 'applied')).toHaveLength(1);
      expect(results[0]).toMatchObject({ topupId: id });
      expect(await references(tenant.tenantId)).toEqual([
        `stripe:${sessionId}:topup`,
        `stripe:${sessionId}:chargeback`,
      ]);
      expect(await topupStatus(tenant, id)).toBe('charged_back');
      expect(await balance(tenant.tenantId)).toBe(0);
    });

    it('keeps an unpaid completion pending, and rejects it on async_payment_failed', async () => {
      const tenant = stack.aTenant();
      const { id, sessionId } = await aCardTopup(tenant, 5000);
      await stack.sandboxCall('POST', `/_sandbox/stripe/checkout/sessions/${sessionId}/complete`, {
        paymentStatus: 'unpaid',
      });
      const unpaid = await stripe.getCheckoutSession(sessionId);
      expect(await topups.applyStripeCheckoutSession(unpaid, 'checkout.session.completed')).toMatchObject({
        outcome: 'unchanged',
        status: 'pending',
      });
      await stack.sandboxCall('POST', `/_sandbox/stripe/checkout/sessions/${sessionId}/async-payment`, {
        result: 'failed',
      });
      const failed = await stripe.getCheckoutSession(sessionId);
      expect(
        await topups.applyStripeCheckoutSession(failed, 'checkout.session.async_payment_failed'),
      ).toMatchObject({
        outcome: 'applied',
        status: 'rejected',
      });
      expect(await topupStatus(tenant, id)).toBe('rejected');
      expect(await balance(tenant.tenantId)).toBe(0);
    });

    it('refuses a session naming another tenant or amount', async () => {
      const tenant = stack.aTenant();
      const { sessionId } = await aCardTopup(tenant, 5000);
      await stack.sandboxCall('POST', `/_sandbox/stripe/checkout/sessions/${sessionId}/complete`, {});
      const session = await stripe.getCheckoutSession(sessionId);
      expect(
        await topups.applyStripeCheckoutSession({
          ...session,
          metadata: { ...session.metadata, tenantId: randomUUID() },
        }),
      ).toMatchObject({
        outcome: 'mismatch',
      });
      expect(await topups.applyStripeCheckoutSession({ ...session, amountTotal: 1 })).toMatchObject({
        outcome: 'mismatch',
      });
      expect(await balance(tenant.tenantId)).toBe(0);
    });
  });

  describe('reconciliation helpers', () => {
    it('lists pending top-ups least recently checked first, and expires them only once their time is up', async () => {
      const tenant = stack.aTenant();
      const { id, paymentId } = await aPixTopup(tenant, 3000);
      expect(await topups.countPending()).toBeGreaterThanOrEqual(1);
      const seen = new Set<string>();
      for (let pass = 0; pass < 50 && !seen.has(id); pass++) {
        for (const pending of await topups.listPendingForReconciliation(10)) {
          expect(pending.provider === 'mercadopago' || pending.provider === 'stripe').toBe(true);
          seen.add(pending.id);
          if (pending.id === id)
            expect(pending).toMatchObject({
              tenantId: tenant.tenantId,
              providerPaymentId: paymentId,
              amountCents: 3000,
            });
        }
      }
      expect(seen.has(id)).toBe(true);

      expect(await topups.expirePix(id)).toMatchObject({
        outcome: 'unchanged',
        detail: 'not_expired',
        status: 'pending',
      });
      const later = new Date(Date.now() + 2 * 60 * 60 * 1000);
      const expired = await topups.expirePix(id, later);
      expect(expired).toMatchObject({ outcome: 'applied', status: 'expired', entries: [] });
      expect(await topups.expirePix(id, later)).toMatchObject({
        outcome: 'unchanged',
        detail: 'not_pending',
      });
      expect(await topupStatus(tenant, id)).toBe('expired');
      expect(await topups.expirePix(randomUUID())).toMatchObject({ outcome: 'not_found' });
    });
  });

  describe('subscriptions', () => {
    const preapprovalIdOf = (checkoutUrl: string): string =>
      new URL(checkoutUrl).searchParams.get('preapproval_id') ?? '';

    async function subscribe(
      tenant: TestTenant,
      planId: string,
    ): Promise<{ id: string; preapprovalId: string }> {
      const response = await stack.request<{ id: string; checkoutUrl: string }>(
        'POST',
        '/v1/billing/subscription',
        {
          token: tenant.owner,
          idempotencyKey: randomUUID(),
          body: { planId },
        },
      );
      expect(response.status).toBe(201);
      return { id: response.body.id, preapprovalId: preapprovalIdOf(response.body.checkoutUrl) };
    }

    async function setPreapproval(preapprovalId: string, status: string) {
      await stack.sandboxCall('POST', `/_sandbox/mercadopago/preapproval/${preapprovalId}/status`, {
        status,
      });
      return mercadoPago.getPreapproval(preapprovalId);
    }

    const current = async (tenant: TestTenant) =>
      (
        await stack.request<Record<string, unknown>>('GET', '/v1/billing/subscription', {
          token: tenant.member,
        })
      ).body;
    const hasPlan = (tenantId: string, now?: Date) =>
      stack.dataSource.transaction((tx) => subscriptions.hasActivePlan(tx, tenantId, now));

    it('activates on authorization once (20 concurrent applications), announcing it to the orders', async () => {
      const tenant = stack.aTenant();
      const { id, preapprovalId } = await subscribe(tenant, 'plan_basic');
      expect(await hasPlan(tenant.tenantId)).toBe(false);
      const authorized = await setPreapproval(preapprovalId, 'authorized');
      const results = await Promise.all(
        Array.from({ length: 20 }, () => subscriptions.applyPreapproval(authorized)),
      );
      expect(results.filter((r) => r.outcome === 'applied')).toHaveLength(1);
      expect(results.find((r) => r.outcome === 'applied')).toMatchObject({
        subscriptionId: id,
        previousStatus: 'pending',
        status: 'active',
      });
      expect(await outbox(tenant.tenantId)).toEqual([
        {
          type: 'billing.subscription.activated',
          data: { tenantId: tenant.tenantId, subscriptionId: id, planId: 'plan_basic' },
        },
        {
          type: 'ads.orders.reevaluation_requested',
          data: {
            tenantId: tenant.tenantId,
            cause: 'subscription_activated',
            reference: `subscription:${id}`,
          },
        },
      ]);
      const view = await current(tenant);
      expect(view).toMatchObject({
        status: 'active',
        planId: 'plan_basic',
        cancelAtPeriodEnd: false,
        pending: null,
      });
      expect(Date.parse(String(view.currentPeriodEnd))).toBeGreaterThan(Date.now() + 25 * 24 * 3600 * 1000);
      expect(await hasPlan(tenant.tenantId)).toBe(true);

      const again = await stack.request<{ code: string }>('POST', '/v1/billing/subscription', {
        token: tenant.owner,
        idempotencyKey: randomUUID(),
        body: { planId: 'plan_basic' },
      });
      expect([again.status, again.body.code]).toEqual([409, 'already_subscribed']);
    });

    it('changes plan keeping the current one active until the new one is authorized', async () => {
      const tenant = stack.aTenant();
      const basic = await subscribe(tenant, 'plan_basic');
      await subscriptions.applyPreapproval(await setPreapproval(basic.preapprovalId, 'authorized'));
      const pro = await subscribe(tenant, 'plan_pro');
      expect(await current(tenant)).toMatchObject({
        status: 'active',
        planId: 'plan_basic',
        pending: { id: pro.id, planId: 'plan_pro' },
      });
      expect(await hasPlan(tenant.tenantId)).toBe(true);

      const result = await subscriptions.applyPreapproval(
        await setPreapproval(pro.preapprovalId, 'authorized'),
      );
      expect(result).toMatchObject({
        outcome: 'applied',
        status: 'active',
        replacedSubscriptionIds: [basic.id],
      });
      expect(await current(tenant)).toMatchObject({ status: 'active', planId: 'plan_pro', pending: null });
      expect(await hasPlan(tenant.tenantId)).toBe(true);
      // The replaced pre-approval stops charging at Mercado Pago.
      const { preapproval } = await stack.sandboxCall<{ preapproval: { status: string } }>(
        'GET',
        `/_sandbox/mercadopago/preapproval/${basic.preapprovalId}`,
      );
      expect(preapproval.status).toBe('cancelled');
      // Its own later cancellation notice is stale news.
      expect(
        await subscriptions.applyPreapproval(await mercadoPago.getPreapproval(basic.preapprovalId)),
      ).toMatchObject({
        outcome: 'unchanged',
        status: 'cancelled',
      });
      expect(await current(tenant)).toMatchObject({ status: 'active', planId: 'plan_pro' });
    });

    it('cancels at period end: the plan lasts until currentPeriodEnd, Mercado Pago stops charging', async () => {
      const tenant = stack.aTenant();
      const { preapprovalId } = await subscribe(tenant, 'plan_basic');
      await subscriptions.applyPreapproval(await setPreapproval(preapprovalId, 'authorized'));
      const response = await stack.request<Record<string, unknown>>(
        'POST',
        '/v1/billing/subscription/cancel',
        { token: tenant.admin },
      );
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({
        status: 'cancelled',
        planId: 'plan_basic',
        cancelAtPeriodEnd: true,
      });
      const periodEnd = new Date(String(response.body.currentPeriodEnd));
      expect(periodEnd.getTime()).toBeGreaterThan(Date.now());
      expect((await mercadoPago.getPreapproval(preapprovalId)).status).toBe('cancelled');
      expect(await hasPlan(tenant.tenantId)).toBe(true);
      expect(await hasPlan(tenant.tenantId, new Date(periodEnd.getTime() + 1000))).toBe(false);

      const repeat = await stack.request('POST', '/v1/billing/subscription/cancel', { token: tenant.owner });
      expect(repeat.status).toBe(200);
      expect(repeat.body).toEqual(response.body);
      // Mercado Pago's own cancellation notice changes nothing more.
      expect(
        await subscriptions.applyPreapproval(await mercadoPago.getPreapproval(preapprovalId)),
      ).toMatchObject({ outcome: 'unchanged' });
    });

    it('moves to past_due when Mercado Pago pauses collection, and back to active on resumption', async () => {
      const tenant = stack.aTenant();
      const { preapprovalId } = await subscribe(tenant, 'plan_pro');
      await subscriptions.applyPreapproval(await setPreapproval(preapprovalId, 'authorized'));
      expect(
        await subscriptions.applyPreapproval(await setPreapproval(preapprovalId, 'paused')),
      ).toMatchObject({ status: 'past_due' });
      expect(await current(tenant)).toMatchObject({ status: 'past_due', planId: 'plan_pro' });
      expect(await hasPlan(tenant.tenantId)).toBe(false);
      expect(
        await subscriptions.applyPreapproval(await setPreapproval(preapprovalId, 'authorized')),
      ).toMatchObject({ status: 'active' });
      expect(await hasPlan(tenant.tenantId)).toBe(true);
      expect(
        (await outboxTypes(tenant.tenantId)).filter((t) => t === 'billing.subscription.activated'),
      ).toHaveLength(2);
    });

    it('asking twice for the same pending plan answers the same checkout; another plan abandons it', async () => {
      const tenant = stack.aTenant();
      const first = await subscribe(tenant, 'plan_basic');
      const again = await subscribe(tenant, 'plan_basic');
      expect(again).toEqual(first);
      const other = await subscribe(tenant, 'plan_pro');
      expect(other.id).not.toBe(first.id);
      expect((await mercadoPago.getPreapproval(first.preapprovalId)).status).toBe('cancelled');
      expect(await current(tenant)).toMatchObject({ status: 'pending', planId: 'plan_pro' });
      // The buyer authorizing the abandoned checkout anyway is stale news: it never becomes the
      // plan, and it is cancelled at Mercado Pago so it never charges.
      await stack.sandboxCall('POST', `/_sandbox/mercadopago/preapproval/${other.preapprovalId}/status`, {
        status: 'cancelled',
      });
      const dropped = await subscribe(tenant, 'plan_basic');
      await stack.request('POST', '/v1/billing/subscription/cancel', { token: tenant.owner });
      const lateAuthorization = await setPreapproval(dropped.preapprovalId, 'authorized');
      expect(await subscriptions.applyPreapproval(lateAuthorization)).toMatchObject({ outcome: 'stale' });
      expect((await mercadoPago.getPreapproval(dropped.preapprovalId)).status).toBe('cancelled');
      expect(await hasPlan(tenant.tenantId)).toBe(false);
    });

    it('answers not_found for a pre-approval that is not ours', async () => {
      const tenant = stack.aTenant();
      const { preapprovalId } = await subscribe(tenant, 'plan_basic');
      const preapproval = await mercadoPago.getPreapproval(preapprovalId);
      expect(
        await subscriptions.applyPreapproval({
          ...preapproval,
          id: 'unknown-preapproval',
          externalReference: null,
        }),
      ).toMatchObject({
        outcome: 'not_found',
      });
    });
  });

  describe('idempotency key cleanup job', () => {
    it('deletes expired keys and keeps live ones', async () => {
      const scope = `tenant:${randomUUID()}`;
      await stack.dataSource.query(
        `INSERT INTO platform.idempotency_keys (scope, key, fingerprint, state, expires_at)
         VALUES ($1, 'old', 'f', 'completed', now() - interval '1 minute'), ($1, 'live', 'f', 'completed', now() + interval '1 day')`,
        [scope],
      );
      const outcome = await stack.app.get(IdempotencyCleanupJob).runOnce();
      expect(outcome.ran).toBe(true);
      expect(outcome.purged).toBeGreaterThanOrEqual(1);
      const keys = (await stack.dataSource.query(
        `SELECT key FROM platform.idempotency_keys WHERE scope = $1`,
        [scope],
      )) as Array<{ key: string }>;
      expect(keys.map((k) => k.key)).toEqual(['live']);
    });

    it('does not run while another replica holds the lock', async () => {
      const runner = stack.dataSource.createQueryRunner();
      await runner.connect();
      try {
        await runner.query(`SELECT pg_advisory_lock(('x' || substr(md5($1), 1, 16))::bit(64)::bigint)`, [
          IDEMPOTENCY_CLEANUP_LOCK,
        ]);
        expect(await stack.app.get(IdempotencyCleanupJob).runOnce()).toEqual({ ran: false, purged: 0 });
      } finally {
        await runner.query(`SELECT pg_advisory_unlock_all()`);
        await runner.release();
      }
      expect((await stack.app.get(IdempotencyCleanupJob).runOnce()).ran).toBe(true);
    });
  });
});
