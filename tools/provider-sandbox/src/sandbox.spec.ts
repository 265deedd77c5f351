import { Sandbox, createSandbox } from './sandbox';
import { GatewayStub, startGatewayStub } from './testing/gateway-stub';

describe('createSandbox', () => {
  let gateway: GatewayStub;
  let sandbox: Sandbox;

  beforeAll(async () => {
    gateway = await startGatewayStub();
    sandbox = await createSandbox({ webhookBaseUrl: gateway.url });
  });

  afterAll(async () => {
    await sandbox.close();
    await gateway.close();
  });

  beforeEach(() => {
    sandbox.reset();
    gateway.received.length = 0;
  });

  async function json(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
    const response = await fetch(`${sandbox.url}${path}`, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: 'manual',
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text.startsWith('{') ? JSON.parse(text) : { text },
      headers: response.headers,
    };
  }

  it('listens on a free port on 127.0.0.1 and answers health', async () => {
    expect(sandbox.url).toBe(`http://127.0.0.1:${sandbox.port}`);
    expect(sandbox.port).toBeGreaterThan(0);
    expect((await json('GET', '/_sandbox/health')).body).toEqual({ status: 'ok' });
  });

  it('reset() and POST /_sandbox/reset clear provider state', async () => {
    const payment = await json(
      'POST',
      '/v1/payments',
      { transaction_amount: 5, payment_method_id: 'pix', payer: { email: 'a@b.c' } },
      { authorization: 'Bearer x', 'x-idempotency-key': 'reset-key' },
    );
    const id = String(payment.body['id']);
    expect((await json('GET', `/_sandbox/mercadopago/payments/${id}`)).status).toBe(200);
    expect((await json('POST', '/_sandbox/reset')).body).toEqual({ status: 'reset' });
    expect((await json('GET', `/_sandbox/mercadopago/payments/${id}`)).status).toBe(404);
    // Ids keep increasing after a reset: the platform's database still knows the old ones.
    const next = await json(
      'POST',
      '/v1/payments',
      { transaction_amount: 5, payment_method_id: 'pix', payer: { email: 'a@b.c' } },
      { authorization: 'Bearer x', 'x-idempotency-key': 'reset-key' },
    );
    expect(Number(next.body['id'])).toBeGreaterThan(Number(id));
  });

  it('answers malformed JSON in the shape of the provider called', async () => {
    const response = await fetch(`${sandbox.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk' },
      body: '{not json',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      error: { type: 'invalid_request_error', param: null, code: null },
    });

    const graph = await fetch(`${sandbox.url}/v26.0/act_1/campaigns?access_token=t`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(graph.status).toBe(400);
    expect(((await graph.json()) as { error: unknown }).error).toMatchObject({
      code: 100,
      type: 'OAuthException',
    });
  });

  it('serves a Stripe checkout page that completes the session, notifies and redirects', async () => {
    const form = new URLSearchParams({
      mode: 'payment',
      'line_items[0][price_data][currency]': 'brl',
      'line_items[0][price_data][unit_amount]': '2500',
      'line_items[0][price_data][product_data][name]': 'Saldo',
      'line_items[0][quantity]': '1',
      success_url: 'https://app.example/ok?session_id={CHECKOUT_SESSION_ID}',
    });
    const created = await fetch(`${sandbox.url}/v1/checkout/sessions`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk_test_x', 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    const session = (await created.json()) as { id: string; url: string };
    const page = await fetch(String(session.url));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('BRL 25.00');

    const paid = await fetch(`${sandbox.url}/checkout/${String(session.id)}/pay`, {
      method: 'POST',
      redirect: 'manual',
    });
    expect(paid.status).toBe(303);
    expect(paid.headers.get('location')).toBe(`https://app.example/ok?session_id=${String(session.id)}`);
    expect(gateway.received.map((delivery) => delivery.url)).toEqual(['/v1/webhooks/stripe']);
  });

  it('serves the PIX ticket page and the subscription checkout page', async () => {
    const payment = await json(
      'POST',
      '/v1/payments',
      { transaction_amount: 7.5, payment_method_id: 'pix', payer: { email: 'a@b.c' } },
      { authorization: 'Bearer x', 'x-idempotency-key': 'ticket' },
    );
    const ticketUrl = String(
      (payment.body['point_of_interaction'] as { transaction_data: { ticket_url: string } }).transaction_data
        .ticket_url,
    );
    const ticket = await fetch(ticketUrl);
    expect(await ticket.text()).toContain('000201');
    const pay = await fetch(`${ticketUrl}/pay`, { method: 'POST' });
    expect(pay.status).toBe(200);
    expect(
      (await json('GET', `/_sandbox/mercadopago/payments/${String(payment.body['id'])}`)).body,
    ).toMatchObject({
      payment: { status: 'approved' },
    });

    const preapproval = await json(
      'POST',
      '/preapproval/',
      {
        reason: 'Plano Pro',
        payer_email: 'a@b.c',
        back_url: 'https://app.example/subscribed',
        auto_recurring: {
          frequency: 1,
          frequency_type: 'months',
          transaction_amount: 99.9,
          currency_id: 'BRL',
        },
        status: 'pending',
      },
      { authorization: 'Bearer x' },
    );
    const initPoint = String(preapproval.body['init_point']);
    expect((await fetch(initPoint)).status).toBe(200);
    const authorize = await fetch(`${sandbox.url}/subscriptions/checkout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `preapproval_id=${String(preapproval.body['id'])}`,
      redirect: 'manual',
    });
    expect(authorize.status).toBe(303);
    expect(authorize.headers.get('location')).toBe(
      `https://app.example/subscribed?preapproval_id=${String(preapproval.body['id'])}`,
    );
    expect(gateway.received.map((delivery) => delivery.url)).toEqual([
      `/v1/webhooks/mercadopago?data.id=${String(payment.body['id'])}&type=payment`,
      `/v1/webhooks/mercadopago?data.id=${String(preapproval.body['id'])}&type=subscription_preapproval`,
    ]);
  });

  it('reports a gateway that cannot be reached as status 0', async () => {
    const unreachable = await createSandbox({ webhookBaseUrl: 'http://127.0.0.1:9', webhookTimeoutMs: 2000 });
    try {
      const response = await fetch(`${unreachable.url}/_sandbox/meta/partner-added`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ wabaId: '1', ownerBusinessId: '2' }),
      });
      const body = (await response.json()) as { notified: unknown };
      expect(body.notified).toMatchObject({ status: 0, error: expect.any(String) });
    } finally {
      await unreachable.close();
    }
  });
});
