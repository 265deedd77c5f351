import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import { PaymentsError } from '../payments.errors';
import { RecordingServer, startRecordingServer } from '../testing/recording-server';
import { formatMercadoPagoDate, MercadoPagoClient } from './mercadopago.client';
import { MercadoPagoClientOptions } from './mercadopago.types';

const TOKEN = 'TEST-access-token-123';

function pixPaymentBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 1325410349,
    status: 'pending',
    status_detail: 'pending_waiting_transfer',
    payment_type_id: 'bank_transfer',
    transaction_amount: 30,
    transaction_amount_refunded: 0,
    currency_id: 'BRL',
    external_reference: 'topup:7b0c',
    date_of_expiration: '2026-11-25T10:00:00.000-00:00',
    point_of_interaction: {
      type: 'PIX',
      transaction_data: {
        qr_code: '00020126580014br.gov.bcb.pix...6304ABCD',
        qr_code_base64: 'iVBORw0KGgo=',
        ticket_url: 'https://www.mercadopago.com.br/payments/1325410349/ticket',
      },
    },
    ...overrides,
  };
}

function preapprovalBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: '2c9380848e1b2c3d018e1b2c3d4e0001',
    status: 'pending',
    init_point:
      'https://www.mercadopago.com.br/subscriptions/checkout?preapproval_id=2c9380848e1b2c3d018e1b2c3d4e0001',
    external_reference: 'tenant:42',
    next_payment_date: '2026-12-24T12:00:00.000-04:00',
    auto_recurring: { frequency: 1, frequency_type: 'months', transaction_amount: 199.9, currency_id: 'BRL' },
    ...overrides,
  };
}

/** A bare node:http server for what the recording server does not show: its connections. */
async function startConnectionCountingServer(
  handle: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; connections: Socket[]; close(): Promise<void> }> {
  const connections: Socket[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => handle(req, res));
  });
  server.on('connection', (socket: Socket) => connections.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

const pixInput = {
  amountCents: 3000,
  description: 'Saldo de tráfego',
  payerEmail: 'owner@tenant.example',
  externalReference: 'topup:7b0c',
  idempotencyKey: 'idem-topup-7b0c',
};

describe('MercadoPagoClient', () => {
  let server: RecordingServer;
  let delays: number[];
  let warnings: Array<{ obj: object; msg: string }>;
  const clients: MercadoPagoClient[] = [];

  const client = (overrides: Partial<MercadoPagoClientOptions> = {}): MercadoPagoClient => {
    const created = new MercadoPagoClient({
      baseUrl: server.url,
      accessToken: TOKEN,
      timeoutMs: 2000,
      logger: { warn: (obj, msg) => warnings.push({ obj, msg }) },
      sleep: (ms) => {
        delays.push(ms);
        return Promise.resolve();
      },
      ...overrides,
    });
    clients.push(created);
    return created;
  };

  beforeEach(async () => {
    server = await startRecordingServer();
    delays = [];
    warnings = [];
  });

  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await server.close();
  });

  describe('createPixPayment', () => {
    it('posts the PIX payment with the idempotency key and bearer token', async () => {
      server.enqueue({ status: 201, body: pixPaymentBody() });
      await client().createPixPayment({
        ...pixInput,
        notificationUrl: 'https://hooks.example/v1/webhooks/mercadopago',
        expiresAt: new Date('2026-11-25T10:00:00Z'),
      });

      expect(server.requests).toHaveLength(1);
      const [request] = server.requests;
      expect(request.method).toBe('POST');
      expect(request.path).toBe('/v1/payments');
      expect(request.headers['authorization']).toBe(`Bearer ${TOKEN}`);
      expect(request.headers['x-idempotency-key']).toBe('idem-topup-7b0c');
      expect(request.headers['content-type']).toBe('application/json');
      expect(JSON.parse(request.body)).toEqual({
        transaction_amount: 30,
        payment_method_id: 'pix',
        payer: { email: 'owner@tenant.example' },
        description: 'Saldo de tráfego',
        external_reference: 'topup:7b0c',
        notification_url: 'https://hooks.example/v1/webhooks/mercadopago',
        date_of_expiration: '2026-11-25T10:00:00.000-00:00',
      });
    });

    it('leaves optional fields out when not given', async () => {
      server.enqueue({ status: 201, body: pixPaymentBody() });
      await client().createPixPayment(pixInput);
      const body = JSON.parse(server.requests[0].body) as Record<string, unknown>;
      expect(body).not.toHaveProperty('notification_url');
      expect(body).not.toHaveProperty('date_of_expiration');
    });

    it('maps the answer into a camelCased payment with integer cents', async () => {
      server.enqueue({ status: 201, body: pixPaymentBody() });
      expect(await client().createPixPayment(pixInput)).toEqual({
        id: '1325410349',
        status: 'pending',
        statusDetail: 'pending_waiting_transfer',
        amountCents: 3000,
        currencyId: 'BRL',
        externalReference: 'topup:7b0c',
        dateOfExpiration: new Date('2026-11-25T10:00:00.000Z'),
        qrCode: '00020126580014br.gov.bcb.pix...6304ABCD',
        qrCodeBase64: 'iVBORw0KGgo=',
        ticketUrl: 'https://www.mercadopago.com.br/payments/1325410349/ticket',
        transactionAmountRefundedCents: 0,
      });
    });

    it.each([
      [1, '0.01'],
      [99, '0.99'],
      [100, '1'],
      [3000, '30'],
      [3050, '30.5'],
      [100000000, '1000000'],
    ])('sends %i cents as transaction_amount %s on the wire', async (amountCents, wire) => {
      server.enqueue({ status: 201, body: pixPaymentBody({ transaction_amount: Number(wire) }) });
      const payment = await client().createPixPayment({ ...pixInput, amountCents });
      expect(server.requests[0].body).toContain(`"transaction_amount":${wire},`);
      expect(payment.amountCents).toBe(amountCents);
    });

    it.each([0, -100, 10.5, Number.NaN])(
      'refuses %d cents without calling the provider',
      async (amountCents) => {
        await expect(client().createPixPayment({ ...pixInput, amountCents })).rejects.toMatchObject({
          code: 'invalid_amount',
        });
        expect(server.requests).toHaveLength(0);
      },
    );
  });

  describe('payments', () => {
    it('gets a payment by id', async () => {
      server.enqueue({
        status: 200,
        body: pixPaymentBody({
          status: 'approved',
          status_detail: 'partially_refunded',
          transaction_amount: 1234567.89,
          transaction_amount_refunded: 10.1,
        }),
      });
      const payment = await client().getPayment('1325410349');
      expect(server.requests[0]).toMatchObject({ method: 'GET', path: '/v1/payments/1325410349', body: '' });
      expect(server.requests[0].headers['authorization']).toBe(`Bearer ${TOKEN}`);
      expect(payment).toMatchObject({
        status: 'approved',
        statusDetail: 'partially_refunded',
        amountCents: 123456789,
        transactionAmountRefundedCents: 1010,
      });
    });

    it('encodes the id into the path', async () => {
      server.enqueue({ status: 200, body: pixPaymentBody() });
      await client().getPayment('12/../34');
      expect(server.requests[0].path).toBe('/v1/payments/12%2F..%2F34');
    });

    it('answers provider_not_found on 404 without retrying', async () => {
      server.enqueue({
        status: 404,
        body: { message: 'Payment not found', error: 'not_found', status: 404 },
      });
      const error = await client()
        .getPayment('999')
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PaymentsError);
      expect(error).toMatchObject({ code: 'provider_not_found', status: 404, retryable: false });
      expect(server.requests).toHaveLength(1);
    });

    it('searches payments by external reference', async () => {
      server.enqueue({
        status: 200,
        body: {
          paging: { total: 2, limit: 30, offset: 0 },
          results: [
            pixPaymentBody({ id: 1 }),
            pixPaymentBody({ id: 2, status: 'cancelled', status_detail: 'expired' }),
          ],
        },
      });
      const payments = await client().searchPayments({ externalReference: 'topup:7b0c&x=1' });
      expect(server.requests[0].method).toBe('GET');
      expect(server.requests[0].path).toBe('/v1/payments/search');
      expect(server.requests[0].query.get('external_reference')).toBe('topup:7b0c&x=1');
      expect(payments.map((p) => [p.id, p.status, p.statusDetail])).toEqual([
        ['1', 'pending', 'pending_waiting_transfer'],
        ['2', 'cancelled', 'expired'],
      ]);
    });
  });

  describe('pre-approvals', () => {
    const input = {
      reason: 'RealApp Pro',
      externalReference: 'tenant:42',
      payerEmail: 'owner@tenant.example',
      backUrl: 'https://app.example/billing',
      amountCents: 19990,
      idempotencyKey: 'idem-sub-42',
    };

    it('creates a pending pre-approval from the plan price', async () => {
      server.enqueue({ status: 201, body: preapprovalBody() });
      const preapproval = await client().createPreapproval(input);
      const [request] = server.requests;
      expect(request.method).toBe('POST');
      expect(request.path).toBe('/preapproval');
      expect(request.headers['x-idempotency-key']).toBe('idem-sub-42');
      expect(JSON.parse(request.body)).toEqual({
        reason: 'RealApp Pro',
        external_reference: 'tenant:42',
        payer_email: 'owner@tenant.example',
        back_url: 'https://app.example/billing',
        auto_recurring: {
          frequency: 1,
          frequency_type: 'months',
          transaction_amount: 199.9,
          currency_id: 'BRL',
        },
        status: 'pending',
      });
      expect(preapproval).toEqual({
        id: '2c9380848e1b2c3d018e1b2c3d4e0001',
        status: 'pending',
        initPoint:
          'https://www.mercadopago.com.br/subscriptions/checkout?preapproval_id=2c9380848e1b2c3d018e1b2c3d4e0001',
        externalReference: 'tenant:42',
        amountCents: 19990,
        nextPaymentDate: new Date('2026-12-24T16:00:00.000Z'),
      });
    });

    it('passes a custom frequency', async () => {
      server.enqueue({ status: 201, body: preapprovalBody() });
      await client().createPreapproval({ ...input, frequency: 7, frequencyType: 'days' });
      expect(JSON.parse(server.requests[0].body)).toMatchObject({
        auto_recurring: { frequency: 7, frequency_type: 'days' },
      });
    });

    it('gets and updates a pre-approval', async () => {
      server.enqueue(
        { status: 200, body: preapprovalBody({ status: 'authorized' }) },
        { status: 200, body: preapprovalBody({ status: 'cancelled' }) },
      );
      expect((await client().getPreapproval('2c93')).status).toBe('authorized');
      expect((await client().updatePreapproval('2c93', { status: 'cancelled' })).status).toBe('cancelled');
      expect(server.requests.map((r) => [r.method, r.path, r.body])).toEqual([
        ['GET', '/preapproval/2c93', ''],
        ['PUT', '/preapproval/2c93', '{"status":"cancelled"}'],
      ]);
    });
  });

  describe('retries', () => {
    it('retries a 500 with the same idempotency key, then succeeds', async () => {
      server.enqueue(
        { status: 500, body: { message: 'internal_error' } },
        { status: 201, body: pixPaymentBody() },
      );
      const payment = await client().createPixPayment(pixInput);
      expect(payment.id).toBe('1325410349');
      expect(server.requests).toHaveLength(2);
      expect(server.requests.map((r) => r.headers['x-idempotency-key'])).toEqual([
        'idem-topup-7b0c',
        'idem-topup-7b0c',
      ]);
      expect(server.requests[0].body).toBe(server.requests[1].body);
      expect(delays).toHaveLength(1);
    });

    it('honours Retry-After on 429', async () => {
      server.enqueue(
        { status: 429, headers: { 'retry-after': '2' }, body: {} },
        { status: 200, body: pixPaymentBody() },
      );
      await client().getPayment('1');
      expect(server.requests).toHaveLength(2);
      expect(delays).toEqual([2000]);
    });

    it('retries 423 (idempotency key locked)', async () => {
      server.enqueue({ status: 423, body: { message: 'locked' } }, { status: 201, body: pixPaymentBody() });
      await client().createPixPayment(pixInput);
      expect(server.requests).toHaveLength(2);
    });

    it('retries a dropped connection', async () => {
      server.enqueue('destroy', { status: 200, body: pixPaymentBody() });
      await client().getPayment('1');
      expect(server.requests).toHaveLength(2);
      expect(warnings[0].obj).toMatchObject({ reason: expect.stringContaining('network error') as unknown });
    });

    it('backs off exponentially with full jitter', async () => {
      server.setDefault(() => ({ status: 503, body: {} }));
      const jittered = client({
        maxRetries: 3,
        retryBaseDelayMs: 100,
        retryMaxDelayMs: 300,
        random: () => 0.5,
      });
      await expect(jittered.getPayment('1')).rejects.toMatchObject({ code: 'provider_unavailable' });
      expect(delays).toEqual([50, 100, 150]);
    });

    it('gives up with provider_unavailable after maxRetries, logging each retry without the token', async () => {
      server.setDefault(() => ({ status: 502, body: {} }));
      const error = await client({ maxRetries: 3 })
        .createPixPayment(pixInput)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PaymentsError);
      expect(error).toMatchObject({
        code: 'provider_unavailable',
        retryable: true,
        status: 502,
        extra: { provider: 'mercadopago', providerStatus: 502 },
      });
      expect(server.requests).toHaveLength(4);
      expect(warnings).toHaveLength(3);
      expect(warnings[0].obj).toMatchObject({
        method: 'POST',
        path: '/v1/payments',
        attempt: 1,
        status: 502,
      });
      expect(JSON.stringify(warnings)).not.toContain(TOKEN);
    });

    it.each([400, 401, 403, 409, 422])('does not retry %i and answers provider_rejected', async (status) => {
      server.enqueue({
        status,
        body: { message: 'payer.email must be a valid email', error: 'bad_request', status, cause: [] },
      });
      const error = await client()
        .createPixPayment(pixInput)
        .catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: 'provider_rejected',
        retryable: false,
        extra: { providerStatus: status, providerMessage: 'payer.email must be a valid email' },
      });
      expect((error as PaymentsError).detail).toContain('payer.email must be a valid email');
      expect(server.requests).toHaveLength(1);
      expect(delays).toHaveLength(0);
    });

    it('reads the message from cause[] when that is all there is', async () => {
      server.enqueue({
        status: 400,
        body: { cause: [{ code: 4020, description: 'notificaction_url invalid' }] },
      });
      await expect(client().createPixPayment(pixInput)).rejects.toMatchObject({
        extra: { providerMessage: 'notificaction_url invalid' },
      });
    });

    it('stops at once when Retry-After exceeds what a request may wait', async () => {
      server.enqueue({ status: 429, headers: { 'retry-after': '120' }, body: {} });
      await expect(client({ maxRetryAfterMs: 30_000 }).getPayment('1')).rejects.toMatchObject({
        code: 'provider_unavailable',
        extra: { retryAfterMs: 120_000 },
      });
      expect(server.requests).toHaveLength(1);
    });

    it('turns a hanging provider into provider_unavailable after the timeout', async () => {
      server.setDefault(() => 'hang');
      const started = Date.now();
      const error = await client({ timeoutMs: 150, maxRetries: 1 })
        .getPayment('1')
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'provider_unavailable', retryable: true });
      expect((error as PaymentsError).detail).toContain('timeout');
      expect(server.requests).toHaveLength(2);
      expect(Date.now() - started).toBeLessThan(2000);
    });

    it('really waits for Retry-After with the default sleep', async () => {
      server.enqueue(
        { status: 429, headers: { 'retry-after': '1' }, body: {} },
        { status: 200, body: pixPaymentBody() },
      );
      const realClient = new MercadoPagoClient({ baseUrl: server.url, accessToken: TOKEN });
      clients.push(realClient);
      const started = Date.now();
      await realClient.getPayment('1');
      expect(Date.now() - started).toBeGreaterThanOrEqual(990);
      expect(server.requests).toHaveLength(2);
    });
  });

  describe('unexpected answers', () => {
    it.each<[string, { status: number; body?: unknown; rawBody?: string }]>([
      ['a non-JSON body', { status: 200, rawBody: '<html>oops</html>' }],
      ['an unknown status', { status: 200, body: pixPaymentBody({ status: 'teleported' }) }],
      ['no id', { status: 200, body: pixPaymentBody({ id: undefined }) }],
      [
        'an id past 2^53',
        {
          status: 200,
          rawBody: JSON.stringify(pixPaymentBody()).replace('1325410349', '12345678901234567890'),
        },
      ],
      ['a sub-cent amount', { status: 200, body: pixPaymentBody({ transaction_amount: 10.005 }) }],
      ['an amount that is not a number', { status: 200, body: pixPaymentBody({ transaction_amount: true }) }],
      ['a bad date', { status: 200, body: pixPaymentBody({ date_of_expiration: 'tomorrow' }) }],
    ])('refuses %s as provider_invalid_response', async (_label, response) => {
      server.enqueue(response);
      await expect(client().getPayment('1')).rejects.toMatchObject({
        code: 'provider_invalid_response',
        retryable: false,
      });
      expect(server.requests).toHaveLength(1);
    });

    it('accepts an amount sent as a decimal string', async () => {
      server.enqueue({ status: 200, body: pixPaymentBody({ transaction_amount: '30.10' }) });
      expect((await client().getPayment('1')).amountCents).toBe(3010);
    });
  });

  it('keeps a base URL path prefix and drops a trailing slash', async () => {
    server.enqueue({ status: 200, body: pixPaymentBody() });
    const prefixed = new MercadoPagoClient({ baseUrl: `${server.url}/mp/`, accessToken: TOKEN });
    clients.push(prefixed);
    await prefixed.getPayment('1');
    expect(server.requests[0].path).toBe('/mp/v1/payments/1');
  });

  describe('transport', () => {
    let raw: Awaited<ReturnType<typeof startConnectionCountingServer>> | undefined;

    afterEach(async () => {
      await raw?.close();
      raw = undefined;
    });

    it('looks payments up over one kept-alive connection', async () => {
      raw = await startConnectionCountingServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(pixPaymentBody()));
      });
      const mp = client({ baseUrl: raw.url });
      for (const id of ['1', '2', '3']) await mp.getPayment(id);
      expect(raw.connections).toHaveLength(1);
    });

    it('turns a body that stalls midway into a retryable timeout', async () => {
      raw = await startConnectionCountingServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '4096' });
        res.write(JSON.stringify(pixPaymentBody()).slice(0, 40));
      });
      const started = Date.now();
      const error = await client({ baseUrl: raw.url, timeoutMs: 150, maxRetries: 1 })
        .getPayment('1')
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PaymentsError);
      expect(error).toMatchObject({ code: 'provider_unavailable', retryable: true });
      expect((error as PaymentsError).detail).toBe(
        'Mercado Pago is unavailable (timeout after 150 ms) after 2 attempt(s).',
      );
      expect(warnings.map((w) => w.obj)).toEqual([
        expect.objectContaining({ reason: 'timeout after 150 ms', attempt: 1 }),
      ]);
      // A connection that timed out is not handed to the retry.
      expect(raw.connections).toHaveLength(2);
      expect(Date.now() - started).toBeLessThan(2000);
    });

    it('turns a refused connection into a retryable network error naming ECONNREFUSED', async () => {
      raw = await startConnectionCountingServer(() => undefined);
      const refusedUrl = raw.url;
      await raw.close();
      raw = undefined;
      const error = await client({ baseUrl: refusedUrl, maxRetries: 2 })
        .getPayment('1')
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'provider_unavailable', retryable: true });
      expect((error as PaymentsError).detail).toMatch(
        /^Mercado Pago is unavailable \(network error: connect ECONNREFUSED 127\.0\.0\.1:\d+\) after 3 attempt\(s\)\.$/,
      );
      expect(warnings).toHaveLength(2);
      expect(delays).toHaveLength(2);
    });

    it('names the code of a dropped connection', async () => {
      server.enqueue('destroy', { status: 200, body: pixPaymentBody() });
      await client().getPayment('1');
      expect(warnings[0].obj).toMatchObject({ reason: 'network error ECONNRESET: socket hang up' });
    });

    it('reads a large payment whole', async () => {
      const qrCodeBase64 = Buffer.alloc(3_000_000, 7).toString('base64');
      server.enqueue({
        status: 200,
        body: pixPaymentBody({
          description: 'Saldo de tráfego — março',
          point_of_interaction: {
            type: 'PIX',
            transaction_data: { qr_code: 'x', qr_code_base64: qrCodeBase64 },
          },
        }),
      });
      const payment = await client().getPayment('1');
      expect(payment.qrCodeBase64).toHaveLength(qrCodeBase64.length);
      expect(payment.qrCodeBase64).toBe(qrCodeBase64);
    });

    it('closes its connections at application shutdown', async () => {
      raw = await startConnectionCountingServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(pixPaymentBody()));
      });
      const mp = client({ baseUrl: raw.url });
      await mp.getPayment('1');
      const [socket] = raw.connections;
      expect(socket.destroyed).toBe(false);
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      mp.onApplicationShutdown();
      await closed;
      expect(socket.destroyed).toBe(true);
    });
  });
});

describe('formatMercadoPagoDate', () => {
  it.each([
    ['2026-11-25T10:00:00Z', '2026-11-25T10:00:00.000-00:00'],
    ['2026-11-25T07:00:00.123-03:00', '2026-11-25T10:00:00.123-00:00'],
  ])('%s → %s', (input, expected) => {
    expect(formatMercadoPagoDate(new Date(input))).toBe(expected);
  });

  it('refuses an invalid date', () => {
    expect(() => formatMercadoPagoDate(new Date('nope'))).toThrow(RangeError);
  });
});

describe('MercadoPagoClient construction', () => {
  it('refuses a missing token or a malformed base URL', () => {
    expect(() => new MercadoPagoClient({ baseUrl: 'http://127.0.0.1:3090', accessToken: '' })).toThrow(
      'accessToken',
    );
    expect(() => new MercadoPagoClient({ baseUrl: 'not a url', accessToken: 't' })).toThrow('not a URL');
  });

  it('refuses a POST without an idempotency key before any request', async () => {
    const client = new MercadoPagoClient({ baseUrl: 'http://127.0.0.1:9', accessToken: 't' });
    await expect(client.createPixPayment({ ...pixInput, idempotencyKey: '' })).rejects.toThrow(
      'idempotency key',
    );
  });
});
