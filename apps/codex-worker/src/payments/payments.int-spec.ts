import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';
import { TopupReconciliationRequested } from '@realapp/contracts';
import { DeadLetterService, OutboxService } from '@realapp/messaging';
import { LedgerService } from '@realapp/ledger';
import { signMercadoPago, SubscriptionService, TopupService } from '@realapp/payments';
import { expectEventually } from '@realapp/testing';
import { WorkerHeartbeat } from '../heartbeat/worker-heartbeat.service';
import { TopupReconciliation } from '../reconciliation/topup-reconciliation.service';
import { PaymentsStack, startPaymentsStack } from '../testing/payments-stack.test-helper';

// The projects' testTimeout in jest.config.js does not take effect (jest 30 reads it globally only).
jest.setTimeout(90_000);

interface EntryRow {
  kind: string;
  amount_cents: number;
  reference: string;
}
interface EventRow {
  id: string;
  provider_event_id: string;
  status: string;
  attempts: number;
  last_error: string | null;
  processed_at: Date | null;
  tenant_id: string | null;
}

describe('payments: from provider webhook to wallet, exactly once (real gateway, worker, broker, database)', () => {
  let stack: PaymentsStack;
  let topups: TopupService;

  const query = <T>(sql: string, params: unknown[] = []): Promise<T[]> => stack.dataSource.query(sql, params) as Promise<T[]>;
  const sandbox = async <T = Record<string, unknown>>(path: string, body: unknown = {}): Promise<T> => {
    const response = await fetch(`${stack.sandbox.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`sandbox ${path} answered ${response.status}: ${await response.text()}`);
    return (await response.json()) as T;
  };
  const balance = async (tenantId: string): Promise<number> => {
    const rows = await query<{ balance: number }>(`SELECT balance_cents::int AS balance FROM ledger.wallets WHERE tenant_id = $1`, [tenantId]);
    return rows[0]?.balance ?? 0;
  };
  const entries = (tenantId: string): Promise<EntryRow[]> =>
    query<EntryRow>(`SELECT kind, amount_cents::int AS amount_cents, reference FROM ledger.entries WHERE tenant_id = $1 ORDER BY seq`, [tenantId]);
  const topupStatus = async (topupId: string): Promise<string> =>
    (await query<{ status: string }>(`SELECT status FROM billing.topups WHERE id = $1`, [topupId]))[0].status;
  const webhookEvents = (resourceId: string): Promise<EventRow[]> =>
    query<EventRow>(
      `SELECT id, provider_event_id, status, attempts, last_error, processed_at, tenant_id FROM webhooks.events
       WHERE resource_id = $1 ORDER BY received_at`,
      [resourceId],
    );

  async function aPixTopup(amountCents = 9000): Promise<{ tenantId: string; topupId: string; paymentId: string }> {
    const tenantId = randomUUID();
    const view = await topups.createPix(tenantId, amountCents);
    return { tenantId, topupId: view.id, paymentId: view.providerPaymentId as string };
  }

  async function aCardTopup(amountCents = 9000): Promise<{ tenantId: string; topupId: string; sessionId: string }> {
    const tenantId = randomUUID();
    const view = await topups.createCheckout(tenantId, amountCents);
    return { tenantId, topupId: view.id, sessionId: view.providerSessionId as string };
  }

  beforeAll(async () => {
    stack = await startPaymentsStack();
    topups = stack.worker.get(TopupService);
  });

  afterAll(async () => {
    await stack?.close();
  });

  describe('Mercado Pago', () => {
    it('credits an approved PIX once, from the payment fetched at Mercado Pago, and marks the webhook processed', async () => {
      const { tenantId, topupId, paymentId } = await aPixTopup(9000);
      const approved = await sandbox<{ notified: { status: number } }>(`/_sandbox/mercadopago/payments/${paymentId}/status`, {
        status: 'approved',
        notify: true,
      });
      expect(approved.notified.status).toBe(200);

      await expectEventually(async () => expect(await balance(tenantId)).toBe(9000));
      expect(await entries(tenantId)).toEqual([{ kind: 'topup', amount_cents: 9000, reference: `mercadopago:${paymentId}:topup` }]);
      expect(await topupStatus(topupId)).toBe('approved');
      await expectEventually(async () => {
        const [event] = await webhookEvents(paymentId);
        expect(event).toMatchObject({ status: 'processed', attempts: 1, tenant_id: tenantId });
        expect(event.processed_at).toBeInstanceOf(Date);
      });
      // The worker asked Mercado Pago before moving money.
      const requests = (await (await fetch(`${stack.sandbox.url}/_sandbox/requests?provider=mercadopago&limit=200`)).json()) as {
        items: Array<{ method: string; path: string }>;
      };
      expect(requests.items.some((r) => r.method === 'GET' && r.path === `/v1/payments/${paymentId}`)).toBe(true);
    });

    it('takes the same signed webhook 50 times at once as one stored event, one credit and one ledger entry', async () => {
      const { tenantId, paymentId } = await aPixTopup(5000);
      await sandbox(`/_sandbox/mercadopago/payments/${paymentId}/status`, { status: 'approved' });
      const notified = await sandbox<{ notified: { statuses: number[] } }>(`/_sandbox/mercadopago/payments/${paymentId}/notify`, {
        count: 50,
      });
      expect(notified.notified.statuses).toHaveLength(50);
      expect(notified.notified.statuses.every((s) => s === 200)).toBe(true);

      await expectEventually(async () => expect((await webhookEvents(paymentId))[0]?.status).toBe('processed'));
      expect(await webhookEvents(paymentId)).toHaveLength(1);
      expect(await balance(tenantId)).toBe(5000);
      expect(await entries(tenantId)).toHaveLength(1);
    });

    it('retries a lookup Mercado Pago answers with 500 and credits once it recovers', async () => {
      const { tenantId, paymentId } = await aPixTopup(7000);
      await sandbox(`/_sandbox/mercadopago/payments/${paymentId}/status`, { status: 'approved' });
      // More failures than the client retries by itself (1 + 3): the message itself is retried.
      await sandbox('/_sandbox/faults', { provider: 'mercadopago', status: 500, count: 4 });
      await sandbox(`/_sandbox/mercadopago/payments/${paymentId}/notify`);

      await expectEventually(async () => expect(await balance(tenantId)).toBe(7000), { timeoutMs: 30000 });
      expect(await entries(tenantId)).toHaveLength(1);
      await expectEventually(async () => {
        const [event] = await webhookEvents(paymentId);
        expect(event).toMatchObject({ status: 'processed', attempts: 2 });
        expect(event.last_error).toMatch(/unavailable/i);
      });
    });

    it('converges on the provider state whatever the order: a refund notified before the approval credits, then debits', async () => {
      const { tenantId, topupId, paymentId } = await aPixTopup(8000);
      await sandbox(`/_sandbox/mercadopago/payments/${paymentId}/status`, { status: 'approved' });
      await sandbox(`/_sandbox/mercadopago/payments/${paymentId}/status`, { status: 'refunded', notify: true });

      await expectEventually(async () => expect(await topupStatus(topupId)).toBe('refunded'));
      expect(await entries(tenantId)).toEqual([
        { kind: 'topup', amount_cents: 8000, reference: `mercadopago:${paymentId}:topup` },
        { kind: 'refund', amount_cents: -8000, reference: `mercadopago:${paymentId}:refund` },
      ]);
      expect(await balance(tenantId)).toBe(0);

      // The late `approved` notification changes nothing.
      await sandbox(`/_sandbox/mercadopago/payments/${paymentId}/notify`, { fresh: true });
      await expectEventually(async () => expect((await webhookEvents(paymentId)).every((e) => e.status === 'processed')).toBe(true));
      expect(await entries(tenantId)).toHaveLength(2);
    });

    it('debits a chargeback after the credit, below zero when the money is gone, and raises BalanceNegative', async () => {
      const { tenantId, topupId, paymentId } = await aPixTopup(6000);
      await sandbox(`/_sandbox/mercadopago/payments/${paymentId}/status`, { status: 'approved', notify: true });
      await expectEventually(async () => expect(await balance(tenantId)).toBe(6000));
      // Most of the money is already spent (an ops debit stands in for ad spend here).
      await stack.dataSource.transaction((tx) =>
        stack.worker
          .get(LedgerService)
          .debit(tx, { tenantId, kind: 'adjustment', amountCents: 5000, reference: `test:spent:${tenantId}`, allowNegative: true }),
      );
      await sandbox(`/_sandbox/mercadopago/payments/${paymentId}/status`, { status: 'charged_back', notify: true, count: 5 });

      await expectEventually(async () => expect(await topupStatus(topupId)).toBe('charged_back'));
      expect(await balance(tenantId)).toBe(-5000);
      expect((await entries(tenantId)).map((e) => [e.kind, e.amount_cents])).toEqual([
        ['topup', 6000],
        ['adjustment', -5000],
        ['chargeback', -6000],
      ]);
      const negative = await query<{ n: number }>(
        `SELECT count(*)::int AS n FROM messaging.outbox WHERE type = 'billing.balance.negative' AND envelope ->> 'tenantId' = $1`,
        [tenantId],
      );
      expect(negative[0].n).toBe(1);
    });

    it('dead-letters a notification for a payment Mercado Pago does not know, visibly', async () => {
      const unknownPaymentId = String(8_800_000_000 + Math.floor(Math.random() * 1_000_000));
      const requestId = randomUUID();
      const response = await fetch(`${stack.gateway.url}/v1/webhooks/mercadopago?data.id=${unknownPaymentId}&type=payment`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-request-id': requestId,
          'x-signature': signMercadoPago({ secret: 'dev-mercadopago-webhook-secret', dataId: unknownPaymentId, xRequestId: requestId }),
        },
        body: JSON.stringify({ id: Number(unknownPaymentId) + 1, type: 'payment', action: 'payment.updated', data: { id: unknownPaymentId } }),
      });
      expect(response.status).toBe(200);
      await expectEventually(async () => {
        const [event] = await webhookEvents(unknownPaymentId);
        expect(event.status).toBe('dead');
        expect(event.last_error).toMatch(/no such object|not_found|404/i);
      });
      const letters = await stack.worker.get(DeadLetterService).list(100);
      expect(letters.items.some((l) => l.type === 'webhook.mercadopago.received' && /no such object/i.test(l.lastError))).toBe(true);
    });

    it('activates a subscription when Mercado Pago reports the pre-approval authorized', async () => {
      const tenantId = randomUUID();
      const subscriptions = stack.worker.get(SubscriptionService);
      const started = await subscriptions.subscribe(tenantId, 'plan_basic');
      const preapprovalId = new URL(started.checkoutUrl).searchParams.get('preapproval_id') as string;
      await sandbox(`/_sandbox/mercadopago/preapproval/${preapprovalId}/status`, { status: 'authorized', notify: true });
      await expectEventually(async () => expect((await subscriptions.getCurrent(tenantId)).status).toBe('active'));
      await expectEventually(async () => expect((await webhookEvents(preapprovalId))[0]?.status).toBe('processed'));
      const reevaluations = await query<{ n: number }>(
        `SELECT count(*)::int AS n FROM messaging.outbox WHERE type = 'ads.orders.reevaluation_requested' AND envelope ->> 'tenantId' = $1`,
        [tenantId],
      );
      expect(reevaluations[0].n).toBe(1);
    });
  });

  describe('Stripe', () => {
    it('credits a paid Checkout once however often it is notified, then debits a refund', async () => {
      const { tenantId, topupId, sessionId } = await aCardTopup(12000);
      await sandbox(`/_sandbox/stripe/checkout/sessions/${sessionId}/complete`, { notify: true, count: 10 });
      await expectEventually(async () => expect(await balance(tenantId)).toBe(12000));
      expect(await entries(tenantId)).toEqual([{ kind: 'topup', amount_cents: 12000, reference: `stripe:${sessionId}:topup` }]);

      await sandbox(`/_sandbox/stripe/checkout/sessions/${sessionId}/refund`, { notify: true, count: 3 });
      await expectEventually(async () => expect(await topupStatus(topupId)).toBe('refunded'));
      expect(await balance(tenantId)).toBe(0);
      expect((await entries(tenantId)).map((e) => e.kind)).toEqual(['topup', 'refund']);
    });

    it('does not credit a completed but unpaid session until the async payment succeeds', async () => {
      const { tenantId, topupId, sessionId } = await aCardTopup(4000);
      await sandbox(`/_sandbox/stripe/checkout/sessions/${sessionId}/complete`, { notify: true, paymentStatus: 'unpaid' });
      await expectEventually(async () => expect((await webhookEvents(sessionId))[0]?.status).toBe('processed'));
      expect(await topupStatus(topupId)).toBe('pending');
      expect(await balance(tenantId)).toBe(0);
      await sandbox(`/_sandbox/stripe/checkout/sessions/${sessionId}/async-payment`, { result: 'succeeded', notify: true });
      await expectEventually(async () => expect(await balance(tenantId)).toBe(4000));
    });

    it('debits a chargeback when a dispute opens', async () => {
      const { tenantId, topupId, sessionId } = await aCardTopup(5000);
      await sandbox(`/_sandbox/stripe/checkout/sessions/${sessionId}/complete`, { notify: true });
      await expectEventually(async () => expect(await balance(tenantId)).toBe(5000));
      await sandbox(`/_sandbox/stripe/checkout/sessions/${sessionId}/dispute`, { notify: true });
      await expectEventually(async () => expect(await topupStatus(topupId)).toBe('charged_back'));
      expect(await entries(tenantId)).toEqual([
        { kind: 'topup', amount_cents: 5000, reference: `stripe:${sessionId}:topup` },
        { kind: 'chargeback', amount_cents: -5000, reference: `stripe:${sessionId}:chargeback` },
      ]);
    });
  });

  describe('reconciliation', () => {
    it('credits an approval whose webhook never came, in a pass run directly', async () => {
      const { tenantId, topupId, paymentId } = await aPixTopup(9900);
      await sandbox(`/_sandbox/mercadopago/payments/${paymentId}/status`, { status: 'approved' });
      expect(await webhookEvents(paymentId)).toHaveLength(0);
      const pass = await stack.worker.get(TopupReconciliation).runPass('manual');
      expect(pass.ran).toBe(true);
      expect(await topupStatus(topupId)).toBe('approved');
      expect(await balance(tenantId)).toBe(9900);
      // A webhook arriving afterwards changes nothing.
      await sandbox(`/_sandbox/mercadopago/payments/${paymentId}/notify`);
      await expectEventually(async () => expect((await webhookEvents(paymentId))[0]?.status).toBe('processed'));
      expect(await entries(tenantId)).toHaveLength(1);
    });

    it('runs a pass when ops asks (billing.reconciliation_requested), crediting a card payment with no webhook', async () => {
      const { tenantId, sessionId } = await aCardTopup(3500);
      await sandbox(`/_sandbox/stripe/checkout/sessions/${sessionId}/complete`, {});
      await stack.dataSource.transaction((tx) =>
        stack.worker.get(OutboxService).enqueue(tx, TopupReconciliationRequested, { data: { trigger: 'ops', pending: 1 } }),
      );
      await expectEventually(async () => expect(await balance(tenantId)).toBe(3500));
    });

    it('expires a PIX whose expiry has passed while Mercado Pago still calls it unpaid', async () => {
      const { topupId } = await aPixTopup(4500);
      const [row] = await query<{ provider_payment_id: string; expires_at: Date }>(
        `SELECT provider_payment_id, expires_at FROM billing.topups WHERE id = $1`,
        [topupId],
      );
      const reconciliation = stack.worker.get(TopupReconciliation);
      const pending = { id: topupId, tenantId: randomUUID(), provider: 'mercadopago' as const, amountCents: 4500, providerPaymentId: row.provider_payment_id, providerSessionId: null, createdAt: new Date(), expiresAt: row.expires_at };
      const result = await reconciliation.reconcile(pending, new Date(row.expires_at.getTime() + 1000));
      expect(result.status).toBe('expired');
      expect(await topupStatus(topupId)).toBe('expired');
    });
  });

  describe('replicas and restarts', () => {
    let second: NestFastifyApplication;

    beforeAll(async () => {
      second = await stack.startWorker();
    });

    it('two workers consuming and reconciling at once never credit twice', async () => {
      const made = await Promise.all(Array.from({ length: 12 }, () => aPixTopup(3000)));
      for (const { paymentId } of made) await sandbox(`/_sandbox/mercadopago/payments/${paymentId}/status`, { status: 'approved' });
      // Distinct notifications (fresh ids) for the same payments, so both workers get copies.
      await Promise.all(
        made.flatMap(({ paymentId }) => [1, 2, 3].map(() => sandbox(`/_sandbox/mercadopago/payments/${paymentId}/notify`, { fresh: true }))),
      );
      const passes = await Promise.all([
        stack.worker.get(TopupReconciliation).runPass('manual'),
        second.get(TopupReconciliation).runPass('manual'),
      ]);
      expect(passes.filter((p) => p.ran).length).toBeGreaterThanOrEqual(1);
      await expectEventually(async () => {
        for (const { tenantId } of made) expect(await balance(tenantId)).toBe(3000);
      });
      await expectEventually(async () => {
        for (const { paymentId } of made) {
          const events = await webhookEvents(paymentId);
          expect(events).toHaveLength(3);
          expect(events.every((e) => e.status === 'processed')).toBe(true);
        }
      });
      for (const { tenantId } of made) expect(await entries(tenantId)).toHaveLength(1);
    });

    it('writes a heartbeat per worker, every interval', async () => {
      const first = await query<{ worker_id: string; last: Date }>(
        `SELECT worker_id, last_heartbeat_at AS last FROM ops.worker_heartbeats ORDER BY worker_id`,
      );
      expect(first.map((r) => r.worker_id)).toEqual(expect.arrayContaining(['worker-1', 'worker-2']));
      await expectEventually(async () => {
        const later = await query<{ last: Date }>(`SELECT last_heartbeat_at AS last FROM ops.worker_heartbeats WHERE worker_id = 'worker-1'`);
        expect(later[0].last.getTime()).toBeGreaterThan(first.find((r) => r.worker_id === 'worker-1')!.last.getTime());
      });
    });

    it('on start, publishes again a webhook event left unprocessed longer than MVP_RUNNING_STALE_SECONDS', async () => {
      const { tenantId, paymentId } = await aPixTopup(3300);
      await sandbox(`/_sandbox/mercadopago/payments/${paymentId}/status`, { status: 'approved' });
      // As if the gateway stored it and its message was then lost (e.g. a broker that lost its disk).
      const eventId = randomUUID();
      await stack.dataSource.query(
        `INSERT INTO webhooks.events (id, provider, provider_event_id, topic, resource_id, status, raw_body, headers, received_at, updated_at)
         VALUES ($1, 'mercadopago', $2, 'payment', $3, 'received', convert_to($4, 'UTF8'), '{}', now() - interval '10 minutes', now() - interval '10 minutes')`,
        [eventId, `lost-${eventId}`, paymentId, JSON.stringify({ id: `lost-${eventId}`, type: 'payment', data: { id: paymentId } })],
      );
      const requeued = await second.get(WorkerHeartbeat).recoverStaleWork();
      expect(requeued['webhook-events']).toBeGreaterThanOrEqual(1);
      await expectEventually(async () => expect(await balance(tenantId)).toBe(3300));
      await expectEventually(async () => expect((await webhookEvents(paymentId))[0]?.status).toBe('processed'));
    });
  });
});
