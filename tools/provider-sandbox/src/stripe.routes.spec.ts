import Stripe from 'stripe';
import { Sandbox, createSandbox } from './sandbox';
import { GatewayStub, startGatewayStub } from './testing/gateway-stub';

const WEBHOOK_SECRET = 'whsec_test_secret';

describe('Stripe routes', () => {
  let gateway: GatewayStub;
  let sandbox: Sandbox;
  let stripe: Stripe;

  beforeAll(async () => {
    gateway = await startGatewayStub();
    sandbox = await createSandbox({ webhookBaseUrl: gateway.url, stripeWebhookSecret: WEBHOOK_SECRET });
    // The platform points the official SDK at the sandbox exactly like this.
    stripe = new Stripe('sk_test_sandbox', {
      host: '127.0.0.1',
      port: sandbox.port,
      protocol: 'http',
      maxNetworkRetries: 0,
    });
  });

  afterAll(async () => {
    await sandbox.close();
    await gateway.close();
  });

  beforeEach(() => {
    sandbox.reset();
    gateway.received.length = 0;
  });

  function createTopUpSession(idempotencyKey?: string, amount = 5000): Promise<Stripe.Checkout.Session> {
    return stripe.checkout.sessions.create(
      {
        mode: 'payment',
        line_items: [
          {
            price_data: { currency: 'brl', unit_amount: amount, product_data: { name: 'Saldo de tráfego' } },
            quantity: 1,
          },
        ],
        client_reference_id: 'topup_1',
        metadata: { topupId: 'topup_1', tenantId: 'tenant_1' },
        payment_intent_data: { metadata: { topupId: 'topup_1', tenantId: 'tenant_1' } },
        success_url: 'https://app.example/ok?session={CHECKOUT_SESSION_ID}',
        cancel_url: 'https://app.example/cancel',
      },
      idempotencyKey === undefined ? undefined : { idempotencyKey },
    );
  }

  it('creates a Checkout Session from what the official SDK sends', async () => {
    const session = await createTopUpSession();
    expect(session).toMatchObject({
      object: 'checkout.session',
      status: 'open',
      payment_status: 'unpaid',
      amount_total: 5000,
      currency: 'brl',
      client_reference_id: 'topup_1',
      metadata: { topupId: 'topup_1', tenantId: 'tenant_1' },
      mode: 'payment',
      success_url: 'https://app.example/ok?session={CHECKOUT_SESSION_ID}',
      cancel_url: 'https://app.example/cancel',
    });
    expect(session.id).toMatch(/^cs_test_/);
    expect(session.url).toBe(`${sandbox.url}/checkout/${session.id}`);
    expect(session.payment_intent).toMatch(/^pi_/);
    expect(session.expires_at - session.created).toBe(24 * 3600);

    const read = await stripe.checkout.sessions.retrieve(session.id);
    expect(read.id).toBe(session.id);
  });

  it('honours Idempotency-Key: same key, same session', async () => {
    const first = await createTopUpSession('idem-1');
    const second = await createTopUpSession('idem-1');
    expect(second.id).toBe(first.id);
    const other = await createTopUpSession('idem-2');
    expect(other.id).not.toBe(first.id);
    await expect(createTopUpSession('idem-1', 7000)).rejects.toMatchObject({
      type: 'StripeIdempotencyError',
    });
  });

  it('answers errors in Stripe shape', async () => {
    const noKey = await fetch(`${sandbox.url}/v1/checkout/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'mode=payment',
    });
    expect(noKey.status).toBe(401);
    expect(await noKey.json()).toEqual({
      error: { type: 'invalid_request_error', message: expect.any(String) },
    });

    await expect(stripe.checkout.sessions.retrieve('cs_test_missing')).rejects.toMatchObject({
      statusCode: 404,
      code: 'resource_missing',
    });
    const missingQuantity = await fetch(`${sandbox.url}/v1/checkout/sessions`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk_test_x', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'mode=payment&line_items[0][price_data][currency]=brl&line_items[0][price_data][unit_amount]=100&line_items[0][price_data][product_data][name]=x',
    });
    expect(missingQuantity.status).toBe(400);
    expect(await missingQuantity.json()).toEqual({
      error: {
        type: 'invalid_request_error',
        code: 'parameter_missing',
        param: 'line_items[0][quantity]',
        message: 'Missing required param: line_items[0][quantity].',
      },
    });
  });

  it('completes a session and posts a checkout.session.completed event the SDK verifies', async () => {
    const session = await createTopUpSession();
    const response = await fetch(`${sandbox.url}/_sandbox/stripe/checkout/sessions/${session.id}/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ notify: true }),
    });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { session: unknown; notified: unknown };
    expect(answer.session).toMatchObject({ status: 'complete', payment_status: 'paid', url: null });
    expect(answer.notified).toMatchObject({ status: 200 });

    expect(gateway.received).toHaveLength(1);
    const [delivery] = gateway.received;
    expect(delivery.url).toBe('/v1/webhooks/stripe');
    const event = stripe.webhooks.constructEvent(
      delivery.rawBody,
      String(delivery.headers['stripe-signature']),
      WEBHOOK_SECRET,
    );
    expect(event.type).toBe('checkout.session.completed');
    expect(event).toMatchObject({ object: 'event', livemode: false, api_version: expect.any(String) });
    expect(event.id).toMatch(/^evt_/);
    const completed = event.data.object as Stripe.Checkout.Session;
    expect(completed).toMatchObject({
      id: session.id,
      status: 'complete',
      payment_status: 'paid',
      client_reference_id: 'topup_1',
      metadata: { topupId: 'topup_1' },
    });

    const again = await fetch(`${sandbox.url}/_sandbox/stripe/checkout/sessions/${session.id}/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(again.status).toBe(409);
  });

  it('posts charge.refunded and charge.dispute.created with the payment intent metadata', async () => {
    const session = await createTopUpSession();
    const control = (path: string, body: unknown): Promise<Response> =>
      fetch(`${sandbox.url}/_sandbox/stripe/checkout/sessions/${session.id}/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await control('refund', { notify: true })).status).toBe(409);
    await control('complete', {});
    const refund = await control('refund', { amountCents: 2000, notify: true });
    expect(refund.status).toBe(200);
    const dispute = await control('dispute', { notify: true });
    expect(dispute.status).toBe(200);

    const events = gateway.received.map((delivery) =>
      stripe.webhooks.constructEvent(
        delivery.rawBody,
        String(delivery.headers['stripe-signature']),
        WEBHOOK_SECRET,
      ),
    );
    expect(events.map((event) => event.type)).toEqual(['charge.refunded', 'charge.dispute.created']);
    const charge = events[0].data.object as Stripe.Charge;
    expect(charge).toMatchObject({
      object: 'charge',
      amount: 5000,
      amount_refunded: 2000,
      refunded: false,
      payment_intent: session.payment_intent,
      metadata: { topupId: 'topup_1', tenantId: 'tenant_1' },
    });
    expect(charge.id).toMatch(/^ch_/);
    const disputeObject = events[1].data.object as Stripe.Dispute;
    expect(disputeObject).toMatchObject({
      object: 'dispute',
      amount: 3000,
      charge: charge.id,
      payment_intent: session.payment_intent,
      status: 'needs_response',
    });
    expect(disputeObject.id).toMatch(/^dp_/);

    const intent = await stripe.paymentIntents.retrieve(String(session.payment_intent));
    expect(intent).toMatchObject({ status: 'succeeded', metadata: { topupId: 'topup_1' } });
  });

  it('delivers duplicates of the same event with count', async () => {
    const session = await createTopUpSession();
    const response = await fetch(`${sandbox.url}/_sandbox/stripe/checkout/sessions/${session.id}/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ notify: true, count: 2 }),
    });
    expect(((await response.json()) as { notified: { statuses: number[] } }).notified.statuses).toEqual([
      200, 200,
    ]);
    const ids = gateway.received.map((delivery) => JSON.parse(delivery.rawBody.toString('utf8')).id);
    expect(ids[0]).toBe(ids[1]);
  });
});
