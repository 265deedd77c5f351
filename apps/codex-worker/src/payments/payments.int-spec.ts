import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';
import { EventEnvelope, TopupReconciliationRequested, WebhookReceivedData } from '@realapp/contracts';
import { DeadLetterService, OutboxService } from '@realapp/messaging';
import { LedgerService } from '@realapp/ledger';
import { MercadoPagoClient, signMercadoPago, SubscriptionService, TopupService } from '@realapp/payments';
import { buildWebhookEnvelope } from '@realapp/webhooks';
import { expectEventually } from '@realapp/testing';
import { WorkerHeartbeat } from '../heartbeat/worker-heartbeat.service';
import { TopupReconciliation } from '../reconciliation/topup-reconciliation.service';
import { MERCADO_PAGO_CONSUMER, MercadoPagoWebhookConsumer } from './mercadopago-webhook.consumer';
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

  const query = <T>(sql: string, params: unknown[] = []): Promise<T[]> =>
    stack.dataSource.query(sql, params) as Promise<T[]>;
  const sandbox = async <T = Record<string, unknown>>(path: string, body: unknown = {}): Promise<T> => {
    const response = await fetch(`${stack.sandbox.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!response.ok)
      throw new Error(`sandbox ${path} answered ${response.status}: ${await response.text()}`);
    return (await response.json()) as T;
  };
  const balance = async (tenantId: string): Promise<number> => {
    const rows = await query<{ balance: number }>(
      `SELECT balance_cents::int AS balance FROM ledger.wallets WHERE tenant_id = $1`,
      [tenantId],
    );
    return rows[0]?.balance ?? 0;
  };
  const entries = (tenantId: string): Promise<EntryRow[]> =>
    query<EntryRow>(
      `SELECT kind, amount_cents::int AS amount_cents, reference FROM ledger.entries WHERE tenant_id = $1 ORDER BY seq`,
      [tenantId],
    );
  const topupStatus = async (topupId: string): Promise<string> =>
    (await query<{ status: string }>(`SELECT status FROM billing.topups WHERE id = $1`, [topupId]))[0].status;
  const webhookEvents = (resourceId: string): Promise<EventRow[]> =>
    query<EventRow>(
      `SELECT id, provider_event_id, status, attempts, last_error, processed_at, tenant_id FROM webhooks.events
       WHERE resource_id = $1 ORDER BY received_at`,
      [resourceId],
    );

  async function aPixTopup(
    amountCents = 9000,
  ): Promise<{ tenantId: string; topupId: string; paymentId: string }> {
    const tenantId = randomUUID();
    const view = await topups.createPix(tenantId, amountCents);
    return { tenantId, topupId: view.id, paymentId: view.providerPaymentId as string };
  }

  async function aCardTopup(
    amountCents = 9000,
  ): Promise<{ tenantId: string; topupId: string; sessionId: string }> {
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
      const approved = await sandbox<{ notified: { status: number } }>(
        `/_sandbox/mercadopago/payments/${paymentId}/status`,
        {
          status: 'approved',
          notify: true,
        },
      );
      expect(approved.notified.status).toBe(200);

      await expectEventually(async () => expect(await balance(tenantId)).toBe(9000));
      expect(await entries(tenantId)).toEqual([
        { kind: 'topup', amount_cents: 9000, reference: `mercadopago:${paymentId}:topup` },
      ]);
      expect(await topupStatus(topupId)).toBe('approved');
      await expectEventually(async () => {
        const [event] = await webhookEvents(paymentId);
        expect(event).toMatchObject({ status: 'processed', attempts: 1, tenant_id: tenantId });
        expect(event.processed_at).toBeInstanceOf(Date);
      });
      // The worker asked Mercado Pago before moving money.
      const requests = (await (
        await fetch(`${stack.sandbox.url}/_sandbox/requests?provider=mercadopago&limit=200`)
      ).json()) as {
        items: Array<{ method: string; path: string }>;
      };
      expect(requests.items.some((r) => r.method === 'GET' && r.path === `/v1/payments/${paymentId}`)).toBe(
        true,
      );
    });

    it('takes the same signed webhook 50 times at once as one stored event, one credit and one ledger entry', async () => {
      const { tenantId, paymentId } = await aPixTopup(5000);
      await sandbox(`/_sandbox/mercadopago/payments/${paymentId}/status`, { status: 'approved' });
      const notified = await sandbox<{ notified: { statuses: number[] } }>(
        `/_sandbox/mercadopago/payments/${paymentId}/notify`,
        {
          count: 50,
        },
      );
      expect(notified.notified.statuses).toHaveLength(50);
      expect(notified.notified.statuses.every((s) => s === 200)).toBe(true);

      await expectEventually(async () =>
        expect((await webhookEvents(paymentId))[0]?.status).toBe('processed'),
      );
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
      await sandbox(`/_sandbox/mercadopago/payments/${paymentId}/status`, {
        status: 'refunded',
        notify: true,
      });

      await expectEventually(async () => expect(await topupStatus(topupId)).toBe('refunded'));
      expect(await entries(tenantId)).toEqual([
        { kind: 'topup', amount_cents: 8000, reference: `mercadopago:${paymentId}:topup` },
        { kind: 'refund', amount_cents: -8000, reference: `mercadopago:${paymentId}:refund` },
      ]);
      expect(await balance(tenantId)).toBe(0);

      // The late `approved` notification changes nothing.
      await sandbox(`/_sandbox/mercadopago/payments/${paymentId}/notify`, { fresh: true });
      await expectEventually(async () =>
        expect((await webhookEvents(paymentId)).every((e) => e.status === 'processed')).toBe(true),
      );
      expect(await entries(tenantId)).toHaveLength(2);
    });

    it('debits a chargeback after the credit, below zero when the money is gone, and raises BalanceNegative', async () => {
      const { tenantId, topupId, paymentId } = await aPixTopup(6000);
      await sandbox(`/_sandbox/mercadopago/payments/${paymentId}/status`, {
        status: 'approved',
        notify: true,
      });
      await expectEventually(async () => expect(await balance(tenantId)).toBe(6000));
      // Most of the money is already spent (an ops debit stands in for ad spend here).
      await stack.dataSource.transaction((tx) =>
        stack.worker.get(LedgerService).debit(tx, {
          tenantId,
          kind: 'adjustment',
          amountCents: 5000,
          reference: `test:spent:${tenantId}`,
          allowNegative: true,
        }),
      );
      await sandbox(`/_sandbox/mercadopago/payments/${paymentId}/status`, {
        status: 'charged_back',
        notify: true,
        count: 5,
      });

      await expectEventually(async () => expect(await topupStatus(topupId)).toBe('charged_back'));
      expect(await balance(tenantId)).toBe(-5000);
      expect((await entries(tenantId)).map((e) => [e.kind, e.amount_cents])).toEqual([
        ['topup', 6000],
        ['adjustment', -5000],
        ['chargeback', -6000],
      ]);
      const negative = await query<{ n: number }>(
        `SELECT count(*)::int AS n FROM messaging.outbox_log WHERE type = 'billing.balance.negative' AND envelope ->> 'tenantId' = $1`,
        [tenantId],
      );
      expect(negative[0].n).toBe(1);
    });

    it('dead-letters a notification for a payment Mercado Pago does not know, visibly', async () => {
      const unknownPaymentId = String(8_800_000_000 + Math.floor(Math.random() * 1_000_000));
      const requestId = randomUUID();
      const response = await fetch(
        `${stack.gateway.url}/v1/webhooks/mercadopago?data.id=${unknownPaymentId}&type=payment`,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-request-id': requestId,
            'x-signature': signMercadoPago({
              secret: 'dev-mercadopago-webhook-secret',
              dataId: unknownPaymentId,
              xRequestId: requestId,
            }),
          },
          body: JSON.stringify({
            id: Number(unknownPaymentId) + 1,
            type: 'payment',
            action: 'payment.updated',
            data: { id: unknownPaymentId },
          }),
        },
      );
      expect(response.status).toBe(200);
      await expectEventually(async () => {
        const [event] = await webhookEvents(unknownPaymentId);
        expect(event.status).toBe('dead');
        expect(event.last_error).toMatch(/no such object|not_found|404/i);
      });
      const letters = await stack.worker.get(DeadLetterService).list(100);
      expect(
        letters.items.some(
          (l) => l.type === 'webhook.mercadopago.received' && /no such object/i.test(l.lastError),
        ),
      ).toBe(true);
    });

    it('activates a subscription when Mercado Pago reports the pre-approval authorized', async () => {
      const tenantId = randomUUID();
      const subscriptions = stack.worker.get(SubscriptionService);
      const started = await subscriptions.subscribe(tenantId, 'plan_basic');
      const preapprovalId = new URL(started.checkoutUrl).searchParams.get('preapproval_id') as string;
      await sandbox(`/_sandbox/mercadopago/preapproval/${preapprovalId}/status`, {
        status: 'authorized',
        notify: true,
      });
      await expectEventually(async () =>
        expect((await subscriptions.getCurrent(tenantId)).status).toBe('active'),
      );
      await expectEventually(async () =>
        expect((await webhookEvents(preapprovalId))[0]?.status).toBe('processed'),
      );
      const reevaluations = await query<{ n: number }>(
        `SELECT count(*)::int AS n FROM messaging.outbox_log WHERE type = 'ads.orders.reevaluation_requested' AND envelope ->> 'tenantId' = $1`,
        [tenantId],
      );
      expect(reevaluations[0].n).toBe(1);
    });
  });

  describe('Mercado Pago notifications in batches', () => {
    /** A stored webhook event for `paymentId` and the message the gateway would publish for it. */
    async function aNotification(
      paymentId: string,
      topic = 'payment',
    ): Promise<EventEnvelope<WebhookReceivedData>> {
      const webhookEventId = randomUUID();
      const providerEventId = `batch-${webhookEventId}`;
      await query(
        `INSERT INTO webhooks.events (id, provider, provider_event_id, topic, resource_id, status, raw_body, headers)
         VALUES ($1, 'mercadopago', $2, $3, $4, 'received', convert_to('{}', 'UTF8'), '{}')`,
        [webhookEventId, providerEventId, topic, paymentId],
      );
      return buildWebhookEnvelope({
        webhookEventId,
        provider: 'mercadopago',
        providerEventId,
        topic,
        resourceId: paymentId,
        tenantId: null,
        payload: { type: topic, data: { id: paymentId } },
        correlationId: randomUUID(),
      });
    }
    const approve = (paymentId: string): Promise<unknown> =>
      sandbox(`/_sandbox/mercadopago/payments/${paymentId}/status`, { status: 'approved' });
    /** Every event these notifications caused (from the outbox and its published history). */
    const outboxOf = (
      envelopes: ReadonlyArray<EventEnvelope<WebhookReceivedData>>,
    ): Promise<
      Array<{ type: string; tenant_id: string; causation_id: string; data: Record<string, unknown> }>
    > =>
      query(
        `SELECT type, envelope ->> 'tenantId' AS tenant_id, envelope ->> 'causationId' AS causation_id,
                envelope -> 'data' AS data
         FROM messaging.outbox_log WHERE envelope ->> 'causationId' = ANY($1::text[])`,
        [envelopes.map((envelope) => envelope.id)],
      );
    /** An order of `tenantId` waiting for money, as queue-api leaves one the wallet does not cover. */
    const aWaitingOrder = async (tenantId: string): Promise<string> => {
      const id = randomUUID();
      await query(
        `INSERT INTO ads.orders (id, tenant_id, name, objective, status, waiting_reason, budget_cents, targeting, creative)
         VALUES ($1, $2, 'waiting', 'traffic', 'waiting_payment', 'insufficient_balance', 900000, '{}'::jsonb, '{}'::jsonb)`,
        [id, tenantId],
      );
      return id;
    };

    it('credits the plain approvals of a batch in one transaction, and everything else one by one, each exactly once', async () => {
      const consumer = stack.worker.get(MercadoPagoWebhookConsumer);
      const [tenantA, tenantB] = [randomUUID(), randomUUID()];
      await aWaitingOrder(tenantA);
      const approvals = [];
      for (const [tenantId, amount] of [
        [tenantA, 3000],
        [tenantB, 4000],
        [tenantA, 5000],
        [tenantB, 6000],
      ] as const) {
        const view = await topups.createPix(tenantId, amount);
        approvals.push({ tenantId, topupId: view.id, paymentId: view.providerPaymentId as string, amount });
      }
      for (const { paymentId } of approvals) await approve(paymentId);
      const refunded = await aPixTopup(7000);
      await sandbox(`/_sandbox/mercadopago/payments/${refunded.paymentId}/status`, { status: 'approved' });
      await sandbox(`/_sandbox/mercadopago/payments/${refunded.paymentId}/status`, { status: 'refunded' });
      const stillPending = await aPixTopup(8000);

      const envelopes = [
        ...(await Promise.all(approvals.map(({ paymentId }) => aNotification(paymentId)))),
        // A second notification of a payment the batch credits: handled on its own, credits nothing more.
        await aNotification(approvals[0].paymentId),
        await aNotification(refunded.paymentId),
        await aNotification(stillPending.paymentId),
        await aNotification('999000111222'),
        await aNotification(approvals[1].paymentId, 'subscription_authorized_payment'),
      ];
      const results = await consumer.handleBatch(envelopes);

      // Every notification is settled but the unknown payment's: Mercado Pago does not know it, a human must look.
      expect(results.map((r) => r.kind)).toEqual([
        'ack',
        'ack',
        'ack',
        'ack',
        'ack',
        'ack',
        'ack',
        'dead_letter',
        'ack',
      ]);
      expect(await balance(tenantA)).toBe(8000);
      expect(await balance(tenantB)).toBe(10000);
      expect(await balance(refunded.tenantId)).toBe(0);
      expect((await entries(refunded.tenantId)).map((e) => e.kind)).toEqual(['topup', 'refund']);
      expect(await entries(stillPending.tenantId)).toEqual([]);
      for (const { topupId } of approvals) expect(await topupStatus(topupId)).toBe('approved');
      expect(await topupStatus(stillPending.topupId)).toBe('pending');

      // The four approvals share one transaction: their entries, top-ups and events carry its xmin.
      const ids = approvals.map((a) => a.topupId);
      const entryTx = await query<{ xmin: string }>(
        `SELECT DISTINCT xmin::text AS xmin FROM ledger.entries WHERE metadata ->> 'topupId' = ANY($1::text[])`,
        [ids],
      );
      expect(entryTx).toHaveLength(1);
      const topupTx = await query<{ xmin: string }>(
        `SELECT DISTINCT xmin::text AS xmin FROM billing.topups WHERE id = ANY($1::uuid[])`,
        [ids],
      );
      const eventTx = await query<{ xmin: string }>(
        `SELECT DISTINCT xmin::text AS xmin FROM webhooks.events WHERE id = ANY($1::uuid[])`,
        [envelopes.slice(0, 4).map((e) => e.data.webhookEventId)],
      );
      expect([...topupTx, ...eventTx]).toEqual([entryTx[0], entryTx[0]]);
      // Tenant A has an order waiting: its first credit asks for one re-evaluation, caused by that
      // credit's own notification (not by the batch). Nothing waits for tenant B: its credits publish nothing.
      expect(await outboxOf(envelopes)).toEqual([
        {
          type: 'ads.orders.reevaluation_requested',
          tenant_id: tenantA,
          causation_id: envelopes[0].id,
          data: {
            tenantId: tenantA,
            cause: 'topup_approved',
            reference: `mercadopago:${approvals[0].paymentId}:topup`,
          },
        },
      ]);

      const stored = await query<EventRow & { resource_id: string }>(
        `SELECT id, status, attempts, last_error, tenant_id, resource_id FROM webhooks.events WHERE id = ANY($1::uuid[])`,
        [envelopes.map((e) => e.data.webhookEventId)],
      );
      const byId = new Map(stored.map((row) => [row.id, row]));
      for (const [i, envelope] of envelopes.entries()) {
        const row = byId.get(envelope.data.webhookEventId);
        if (i === 7) expect(row).toMatchObject({ status: 'failed', attempts: 1 });
        else expect(row).toMatchObject({ status: 'processed', attempts: 1 });
      }
      expect(byId.get(envelopes[0].data.webhookEventId)?.tenant_id).toBe(tenantA);
      const inbox = await query<{ n: number }>(
        `SELECT count(*)::int AS n FROM messaging.inbox WHERE consumer = $1 AND message_id = ANY($2::uuid[])`,
        [MERCADO_PAGO_CONSUMER, envelopes.map((e) => e.id)],
      );
      expect(inbox[0].n).toBe(8);
      expect(await stack.worker.get(LedgerService).verifyAll()).toMatchObject({ ok: true });

      // The same batch again (a redelivery after a crash): nothing moves twice.
      const again = await consumer.handleBatch(envelopes.filter((_, i) => i !== 7));
      expect(again.every((r) => r.kind === 'ack')).toBe(true);
      expect(await balance(tenantA)).toBe(8000);
      expect(await balance(tenantB)).toBe(10000);
      expect(await outboxOf(envelopes)).toHaveLength(1);
    });

    it('takes a burst of 30 approvals over 6 tenants, each notified 3 times at once, as 30 credits, re-evaluations asked only where an order waits', async () => {
      const tenants = Array.from({ length: 6 }, () => randomUUID());
      const waitingTenants = tenants.slice(0, 3);
      for (const tenantId of waitingTenants) await aWaitingOrder(tenantId);
      const made = await Promise.all(
        Array.from({ length: 30 }, async (_, i) => {
          const view = await topups.createPix(tenants[i % 6], 3000 + i);
          return {
            tenantId: tenants[i % 6],
            topupId: view.id,
            paymentId: view.providerPaymentId as string,
            amount: 3000 + i,
          };
        }),
      );
      for (const { paymentId } of made) await approve(paymentId);
      await Promise.all(
        made.flatMap(({ paymentId }) =>
          [1, 2, 3].map(() => sandbox(`/_sandbox/mercadopago/payments/${paymentId}/notify`, { fresh: true })),
        ),
      );

      await expectEventually(
        async () => {
          for (const tenantId of tenants) {
            const owed = made.filter((m) => m.tenantId === tenantId).reduce((sum, m) => sum + m.amount, 0);
            expect(await balance(tenantId)).toBe(owed);
          }
        },
        { timeoutMs: 30000 },
      );
      await expectEventually(async () => {
        const statuses = await query<{ status: string; n: number }>(
          `SELECT status, count(*)::int AS n FROM webhooks.events WHERE resource_id = ANY($1::text[]) GROUP BY status`,
          [made.map((m) => m.paymentId)],
        );
        expect(statuses).toEqual([{ status: 'processed', n: 90 }]);
      });
      for (const tenantId of tenants) expect(await entries(tenantId)).toHaveLength(5);
      // However the 90 notifications fell into batches, each waiting tenant was asked about at least
      // once, each request names one of its own credits, and tenants with nothing waiting cost nothing.
      const requests = await query<{ tenant_id: string; reference: string }>(
        `SELECT envelope ->> 'tenantId' AS tenant_id, envelope -> 'data' ->> 'reference' AS reference
         FROM messaging.outbox_log WHERE type = 'ads.orders.reevaluation_requested'
           AND envelope -> 'data' ->> 'cause' = 'topup_approved' AND envelope ->> 'tenantId' = ANY($1::text[])`,
        [tenants],
      );
      expect(new Set(requests.map((r) => r.tenant_id))).toEqual(new Set(waitingTenants));
      for (const { tenant_id, reference } of requests) {
        const own = made
          .filter((m) => m.tenantId === tenant_id)
          .map((m) => `mercadopago:${m.paymentId}:topup`);
        expect(own).toContain(reference);
      }
      expect(requests.length).toBeLessThanOrEqual(15);
      expect(await stack.worker.get(LedgerService).verifyAll()).toMatchObject({ ok: true });
    });

    it('leaves a top-up credited in a batch exactly as one credited on its own', async () => {
      const alone = await aPixTopup(4500);
      const batched = await aPixTopup(4500);
      await approve(alone.paymentId);
      await approve(batched.paymentId);
      const mercadoPago = stack.worker.get(MercadoPagoClient);
      await topups.applyMercadoPagoPayment(await mercadoPago.getPayment(alone.paymentId));
      const payment = await mercadoPago.getPayment(batched.paymentId);
      const [result] = await stack.dataSource.transaction((tx) =>
        topups.approveMercadoPagoPayments(tx, [
          { payment, causationId: randomUUID(), correlationId: randomUUID() },
        ]),
      );
      expect(result).toMatchObject({
        outcome: 'applied',
        previousStatus: 'pending',
        status: 'approved',
        steps: ['approved'],
      });

      const shape = async (topupId: string, paymentId: string): Promise<unknown> => {
        const [row] = await query<Record<string, unknown>>(
          `SELECT status, amount_cents::int, provider_status, provider_status_detail, refunded_cents::int,
                  approved_at IS NOT NULL AS approved, approved_at = updated_at OR updated_at >= approved_at AS updated_after,
                  pix IS NOT NULL AS has_pix, closed_at
           FROM billing.topups WHERE id = $1`,
          [topupId],
        );
        const ledger = await query<Record<string, unknown>>(
          `SELECT kind, amount_cents::int, seq::int, replace(reference, $2, 'P') AS reference,
                  metadata - 'topupId' - 'paymentId' AS metadata, metadata ->> 'topupId' = $1 AS own_topup
           FROM ledger.entries WHERE metadata ->> 'topupId' = $1`,
          [topupId, paymentId],
        );
        const events = await query<Record<string, unknown>>(
          `SELECT type, (envelope -> 'data') - 'topupId' - 'tenantId' - 'reference' AS data
           FROM messaging.outbox_log WHERE envelope -> 'data' ->> 'topupId' = $1
              OR envelope -> 'data' ->> 'reference' = $2 ORDER BY seq`,
          [topupId, `mercadopago:${paymentId}:topup`],
        );
        return { row, ledger, events };
      };
      expect(await shape(batched.topupId, batched.paymentId)).toEqual(
        await shape(alone.topupId, alone.paymentId),
      );
    });
  });

  describe('Stripe', () => {
    it('credits a paid Checkout once however often it is notified, then debits a refund', async () => {
      const { tenantId, topupId, sessionId } = await aCardTopup(12000);
      await sandbox(`/_sandbox/stripe/checkout/sessions/${sessionId}/complete`, { notify: true, count: 10 });
      await expectEventually(async () => expect(await balance(tenantId)).toBe(12000));
      expect(await entries(tenantId)).toEqual([
        { kind: 'topup', amount_cents: 12000, reference: `stripe:${sessionId}:topup` },
      ]);

      await sandbox(`/_sandbox/stripe/checkout/sessions/${sessionId}/refund`, { notify: true, count: 3 });
      await expectEventually(async () => expect(await topupStatus(topupId)).toBe('refunded'));
      expect(await balance(tenantId)).toBe(0);
      expect((await entries(tenantId)).map((e) => e.kind)).toEqual(['topup', 'refund']);
    });

    it('does not credit a completed but unpaid session until the async payment succeeds', async () => {
      const { tenantId, topupId, sessionId } = await aCardTopup(4000);
      await sandbox(`/_sandbox/stripe/checkout/sessions/${sessionId}/complete`, {
        notify: true,
        paymentStatus: 'unpaid',
      });
      await expectEventually(async () =>
        expect((await webhookEvents(sessionId))[0]?.status).toBe('processed'),
      );
      expect(await topupStatus(topupId)).toBe('pending');
      expect(await balance(tenantId)).toBe(0);
      await sandbox(`/_sandbox/stripe/checkout/sessions/${sessionId}/async-payment`, {
        result: 'succeeded',
        notify: true,
      });
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
      await expectEventually(async () =>
        expect((await webhookEvents(paymentId))[0]?.status).toBe('processed'),
      );
      expect(await entries(tenantId)).toHaveLength(1);
    });

    it('runs a pass when ops asks (billing.reconciliation_requested), crediting a card payment with no webhook', async () => {
      const { tenantId, sessionId } = await aCardTopup(3500);
      await sandbox(`/_sandbox/stripe/checkout/sessions/${sessionId}/complete`, {});
      await stack.dataSource.transaction((tx) =>
        stack.worker
          .get(OutboxService)
          .enqueue(tx, TopupReconciliationRequested, { data: { trigger: 'ops', pending: 1 } }),
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
      const pending = {
        id: topupId,
        tenantId: randomUUID(),
        provider: 'mercadopago' as const,
        amountCents: 4500,
        providerPaymentId: row.provider_payment_id,
        providerSessionId: null,
        createdAt: new Date(),
        expiresAt: row.expires_at,
      };
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
      for (const { paymentId } of made)
        await sandbox(`/_sandbox/mercadopago/payments/${paymentId}/status`, { status: 'approved' });
      // Distinct notifications (fresh ids) for the same payments, so both workers get copies.
      await Promise.all(
        made.flatMap(({ paymentId }) =>
          [1, 2, 3].map(() => sandbox(`/_sandbox/mercadopago/payments/${paymentId}/notify`, { fresh: true })),
        ),
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
        const later = await query<{ last: Date }>(
          `SELECT last_heartbeat_at AS last FROM ops.worker_heartbeats WHERE worker_id = 'worker-1'`,
        );
        expect(later[0].last.getTime()).toBeGreaterThan(
          first.find((r) => r.worker_id === 'worker-1')!.last.getTime(),
        );
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
        [
          eventId,
          `lost-${eventId}`,
          paymentId,
          JSON.stringify({ id: `lost-${eventId}`, type: 'payment', data: { id: paymentId } }),
        ],
      );
      const requeued = await second.get(WorkerHeartbeat).recoverStaleWork();
      expect(requeued['webhook-events']).toBeGreaterThanOrEqual(1);
      await expectEventually(async () => expect(await balance(tenantId)).toBe(3300));
      await expectEventually(async () =>
        expect((await webhookEvents(paymentId))[0]?.status).toBe('processed'),
      );
    });
  });
});
