import { readFileSync } from 'node:fs';
import http, { IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import {
  freePort,
  MERGED_OPENAPI,
  NginxGateway,
  startNginxGateway,
} from './support/nginx-gateway.test-helper';
import {
  Recorder,
  sha256,
  startRecorder,
  startSilentUpstream,
} from './support/upstream-recorder.test-helper';

/*
 * The nginx gateway itself (deploy/gateway, SPEC §15) in front of stand-in services that record the exact
 * bytes they receive: routing, headers, body limits and the gateway's own problem+json errors. The real
 * services behind it are exercised by platform.int-spec.ts.
 */

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

/** node:http sends the request target exactly as given (fetch would normalise it). */
function raw(
  base: string,
  method: string,
  target: string,
  options: { headers?: Record<string, string>; body?: Buffer | string; chunks?: Buffer[] } = {},
): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: hostname, port, method, path: target, headers: options.headers, agent: false },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const body = Buffer.concat(chunks);
          const text = body.toString('utf8');
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body,
            text,
            json: () => JSON.parse(text),
          });
        });
      },
    );
    request.on('error', reject);
    if (options.chunks) {
      for (const chunk of options.chunks) request.write(chunk);
      request.end();
    } else {
      request.end(options.body);
    }
  });
}

/** Bytes nginx must parse itself (a request node:http would refuse to send); resolves with the raw answer. */
function rawSocket(base: string, bytes: string): Promise<{ status: number; headers: string; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head, ...rest] = text.split('\r\n\r\n');
      resolve({
        status: Number(head.split(' ')[1]),
        headers: head.toLowerCase(),
        body: rest.join('\r\n\r\n'),
      });
    });
    socket.end(bytes);
  });
}

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The gateway's own error: problem+json with the SPEC §3 members, the correlation id in body and header. */
function expectGatewayProblem(response: RawResponse, status: number, code: string): void {
  expect(response.status).toBe(status);
  expect(response.headers['content-type']).toBe('application/problem+json');
  expect(response.text).not.toMatch(/<html|<body|nginx/i);
  const body = response.json();
  expect(body).toEqual({
    type: `https://docs.realapp.dev/problems/${code.replace(/_/g, '-')}`,
    title: expect.any(String),
    status,
    detail: expect.any(String),
    code,
    correlationId: response.headers['x-correlation-id'],
  });
  expect(body.correlationId).toMatch(UUID_V4);
}

describe('API gateway (nginx, deploy/gateway)', () => {
  let auth: Recorder;
  let queue: Recorder;
  let webhooks: Recorder;
  let gateway: NginxGateway;

  beforeAll(async () => {
    [auth, queue, webhooks] = await Promise.all([
      startRecorder('auth-api'),
      startRecorder('queue-api'),
      startRecorder('webhook-gateway'),
    ]);
    gateway = await startNginxGateway({
      authApi: auth.address,
      queueApi: queue.address,
      webhookGateway: webhooks.address,
    });
  });

  afterAll(async () => {
    await gateway?.stop();
    await Promise.all([auth, queue, webhooks].filter(Boolean).map((recorder) => recorder.close()));
  });

  const lastRequest = (recorder: Recorder) => recorder.requests[recorder.requests.length - 1];

  describe('routing (SPEC §15)', () => {
    it.each([
      ['/v1/auth/login', 'auth-api'],
      ['/v1/auth/invites/accept', 'auth-api'],
      ['/v1/super/tenants?limit=5', 'auth-api'],
      ['/.well-known/jwks.json', 'auth-api'],
      ['/v1/billing/wallet', 'queue-api'],
      ['/v1/billing/topups/7a3e/../7a3e', 'queue-api'],
      ['/v1/ads/orders/123/pause', 'queue-api'],
      ['/v1/whatsapp/flows/real_estate', 'queue-api'],
      ['/v1/ops/dead-letters', 'queue-api'],
      ['/v1/ops/metrics', 'queue-api'],
      ['/status', 'queue-api'],
      ['/status/', 'queue-api'],
      ['/v1/ops/webhook-events', 'webhook-gateway'],
      ['/v1/ops/webhook-events?status=dead&provider=stripe', 'webhook-gateway'],
      ['/v1/ops/webhook-events/0f4c/replay', 'webhook-gateway'],
      ['/v1/webhooks/mercadopago?data.id=123456&type=payment', 'webhook-gateway'],
      ['/v1/webhooks/meta?hub.mode=subscribe&hub.verify_token=t%2Fo+k&hub.challenge=42', 'webhook-gateway'],
    ])('%s → %s, request target forwarded verbatim', async (target, service) => {
      const response = await raw(gateway.url, 'GET', target);
      expect(response.status).toBe(200);
      expect(response.json()).toMatchObject({ upstream: service, target });
    });

    it.each([
      '/',
      '/health',
      '/health/readiness',
      '/metrics',
      '/docs',
      '/v1',
      '/v1/auth',
      '/v1/super',
      '/.well-known',
      '/v1/billing',
      '/v1/ads',
      '/v1/whatsapp',
      '/v1/ops',
      '/v1/webhooks',
      '/v1/unknown/thing',
      '/v2/auth/login',
      '/statusx',
      '/V1/AUTH/login',
      '/v1/billing/../../metrics',
      '/.env',
      '/index.html',
      '/_gateway/errors/bad-gateway',
    ])('%s is not routed: 404 problem+json from the gateway', async (target) => {
      const before = auth.requests.length + queue.requests.length + webhooks.requests.length;
      const response = await raw(gateway.url, 'GET', target);
      expectGatewayProblem(response, 404, 'not_found');
      expect(auth.requests.length + queue.requests.length + webhooks.requests.length).toBe(before);
    });

    it('passes a service’s own error answer through untouched', async () => {
      const response = await raw(gateway.url, 'GET', '/v1/ads/orders/own-problem', {
        headers: { 'x-correlation-id': 'own-1' },
      });
      expect(response.status).toBe(404);
      expect(response.headers['content-type']).toBe('application/problem+json');
      expect(response.json()).toMatchObject({ detail: 'queue-api says no', correlationId: 'own-1' });
    });
  });

  describe('X-Correlation-Id and X-Forwarded-*', () => {
    it('passes a valid correlation id through, and answers it once', async () => {
      const response = await raw(gateway.url, 'GET', '/v1/billing/wallet', {
        headers: { 'X-Correlation-Id': 'app-req:42.a_b-c' },
      });
      expect(lastRequest(queue).headers['x-correlation-id']).toBe('app-req:42.a_b-c');
      expect(response.headers['x-correlation-id']).toBe('app-req:42.a_b-c');
      expect(response.headers['x-correlation-id']).not.toContain(',');
    });

    it.each([
      ['absent', undefined],
      ['with a space', 'bad id'],
      ['too long', 'a'.repeat(129)],
      ['with a slash', 'a/b'],
    ])('creates a UUID when the id is %s, and the service sees the same one', async (_, sent) => {
      const response = await raw(gateway.url, 'GET', '/v1/ads/orders', {
        headers: sent === undefined ? {} : { 'x-correlation-id': sent },
      });
      const created = response.headers['x-correlation-id'];
      expect(created).toMatch(UUID_V4);
      expect(lastRequest(queue).headers['x-correlation-id']).toBe(created);
    });

    it('makes a different id for every request', async () => {
      const ids = await Promise.all(
        Array.from({ length: 20 }, () =>
          raw(gateway.url, 'GET', '/v1/auth/me').then((r) => r.headers['x-correlation-id']),
        ),
      );
      expect(new Set(ids).size).toBe(20);
    });

    it('sets X-Forwarded-For (replacing a forged one), -Proto and -Host', async () => {
      await raw(gateway.url, 'GET', '/v1/auth/me', {
        headers: { 'X-Forwarded-For': '6.6.6.6', 'X-Forwarded-Proto': 'https' },
      });
      const seen = lastRequest(auth).headers;
      expect(seen['x-forwarded-for']).toBe('127.0.0.1');
      expect(seen['x-forwarded-proto']).toBe('http');
      expect(seen['x-forwarded-host']).toBe(`127.0.0.1:${gateway.port}`);
    });
  });

  describe('request bytes', () => {
    // Meta serialises non-ASCII as \uXXXX and "/" as "\/"; a provider may send any whitespace. A signature
    // covers these exact bytes, so one changed byte would make a valid webhook fail.
    const bodies: Array<[string, Buffer]> = [
      [
        '\\u-escaped JSON',
        Buffer.from(
          '{"entry":[{"changes":[{"value":{"text":"Ol\\u00e1, S\\u00e3o Paulo \\ud83d\\ude00","url":"https:\\/\\/x"}}]}]}',
        ),
      ],
      ['odd whitespace', Buffer.from('{ "id" :\t"evt_1" ,\r\n\n   "type":"x"   ,"data" : { }\n}   \n\n')],
      ['raw UTF-8', Buffer.from('{"name":"Conceição — 🚀"}', 'utf8')],
      ['bytes that are not UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x00, 0x22, 0x7d])],
    ];

    it.each(bodies)('forwards a body with %s unchanged', async (_, body) => {
      const response = await raw(gateway.url, 'POST', '/v1/webhooks/meta', {
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': 'sha256=abc' },
        body,
      });
      expect(response.json()).toMatchObject({
        upstream: 'webhook-gateway',
        bodySha256: sha256(body),
        bodyLength: body.length,
      });
      const seen = lastRequest(webhooks);
      expect(seen.body.equals(body)).toBe(true);
      expect(seen.headers['content-type']).toBe('application/json');
      expect(seen.headers['x-hub-signature-256']).toBe('sha256=abc');
    });

    it('forwards a chunked body as the same bytes', async () => {
      const chunks = [Buffer.from('{"a":'), Buffer.from(' "\\u00e9"'), Buffer.from(' }\n')];
      const response = await raw(gateway.url, 'POST', '/v1/webhooks/stripe', {
        headers: { 'content-type': 'application/json' },
        chunks,
      });
      expect(response.json()).toMatchObject({ bodySha256: sha256(Buffer.concat(chunks)) });
      expect(lastRequest(webhooks).body.equals(Buffer.concat(chunks))).toBe(true);
    });

    it('accepts a body of exactly 1 MB', async () => {
      const body = Buffer.alloc(1024 * 1024, 0x61);
      const response = await raw(gateway.url, 'POST', '/v1/billing/topups/pix', {
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(response.status).toBe(200);
      expect(response.json()).toMatchObject({ bodyLength: body.length, bodySha256: sha256(body) });
    });

    it.each([
      ['1 MB + 1 byte', 1024 * 1024 + 1],
      ['2 MB', 2 * 1024 * 1024],
    ])('refuses %s with a problem+json 413, before any service sees it', async (_, size) => {
      const before = queue.requests.length;
      const response = await raw(gateway.url, 'POST', '/v1/billing/topups/pix', {
        headers: { 'content-type': 'application/json' },
        body: Buffer.alloc(size, 0x61),
      });
      expectGatewayProblem(response, 413, 'payload_too_large');
      expect(queue.requests.length).toBe(before);
    });

    it('refuses a chunked body over 1 MB with a problem+json 413', async () => {
      const response = await raw(gateway.url, 'POST', '/v1/ads/orders', {
        headers: { 'content-type': 'application/json' },
        chunks: Array.from({ length: 5 }, () => Buffer.alloc(256 * 1024, 0x62)),
      });
      expectGatewayProblem(response, 413, 'payload_too_large');
    });
  });

  describe('requests nginx cannot parse', () => {
    it.each([
      ['a garbled request line', 'NOT A REQUEST\r\n\r\n', 400, 'bad_request'],
      [
        'a request line over 8 KB',
        `GET /v1/auth/${'a'.repeat(9000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
        414,
        'uri_too_long',
      ],
      [
        'a header over 8 KB',
        `GET /v1/auth/me HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(9000)}\r\nConnection: close\r\n\r\n`,
        431,
        'request_header_too_large',
      ],
      ['HTTP/1.1 without Host', 'GET /v1/auth/me HTTP/1.1\r\nConnection: close\r\n\r\n', 400, 'bad_request'],
    ])('answers %s with problem+json', async (_, bytes, status, code) => {
      const response = await rawSocket(gateway.url, bytes);
      expect(response.status).toBe(status);
      expect(response.headers).toContain('content-type: application/problem+json');
      expect(response.body).not.toMatch(/<html/i);
      expect(JSON.parse(response.body)).toMatchObject({
        status,
        code,
        correlationId: expect.stringMatching(UUID_V4),
      });
    });
  });

  describe('GET /docs-json', () => {
    it('serves the merged OpenAPI document of the public services', async () => {
      const response = await raw(gateway.url, 'GET', '/docs-json');
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toBe('application/json');
      expect(response.body.equals(readFileSync(MERGED_OPENAPI))).toBe(true);
      expect(response.headers['x-correlation-id']).toMatch(UUID_V4);
    });

    it('refuses other methods with a problem+json 405', async () => {
      expectGatewayProblem(
        await raw(gateway.url, 'POST', '/docs-json', { body: '{}' }),
        405,
        'method_not_allowed',
      );
    });
  });

  describe('when a service is down or hung', () => {
    let broken: NginxGateway;
    let silent: Awaited<ReturnType<typeof startSilentUpstream>>;

    beforeAll(async () => {
      silent = await startSilentUpstream();
      // queue-api hangs; webhook-gateway is not running at all (nothing listens on its port).
      broken = await startNginxGateway(
        { authApi: auth.address, queueApi: silent.address, webhookGateway: `127.0.0.1:${await freePort()}` },
        { proxyTimeout: '1s' },
      );
    });

    afterAll(async () => {
      await broken?.stop();
      await silent?.close();
    });

    it('answers 502 problem+json, not an HTML page, when nothing listens', async () => {
      const response = await raw(broken.url, 'POST', '/v1/webhooks/stripe', {
        headers: { 'x-correlation-id': 'down-1' },
        body: '{}',
      });
      expect(response.status).toBe(502);
      expect(response.headers['content-type']).toBe('application/problem+json');
      expect(response.json()).toMatchObject({ status: 502, code: 'bad_gateway', correlationId: 'down-1' });
      expect(response.text).not.toMatch(/<html/i);
    });

    it('answers 504 problem+json when the service does not answer in time', async () => {
      expectGatewayProblem(await raw(broken.url, 'GET', '/v1/billing/wallet'), 504, 'gateway_timeout');
    });

    it('keeps routing the other services', async () => {
      const response = await raw(broken.url, 'GET', '/v1/auth/me');
      expect(response.json()).toMatchObject({ upstream: 'auth-api' });
    });
  });

  it('logs one JSON line per request with its correlation id and never the query string', async () => {
    await raw(gateway.url, 'GET', '/v1/webhooks/meta?hub.verify_token=secret-token', {
      headers: { 'x-correlation-id': 'log-check-1' },
    });
    const line = gateway.accessLog().find((entry) => entry.correlationId === 'log-check-1');
    expect(line).toMatchObject({
      service: 'api-gateway',
      method: 'GET',
      path: '/v1/webhooks/meta',
      status: 200,
    });
    expect(JSON.stringify(gateway.accessLog())).not.toContain('secret-token');
  });
});
