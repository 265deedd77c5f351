import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { verifyMercadoPagoSignature } from '@realapp/payments';
import { DEFAULT_SANDBOX_URL, DEV_MERCADO_PAGO_WEBHOOK_SECRET, parseArgs, UsageError } from './args';
import { mercadoPagoPaymentNotification } from './mercadopago-notification';
import { runPostcheck } from './postcheck';

describe('postcheck arguments', () => {
  it('needs only --base-url and derives the rest from it', () => {
    expect(parseArgs(['--base-url', 'http://localhost:8080/'])).toEqual({
      baseUrl: 'http://localhost:8080',
      authUrl: 'http://localhost:8080',
      webhookUrl: 'http://localhost:8080',
      sandboxUrl: DEFAULT_SANDBOX_URL,
      mercadoPagoWebhookSecret: DEV_MERCADO_PAGO_WEBHOOK_SECRET,
      topupCents: 3000,
      timeoutMs: 60000,
      verbose: false,
    });
  });

  it('takes every service separately, in both --flag value and --flag=value forms', () => {
    const options = parseArgs(
      [
        '--base-url=http://queue:3002',
        '--auth-url',
        'http://auth:3001',
        '--webhook-url=https://hooks.example.com',
        '--sandbox-url',
        'http://sandbox:3090',
        '--mercadopago-webhook-secret',
        'new-secret,old-secret',
        '--topup-cents=9000',
        '--timeout-ms',
        '5000',
        '--verbose',
      ],
      {},
    );
    expect(options).toEqual({
      baseUrl: 'http://queue:3002',
      authUrl: 'http://auth:3001',
      webhookUrl: 'https://hooks.example.com',
      sandboxUrl: 'http://sandbox:3090',
      mercadoPagoWebhookSecret: 'new-secret',
      topupCents: 9000,
      timeoutMs: 5000,
      verbose: true,
    });
  });

  it('reads the webhook secret and the sandbox from the environment when no flag names them', () => {
    const options = parseArgs(['--base-url', 'http://x'], {
      MERCADO_PAGO_WEBHOOK_SECRET: 'from-env',
      SANDBOX_URL: 'http://sandbox.internal:3090',
    });
    expect(options).toMatchObject({
      mercadoPagoWebhookSecret: 'from-env',
      sandboxUrl: 'http://sandbox.internal:3090',
    });
  });

  it('answers --help with null', () => {
    expect(parseArgs(['--base-url', 'http://x', '--help'])).toBeNull();
  });

  it.each([
    [[], '--base-url is required'],
    [['--base-url'], '--base-url needs a value'],
    [['--base-url', '--verbose'], '--base-url needs a value'],
    [['--base-url', 'localhost:3002'], '--base-url must be an http(s) URL'],
    [['--base-url', 'ftp://x'], '--base-url must be an http(s) URL'],
    [['--base-url', 'http://x', '--topup-cents', '2999'], '--topup-cents must be an integer from 3000'],
    [['--base-url', 'http://x', '--topup-cents', '30.5'], '--topup-cents must be an integer'],
    [['--base-url', 'http://x', '--timeout-ms', '10'], '--timeout-ms must be an integer'],
    [['--base-url', 'http://x', '--bogus', '1'], 'unknown option --bogus'],
    [['--base-url', 'http://x', '--mercadopago-webhook-secret='], 'must not be empty'],
  ])('refuses %j', (argv, message) => {
    expect(() => parseArgs(argv, {})).toThrow(UsageError);
    expect(() => parseArgs(argv, {})).toThrow(message);
  });
});

describe('the simulated Mercado Pago notification', () => {
  it('is signed so that the gateway’s verifier accepts it, and nothing else', () => {
    const notification = mercadoPagoPaymentNotification({
      paymentId: '123456789',
      notificationId: 42,
      requestId: 'req-1',
      secret: 'shh',
    });
    expect(notification.path).toBe('/v1/webhooks/mercadopago?data.id=123456789&type=payment');
    expect(JSON.parse(notification.body)).toMatchObject({
      id: 42,
      type: 'payment',
      action: 'payment.updated',
      data: { id: '123456789' },
    });
    expect(notification.headers['x-request-id']).toBe('req-1');
    expect(notification.headers['x-signature']).toMatch(/^ts=\d+,v1=[0-9a-f]{64}$/);

    const verify = (overrides: { secrets?: string[]; dataId?: string; xRequestId?: string }) =>
      verifyMercadoPagoSignature({
        xSignature: notification.headers['x-signature'],
        xRequestId: overrides.xRequestId ?? notification.headers['x-request-id'],
        dataId: overrides.dataId ?? '123456789',
        secrets: overrides.secrets ?? ['shh'],
      });
    expect(verify({})).toMatchObject({ ok: true, matchedSecretIndex: 0 });
    // A rotation: the gateway knows two secrets, the postcheck signs with one of them.
    expect(verify({ secrets: ['other', 'shh'] })).toMatchObject({ ok: true, matchedSecretIndex: 1 });
    expect(verify({ secrets: ['wrong'] }).ok).toBe(false);
    expect(verify({ dataId: '999' }).ok).toBe(false);
    expect(verify({ xRequestId: 'req-2' }).ok).toBe(false);
  });

  it('signs the timestamp it is given, so a replayed duplicate is byte-identical', () => {
    const a = mercadoPagoPaymentNotification({
      paymentId: '1',
      notificationId: 7,
      requestId: 'r',
      secret: 's',
      ts: 1_700_000_000,
      now: new Date(0),
    });
    const b = mercadoPagoPaymentNotification({
      paymentId: '1',
      notificationId: 7,
      requestId: 'r',
      secret: 's',
      ts: 1_700_000_000,
      now: new Date(0),
    });
    expect(a).toEqual(b);
    expect(a.headers['x-signature'].startsWith('ts=1700000000,v1=')).toBe(true);
  });
});

describe('runPostcheck', () => {
  let server: Server;
  let url: string;

  beforeAll(async () => {
    // A deployment whose auth-api is broken: every call answers 503.
    server = createServer((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ status: 503, code: 'service_unavailable' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('reports every check as failed (✗) when the deployment cannot even sign a tenant up', async () => {
    const lines: string[] = [];
    const report = await runPostcheck(
      {
        baseUrl: url,
        authUrl: url,
        webhookUrl: url,
        sandboxUrl: url,
        mercadoPagoWebhookSecret: 'x',
        topupCents: 3000,
        timeoutMs: 1000,
        verbose: false,
      },
      (line) => lines.push(line),
    );
    expect(report).toMatchObject({ ok: false, passed: 0, failed: 5, tenantId: null });
    const text = lines.join('\n');
    expect(text).toContain('▶ 0. A fresh tenant signs up for the check');
    expect(text).toContain('✗ POST /v1/auth/signup: expected 201 with tokens, got HTTP 503');
    for (const n of [1, 2, 3, 4, 5]) expect(text).toMatch(new RegExp(`▶ ${n}\\. [^\\n]+\\n  ✗ skipped`));
    expect(lines[lines.length - 1]).toMatch(/^✗ 5 of 5 checks failed \(0 passed\).*postcheck-[0-9a-f]{8}$/);
  });
});
