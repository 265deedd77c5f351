import { createHmac } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { isValidPixBrCode } from './pix-brcode';
import { buildSandboxApp } from './sandbox';
import { GatewayStub, startGatewayStub } from './testing/gateway-stub';

const SECRET = 'test-mp-secret';
const auth = { authorization: 'Bearer TEST-access-token' };

function pixBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    transaction_amount: 50.25,
    payment_method_id: 'pix',
    payer: { email: 'buyer@example.com' },
    description: 'Saldo de tráfego',
    external_reference: 'topup-1',
    ...overrides,
  };
}

function verifyMercadoPagoSignature(headers: Record<string, unknown>, dataId: string): boolean {
  const signature = String(headers['x-signature']);
  const requestId = String(headers['x-request-id']);
  const parts = Object.fromEntries(signature.split(',').map((part) => part.split('=') as [string, string]));
  const expected = createHmac('sha256', SECRET)
    .update(`id:${dataId};request-id:${requestId};ts:${parts['ts']};`)
    .digest('hex');
  return parts['v1'] === expected;
}

describe('Mercado Pago routes', () => {
  let gateway: GatewayStub;
  let app: FastifyInstance;

  beforeAll(async () => {
    gateway = await startGatewayStub();
  });

  afterAll(async () => {
    await gateway.close();
  });

  beforeEach(async () => {
    gateway.received.length = 0;
    gateway.setStatus(200);
    app = buildSandboxApp({ webhookBaseUrl: gateway.url, mercadoPagoWebhookSecret: SECRET }).app;
    await app.ready();
  });

  afterEach(async () => {
    await app.close();
  });

  async function createPayment(key = 'key-1', body = pixBody()): Promise<Record<string, unknown>> {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/payments',
      headers: { ...auth, 'x-idempotency-key': key },
      payload: body,
    });
    expect(response.statusCode).toBe(201);
    return response.json();
  }

  describe('POST /v1/payments', () => {
    it('creates a pending PIX payment with a valid BR Code', async () => {
      const payment = await createPayment();
      expect(payment).toMatchObject({
        status: 'pending',
        status_detail: 'pending_waiting_transfer',
        payment_type_id: 'bank_transfer',
        payment_method_id: 'pix',
        transaction_amount: 50.25,
        currency_id: 'BRL',
        external_reference: 'topup-1',
        description: 'Saldo de tráfego',
        point_of_interaction: { type: 'PIX' },
      });
      expect(typeof payment['id']).toBe('number');
      expect(payment['date_of_expiration']).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}-03:00$/);
      const data = (payment['point_of_interaction'] as { transaction_data: Record<string, string> })
        .transaction_data;
      expect(isValidPixBrCode(data['qr_code'])).toBe(true);
      expect(data['qr_code']).toContain('540550.25');
      expect(Buffer.from(data['qr_code_base64'], 'base64').subarray(1, 4).toString('ascii')).toBe('PNG');
      expect(data['ticket_url']).toMatch(new RegExp(`/payments/${String(payment['id'])}/ticket$`));
    });

    it('defaults the expiration to 24 h and keeps a given one', async () => {
      const now = Date.now();
      const defaulted = await createPayment('k-a');
      const ahead = Date.parse(String(defaulted['date_of_expiration'])) - now;
      expect(ahead).toBeGreaterThan(23.9 * 3600 * 1000);
      expect(ahead).toBeLessThan(24.1 * 3600 * 1000);

      const given = new Date(now + 2 * 3600 * 1000);
      const payment = await createPayment('k-b', pixBody({ date_of_expiration: given.toISOString() }));
      expect(Date.parse(String(payment['date_of_expiration']))).toBe(given.getTime());
    });

    it('refuses an expiration outside 30 minutes..30 days', async () => {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/payments',
        headers: { ...auth, 'x-idempotency-key': 'k-exp' },
        payload: pixBody({ date_of_expiration: new Date(Date.now() + 5 * 60 * 1000).toISOString() }),
      });
      expect(response.statusCode).toBe(400);
    });

    it('gives increasing numeric ids', async () => {
      const first = await createPayment('k-1');
      const second = await createPayment('k-2');
      expect(Number(second['id'])).toBeGreaterThan(Number(first['id']));
    });

    it('answers 401 in Mercado Pago error shape without a bearer token', async () => {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/payments',
        headers: { 'x-idempotency-key': 'k' },
        payload: pixBody(),
      });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({
        status: 401,
        error: 'unauthorized',
        cause: [expect.any(Object)],
      });
      expect(typeof response.json().message).toBe('string');
    });

    it('requires X-Idempotency-Key', async () => {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/payments',
        headers: auth,
        payload: pixBody(),
      });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ status: 400, error: 'bad_request' });
    });

    it.each([
      ['zero amount', { transaction_amount: 0 }],
      ['string amount', { transaction_amount: '10.00' }],
      ['three decimals', { transaction_amount: 10.001 }],
      ['another method', { payment_method_id: 'visa' }],
      ['no payer email', { payer: {} }],
    ])('validates the body (%s)', async (_name, overrides) => {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/payments',
        headers: { ...auth, 'x-idempotency-key': 'k-invalid' },
        payload: pixBody(overrides),
      });
      expect(response.statusCode).toBe(400);
      expect(response.json().cause[0]).toEqual({ code: expect.any(Number), description: expect.any(String) });
    });

    it('returns the same payment for the same key and body, and 409 for another body', async () => {
      const first = await createPayment('same-key');
      const replay = await createPayment('same-key');
      expect(replay['id']).toBe(first['id']);

      const conflict = await app.inject({
        method: 'POST',
        url: '/v1/payments',
        headers: { ...auth, 'x-idempotency-key': 'same-key' },
        payload: pixBody({ transaction_amount: 99 }),
      });
      expect(conflict.statusCode).toBe(409);

      const search = await app.inject({
        method: 'GET',
        url: '/v1/payments/search?external_reference=topup-1',
        headers: auth,
      });
      expect(search.json().paging.total).toBe(1);
    });
  });

  describe('GET /v1/payments', () => {
    it('reads a payment, even with an empty JSON body as the SDK sends on GET', async () => {
      const payment = await createPayment();
      const response = await app.inject({
        method: 'GET',
        url: `/v1/payments/${String(payment['id'])}`,
        headers: { ...auth, 'content-type': 'application/json' },
      });
      expect(response.statusCode).toBe(200);
      expect(response.json().id).toBe(payment['id']);
    });

    it('answers 404 in Mercado Pago shape for an unknown id', async () => {
      const response = await app.inject({ method: 'GET', url: '/v1/payments/999', headers: auth });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({
        status: 404,
        error: 'not_found',
        message: 'Payment not found',
      });
    });

    it('searches by external_reference', async () => {
      await createPayment('a', pixBody({ external_reference: 'ref-a' }));
      await createPayment('b', pixBody({ external_reference: 'ref-b' }));
      await createPayment('c', pixBody({ external_reference: 'ref-a', transaction_amount: 10 }));
      const response = await app.inject({
        method: 'GET',
        url: '/v1/payments/search?external_reference=ref-a',
        headers: auth,
      });
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(body.paging).toEqual({ total: 2, limit: 30, offset: 0 });
      expect(body.results.map((result: { external_reference: string }) => result.external_reference)).toEqual(
        ['ref-a', 'ref-a'],
      );
    });

    it('cancels a pending PIX once its expiration has passed', async () => {
      let clock = Date.now();
      await app.close();
      app = buildSandboxApp({ webhookBaseUrl: gateway.url, now: () => new Date(clock) }).app;
      const payment = await createPayment(
        'exp',
        pixBody({ date_of_expiration: new Date(clock + 3600_000).toISOString() }),
      );
      clock += 2 * 3600_000;
      const response = await app.inject({
        method: 'GET',
        url: `/v1/payments/${String(payment['id'])}`,
        headers: auth,
      });
      expect(response.json()).toMatchObject({ status: 'cancelled', status_detail: 'expired' });
    });
  });

  describe('control: payment status and notifications', () => {
    it('approves and posts a correctly signed notification, answering only after the gateway did', async () => {
      const payment = await createPayment();
      const id = String(payment['id']);
      const response = await app.inject({
        method: 'POST',
        url: `/_sandbox/mercadopago/payments/${id}/status`,
        payload: { status: 'approved', notify: true },
      });
      expect(response.statusCode).toBe(200);
      const answer = response.json();
      expect(answer.payment).toMatchObject({ status: 'approved', status_detail: 'accredited' });
      expect(answer.payment.date_approved).toEqual(expect.any(String));
      expect(answer.notified).toMatchObject({ status: 200, statuses: [200] });

      expect(gateway.received).toHaveLength(1);
      const [delivery] = gateway.received;
      expect(delivery.url).toBe(`/v1/webhooks/mercadopago?data.id=${id}&type=payment`);
      expect(delivery.headers['content-type']).toBe('application/json');
      expect(delivery.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(delivery.headers['x-signature']).toMatch(/^ts=\d{10},v1=[0-9a-f]{64}$/);
      expect(verifyMercadoPagoSignature(delivery.headers, id)).toBe(true);
      const body = JSON.parse(delivery.rawBody.toString('utf8'));
      expect(body).toEqual({
        id: expect.any(Number),
        live_mode: false,
        type: 'payment',
        date_created: expect.any(String),
        user_id: expect.any(Number),
        api_version: 'v1',
        action: 'payment.updated',
        data: { id },
      });
    });

    it('posts to the payment notification_url when one was given', async () => {
      const payment = await createPayment(
        'with-url',
        pixBody({ notification_url: `${gateway.url}/custom/hook?tenant=t1` }),
      );
      await app.inject({
        method: 'POST',
        url: `/_sandbox/mercadopago/payments/${String(payment['id'])}/status`,
        payload: { status: 'approved', notify: true },
      });
      expect(gateway.received[0].url).toBe(
        `/custom/hook?tenant=t1&data.id=${String(payment['id'])}&type=payment`,
      );
    });

    it.each([
      ['rejected', undefined, 'rejected'],
      ['cancelled', 'expired', 'cancelled'],
      ['refunded', undefined, 'refunded'],
      ['charged_back', undefined, 'charged_back'],
      ['in_process', undefined, 'in_process'],
    ])('sets %s', async (status, statusDetail, expected) => {
      const payment = await createPayment();
      const response = await app.inject({
        method: 'POST',
        url: `/_sandbox/mercadopago/payments/${String(payment['id'])}/status`,
        payload: statusDetail === undefined ? { status } : { status, statusDetail },
      });
      expect(response.statusCode).toBe(200);
      expect(response.json().payment.status).toBe(expected);
      expect(response.json().notified).toBeUndefined();
      if (statusDetail !== undefined) expect(response.json().payment.status_detail).toBe(statusDetail);
    });

    it('keeps a partially refunded payment approved', async () => {
      const payment = await createPayment();
      const id = String(payment['id']);
      await app.inject({
        method: 'POST',
        url: `/_sandbox/mercadopago/payments/${id}/status`,
        payload: { status: 'approved' },
      });
      const response = await app.inject({
        method: 'POST',
        url: `/_sandbox/mercadopago/payments/${id}/status`,
        payload: { status: 'refunded', refundAmount: 10 },
      });
      expect(response.json().payment).toMatchObject({
        status: 'approved',
        status_detail: 'partially_refunded',
        transaction_amount_refunded: 10,
      });
    });

    it('re-delivers the same notification concurrently with /notify {count}', async () => {
      const payment = await createPayment();
      const id = String(payment['id']);
      await app.inject({
        method: 'POST',
        url: `/_sandbox/mercadopago/payments/${id}/status`,
        payload: { status: 'approved', notify: true },
      });
      const response = await app.inject({
        method: 'POST',
        url: `/_sandbox/mercadopago/payments/${id}/notify`,
        payload: { count: 3 },
      });
      expect(response.json().notified.statuses).toEqual([200, 200, 200]);
      expect(gateway.received).toHaveLength(4);
      const bodies = gateway.received.map((delivery) => JSON.parse(delivery.rawBody.toString('utf8')));
      expect(new Set(bodies.map((body) => body.id)).size).toBe(1);
      expect(new Set(gateway.received.map((delivery) => delivery.headers['x-request-id'])).size).toBe(4);
      for (const delivery of gateway.received)
        expect(verifyMercadoPagoSignature(delivery.headers, id)).toBe(true);
      // The state did not change.
      expect(response.json().payment.status).toBe('approved');
    });

    it('reports what the gateway answered', async () => {
      gateway.setStatus(401);
      const payment = await createPayment();
      const response = await app.inject({
        method: 'POST',
        url: `/_sandbox/mercadopago/payments/${String(payment['id'])}/notify`,
        payload: {},
      });
      expect(response.json().notified.status).toBe(401);
    });

    it('answers 404 for unknown payments and 400 for unknown statuses', async () => {
      const unknown = await app.inject({
        method: 'POST',
        url: '/_sandbox/mercadopago/payments/1/status',
        payload: { status: 'approved' },
      });
      expect(unknown.statusCode).toBe(404);
      const payment = await createPayment();
      const bad = await app.inject({
        method: 'POST',
        url: `/_sandbox/mercadopago/payments/${String(payment['id'])}/status`,
        payload: { status: 'paid' },
      });
      expect(bad.statusCode).toBe(400);
    });
  });

  describe('pre-approvals', () => {
    const preapprovalBody = {
      reason: 'RealApp Pro',
      external_reference: 'sub-tenant-1',
      payer_email: 'owner@example.com',
      back_url: 'https://app.example/billing/return',
      auto_recurring: {
        frequency: 1,
        frequency_type: 'months',
        transaction_amount: 99.9,
        currency_id: 'BRL',
      },
      status: 'pending',
    };

    async function createPreapproval(url = '/preapproval'): Promise<Record<string, unknown>> {
      const response = await app.inject({ method: 'POST', url, headers: auth, payload: preapprovalBody });
      expect(response.statusCode).toBe(201);
      return response.json();
    }

    it('creates one on /preapproval and on /preapproval/ (the SDK path)', async () => {
      const created = await createPreapproval('/preapproval/');
      expect(created).toMatchObject({
        status: 'pending',
        reason: 'RealApp Pro',
        external_reference: 'sub-tenant-1',
        payer_email: 'owner@example.com',
        auto_recurring: preapprovalBody.auto_recurring,
      });
      expect(String(created['id'])).toMatch(/^2c938084[0-9a-f]{24}$/);
      expect(String(created['init_point'])).toMatch(
        new RegExp(`/subscriptions/checkout\\?preapproval_id=${String(created['id'])}$`),
      );
      expect(created['date_created']).toEqual(expect.any(String));
      expect(created['next_payment_date']).toEqual(expect.any(String));
      await createPreapproval('/preapproval');
    });

    it('refuses a plan subscription without a card token, as the real API does', async () => {
      const response = await app.inject({
        method: 'POST',
        url: '/preapproval/',
        headers: auth,
        payload: { preapproval_plan_id: 'plan-1', payer_email: 'a@b.c', back_url: 'https://x.example' },
      });
      expect(response.statusCode).toBe(400);
      expect(response.json().message).toBe('card_id is required');
    });

    it('reads, searches and updates', async () => {
      const created = await createPreapproval();
      const id = String(created['id']);
      const read = await app.inject({
        method: 'GET',
        url: `/preapproval/${id}`,
        headers: { ...auth, 'content-type': 'application/json' },
      });
      expect(read.json().id).toBe(id);

      const search = await app.inject({
        method: 'GET',
        url: '/preapproval/search?external_reference=sub-tenant-1',
        headers: auth,
      });
      expect(search.json().results).toHaveLength(1);

      const cancel = await app.inject({
        method: 'PUT',
        url: `/preapproval/${id}`,
        headers: auth,
        payload: { status: 'cancelled' },
      });
      expect(cancel.json().status).toBe('cancelled');
      const again = await app.inject({
        method: 'PUT',
        url: `/preapproval/${id}`,
        headers: auth,
        payload: { status: 'authorized' },
      });
      expect(again.statusCode).toBe(400);

      const missing = await app.inject({ method: 'GET', url: '/preapproval/nope', headers: auth });
      expect(missing.statusCode).toBe(404);
    });

    it('authorizes through the control API and posts a signed subscription_preapproval notification', async () => {
      const created = await createPreapproval();
      const id = String(created['id']);
      const response = await app.inject({
        method: 'POST',
        url: `/_sandbox/mercadopago/preapproval/${id}/status`,
        payload: { status: 'authorized', notify: true },
      });
      expect(response.statusCode).toBe(200);
      expect(response.json().preapproval.status).toBe('authorized');
      expect(response.json().notified.status).toBe(200);
      const [delivery] = gateway.received;
      expect(delivery.url).toBe(`/v1/webhooks/mercadopago?data.id=${id}&type=subscription_preapproval`);
      expect(verifyMercadoPagoSignature(delivery.headers, id)).toBe(true);
      expect(JSON.parse(delivery.rawBody.toString('utf8'))).toEqual({
        action: 'updated',
        application_id: expect.any(Number),
        data: { id },
        date: expect.any(String),
        entity: 'preapproval',
        id: expect.any(Number),
        type: 'subscription_preapproval',
        version: 1,
      });
    });
  });
});
