import Stripe from 'stripe';
import { PaymentsError } from '../payments.errors';
import { RecordedRequest, RecordingServer, startRecordingServer } from '../testing/recording-server';
import { StripeGateway, stripeConnectionFromBaseUrl } from './stripe.gateway';
import { StripeGatewayOptions } from './stripe.types';

const SECRET_KEY = 'sk_test_realapp_123';

function sessionBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'cs_test_a1b2c3',
    object: 'checkout.session',
    url: 'https://checkout.stripe.com/c/pay/cs_test_a1b2c3',
    status: 'open',
    payment_status: 'unpaid',
    payment_intent: null,
    amount_total: 3000,
    currency: 'brl',
    client_reference_id: 'topup-1',
    metadata: { topupId: 'topup-1', tenantId: 'tenant-1' },
    mode: 'payment',
    ...overrides,
  };
}

const stripeError = (
  status: number,
  type: string,
  message: string,
  code?: string,
): { status: number; body: unknown } => ({
  status,
  body: { error: { type, message, code } },
});

const input = {
  topupId: 'topup-1',
  tenantId: 'tenant-1',
  amountCents: 3000,
  successUrl: 'https://app.example/topups/topup-1/success',
  cancelUrl: 'https://app.example/topups/topup-1/cancel',
  idempotencyKey: 'idem-checkout-topup-1',
};

function form(request: RecordedRequest): URLSearchParams {
  return new URLSearchParams(request.body);
}

describe('StripeGateway', () => {
  let server: RecordingServer;

  const gateway = (overrides: Partial<StripeGatewayOptions> = {}): StripeGateway =>
    new StripeGateway({
      secretKey: SECRET_KEY,
      apiBaseUrl: server.url,
      timeoutMs: 2000,
      maxNetworkRetries: 0,
      ...overrides,
    });

  beforeEach(async () => {
    server = await startRecordingServer();
  });

  afterEach(async () => {
    await server.close();
  });

  describe('createTopupCheckoutSession', () => {
    it('posts a form-encoded one-item payment session with metadata on the session and the PaymentIntent', async () => {
      server.enqueue({ status: 200, body: sessionBody() });
      await gateway().createTopupCheckoutSession(input);

      expect(server.requests).toHaveLength(1);
      const [request] = server.requests;
      expect(request.method).toBe('POST');
      expect(request.path).toBe('/v1/checkout/sessions');
      expect(request.headers['authorization']).toBe(`Bearer ${SECRET_KEY}`);
      expect(request.headers['idempotency-key']).toBe('idem-checkout-topup-1');
      expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(request.headers['stripe-version']).toBe(Stripe.API_VERSION);
      expect(Object.fromEntries(form(request))).toEqual({
        mode: 'payment',
        'line_items[0][price_data][currency]': 'brl',
        'line_items[0][price_data][unit_amount]': '3000',
        'line_items[0][price_data][product_data][name]': 'Saldo de tráfego',
        'line_items[0][quantity]': '1',
        client_reference_id: 'topup-1',
        'metadata[topupId]': 'topup-1',
        'metadata[tenantId]': 'tenant-1',
        'payment_intent_data[metadata][topupId]': 'topup-1',
        'payment_intent_data[metadata][tenantId]': 'tenant-1',
        success_url: 'https://app.example/topups/topup-1/success',
        cancel_url: 'https://app.example/topups/topup-1/cancel',
      });
    });

    it('passes currency, product name and expiry when given', async () => {
      server.enqueue({ status: 200, body: sessionBody() });
      await gateway().createTopupCheckoutSession({
        ...input,
        currency: 'usd',
        productName: 'Wallet credit',
        expiresAt: new Date('2026-11-25T10:00:00Z'),
      });
      const body = form(server.requests[0]);
      expect(body.get('line_items[0][price_data][currency]')).toBe('usd');
      expect(body.get('line_items[0][price_data][product_data][name]')).toBe('Wallet credit');
      expect(body.get('expires_at')).toBe(String(Date.parse('2026-11-25T10:00:00Z') / 1000));
    });

    it('maps the session', async () => {
      server.enqueue({ status: 200, body: sessionBody() });
      expect(await gateway().createTopupCheckoutSession(input)).toEqual({
        id: 'cs_test_a1b2c3',
        url: 'https://checkout.stripe.com/c/pay/cs_test_a1b2c3',
        status: 'open',
        paymentStatus: 'unpaid',
        paymentIntentId: null,
        amountTotal: 3000,
        currency: 'brl',
        clientReferenceId: 'topup-1',
        metadata: { topupId: 'topup-1', tenantId: 'tenant-1' },
      });
    });

    it.each([0, -1, 12.5])('refuses %d cents without calling Stripe', async (amountCents) => {
      await expect(gateway().createTopupCheckoutSession({ ...input, amountCents })).rejects.toMatchObject({
        code: 'invalid_amount',
      });
      expect(server.requests).toHaveLength(0);
    });
  });

  describe('getCheckoutSession', () => {
    it('retrieves a session and reads the PaymentIntent id', async () => {
      server.enqueue({
        status: 200,
        body: sessionBody({
          status: 'complete',
          payment_status: 'paid',
          payment_intent: 'pi_123',
          url: null,
        }),
      });
      const session = await gateway().getCheckoutSession('cs_test_a1b2c3');
      expect(server.requests[0].method).toBe('GET');
      expect(server.requests[0].path).toBe('/v1/checkout/sessions/cs_test_a1b2c3');
      expect(server.requests[0].headers['authorization']).toBe(`Bearer ${SECRET_KEY}`);
      expect(session).toMatchObject({
        status: 'complete',
        paymentStatus: 'paid',
        paymentIntentId: 'pi_123',
        url: null,
      });
    });

    it('reads an expanded PaymentIntent object', async () => {
      server.enqueue({
        status: 200,
        body: sessionBody({ payment_intent: { id: 'pi_456', object: 'payment_intent' } }),
      });
      expect((await gateway().getCheckoutSession('cs_test_a1b2c3')).paymentIntentId).toBe('pi_456');
    });

    it('refuses an unknown payment_status as provider_invalid_response', async () => {
      server.enqueue({ status: 200, body: sessionBody({ payment_status: 'maybe' }) });
      await expect(gateway().getCheckoutSession('cs_test_a1b2c3')).rejects.toMatchObject({
        code: 'provider_invalid_response',
      });
    });
  });

  describe('errors', () => {
    it("maps 400 to provider_rejected with Stripe's message, without retrying", async () => {
      server.enqueue(
        stripeError(400, 'invalid_request_error', 'Invalid currency: xyz', 'parameter_invalid_string'),
      );
      const error = await gateway({ maxNetworkRetries: 2 })
        .createTopupCheckoutSession(input)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PaymentsError);
      expect(error).toMatchObject({
        code: 'provider_rejected',
        retryable: false,
        status: 502,
        extra: { provider: 'stripe', providerStatus: 400, providerMessage: 'Invalid currency: xyz' },
      });
      expect(server.requests).toHaveLength(1);
    });

    it('maps 401 to provider_rejected', async () => {
      server.enqueue(stripeError(401, 'invalid_request_error', 'Invalid API Key provided'));
      await expect(gateway().createTopupCheckoutSession(input)).rejects.toMatchObject({
        code: 'provider_rejected',
      });
    });

    it('maps 404 to provider_not_found', async () => {
      server.enqueue(
        stripeError(404, 'invalid_request_error', 'No such checkout.session: cs_x', 'resource_missing'),
      );
      await expect(gateway().getCheckoutSession('cs_x')).rejects.toMatchObject({
        code: 'provider_not_found',
        status: 404,
      });
    });

    it('maps 500 to provider_unavailable once the SDK has used its retries, keeping the idempotency key', async () => {
      server.setDefault(() => stripeError(500, 'api_error', 'Something went wrong'));
      await expect(gateway({ maxNetworkRetries: 1 }).createTopupCheckoutSession(input)).rejects.toMatchObject(
        {
          code: 'provider_unavailable',
          retryable: true,
          extra: { providerStatus: 500 },
        },
      );
      expect(server.requests).toHaveLength(2);
      expect(server.requests.map((r) => r.headers['idempotency-key'])).toEqual([
        'idem-checkout-topup-1',
        'idem-checkout-topup-1',
      ]);
    });

    it('maps 429 to provider_unavailable', async () => {
      server.enqueue(stripeError(429, 'invalid_request_error', 'Too many requests', 'rate_limit'));
      await expect(gateway().createTopupCheckoutSession(input)).rejects.toMatchObject({
        code: 'provider_unavailable',
        retryable: true,
      });
    });

    it('maps a timeout to provider_unavailable', async () => {
      server.setDefault(() => 'hang');
      const error = await gateway({ timeoutMs: 150 })
        .getCheckoutSession('cs_test_a1b2c3')
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'provider_unavailable', retryable: true });
      expect(server.requests).toHaveLength(1);
    });

    it('maps a refused connection to provider_unavailable', async () => {
      const { url } = server;
      await server.close();
      server = await startRecordingServer();
      await expect(
        new StripeGateway({
          secretKey: SECRET_KEY,
          apiBaseUrl: url,
          maxNetworkRetries: 0,
        }).getCheckoutSession('cs_1'),
      ).rejects.toMatchObject({ code: 'provider_unavailable' });
    });
  });
});

describe('stripeConnectionFromBaseUrl', () => {
  it.each([
    ['http://127.0.0.1:3090', { host: '127.0.0.1', port: 3090, protocol: 'http' }],
    ['http://sandbox:3090/', { host: 'sandbox', port: 3090, protocol: 'http' }],
    ['https://api.stripe.com', { host: 'api.stripe.com', port: 443, protocol: 'https' }],
    ['http://localhost', { host: 'localhost', port: 80, protocol: 'http' }],
  ])('%s', (url, expected) => {
    expect(stripeConnectionFromBaseUrl(url)).toEqual(expected);
  });

  it.each(['ftp://host', 'http://host/prefix', 'not a url'])('refuses %s', (url) => {
    expect(() => stripeConnectionFromBaseUrl(url)).toThrow(TypeError);
  });
});
