import { Controller, DynamicModule, Get, Req } from '@nestjs/common';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';
import { createServer, request as httpRequest, Agent, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { createTestDatabase, expectEventually, testEnv, TestDatabase } from '@realapp/testing';
import { BaseConfig } from '../config/base.config';
import { loadConfig } from '../config/config.loader';
import { currentCorrelationId } from '../context/request-context';
import { incidentFingerprint } from '../incidents/incident-rules';
import { IncidentsModule } from '../incidents/incidents.module';
import { AppError } from './app-error';
import { BareRequest, BareRouter } from './bare-routes';
import { BODY_LIMIT_BYTES, createHttpApp } from './bootstrap';
import { probeModule } from './probe-module.test-helper';

@Controller('probe')
class ProbeController {
  @Get('fastify')
  fastify(): { via: string } {
    return { via: 'fastify' };
  }

  @Get('ip')
  ip(@Req() request: FastifyRequest): { ip: string } {
    return { ip: request.ip };
  }
}

const bareProbe = (config: BaseConfig): DynamicModule =>
  probeModule('bare-probe', config, [ProbeController], [
    IncidentsModule.forRoot({ service: 'bare-probe', reportIntervalMs: 60_000 }),
  ]);

interface Seen {
  request: BareRequest;
  correlationId: string | undefined;
}

jest.setTimeout(60_000);

describe('bare routes: served by node:http before Fastify, answered as the platform answers', () => {
  let db: TestDatabase;
  let app: NestFastifyApplication;
  let url: string;
  const seen: Seen[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    const env = testEnv(db.url);
    const config = loadConfig('bare-probe', BaseConfig, env);
    app = await createHttpApp(bareProbe(config), {
      service: 'bare-probe',
      config,
      title: 'bare-probe',
      description: 'bare-probe',
      bareRoutes: () => [
        {
          path: '/probe/bare',
          async handle(request) {
            // A turn of the event loop first: the context must survive it, as it must a database round trip.
            await new Promise((resolve) => setImmediate(resolve));
            seen.push({ request, correlationId: currentCorrelationId() });
            const text = request.body.toString('utf8');
            if (text === 'conflict') throw new AppError('probe_conflict', 409, 'The probe refused it.');
            if (text === 'crash') throw new Error('the bare probe exploded');
            return { received: true, bytes: request.body.length };
          },
        },
      ],
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = await app.getUrl();
  });

  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('serves the route without Fastify, with the headers, correlation id and exact bytes every answer has', async () => {
    const body = Buffer.from('{"id": 1,\n "x":"é"}');
    const res = await fetch(`${url}/probe/bare?data.id=ABC&type=payment&type=again`, {
      method: 'POST',
      headers: { 'x-correlation-id': 'bare-1', 'x-forwarded-for': '203.0.113.7, 10.0.0.1' },
      body,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await res.json()).toEqual({ received: true, bytes: body.length });
    expect(res.headers.get('x-correlation-id')).toBe('bare-1');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('x-powered-by')).toBeNull();

    const last = seen[seen.length - 1];
    expect(last.correlationId).toBe('bare-1');
    expect(Buffer.compare(last.request.body, body)).toBe(0);
    expect({ ...last.request.query }).toEqual({ 'data.id': 'ABC', type: ['payment', 'again'] });
    // TRUST_PROXY is on by default: the furthest address the proxies report, as Fastify reads it.
    expect(last.request.ip).toBe('203.0.113.7');
  });

  it('hands a request with an Origin, another method or another path to Fastify', async () => {
    const before = seen.length;
    // No Fastify route has this path: a 404 from Fastify proves the bare router stood aside.
    const withOrigin = await fetch(`${url}/probe/bare`, {
      method: 'POST',
      headers: { origin: 'https://app.example' },
      body: '{}',
    });
    expect(withOrigin.status).toBe(404);
    expect(withOrigin.headers.get('content-type')).toContain('application/problem+json');
    expect((await fetch(`${url}/probe/bare`)).status).toBe(404);
    expect(await (await fetch(`${url}/probe/fastify`)).json()).toEqual({ via: 'fastify' });
    expect(seen.length).toBe(before);
  });

  it('refuses a body over 1 MB with a 413, declared or streamed, and the connection serves the next request', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const post = (body: Buffer, chunked: boolean): Promise<{ status: number; text: string; port: number }> =>
      new Promise((resolve, reject) => {
        const req = httpRequest(
          `${url}/probe/bare`,
          { method: 'POST', agent, headers: chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': body.length } },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (text += chunk));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text, port: res.socket?.localPort ?? 0 }));
          },
        );
        req.on('error', reject);
        if (chunked) {
          for (let i = 0; i < body.length; i += 64 * 1024) req.write(body.subarray(i, i + 64 * 1024));
          req.end();
        } else {
          req.end(body);
        }
      });
    try {
      const big = Buffer.alloc(BODY_LIMIT_BYTES + 1, 0x20);
      for (const chunked of [false, true]) {
        const refused = await post(big, chunked);
        expect(refused.status).toBe(413);
        expect(JSON.parse(refused.text)).toMatchObject({ status: 413, code: 'payload_too_large' });
        const next = await post(Buffer.from('{}'), false);
        expect(next.status).toBe(200);
      }
      const atLimit = await post(Buffer.alloc(BODY_LIMIT_BYTES, 0x20), true);
      expect(atLimit.status).toBe(200);
      expect(JSON.parse(atLimit.text)).toEqual({ received: true, bytes: BODY_LIMIT_BYTES });
    } finally {
      agent.destroy();
    }
  });

  it('renders errors as problem+json, counts them in the metrics, and a 5xx reaches the incident tracker', async () => {
    const conflict = await fetch(`${url}/probe/bare`, {
      method: 'POST',
      headers: { 'x-correlation-id': 'bare-409' },
      body: 'conflict',
    });
    expect(conflict.status).toBe(409);
    expect(conflict.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    expect(conflict.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await conflict.json()).toMatchObject({
      status: 409,
      code: 'probe_conflict',
      detail: 'The probe refused it.',
      correlationId: 'bare-409',
    });

    const crash = await fetch(`${url}/probe/bare`, { method: 'POST', body: 'crash' });
    expect(crash.status).toBe(500);
    const problem = (await crash.json()) as { code: string; detail: string; correlationId: string };
    expect(problem.code).toBe('internal_error');
    expect(problem.detail).not.toContain('exploded');
    expect(problem.correlationId).toBe(crash.headers.get('x-correlation-id'));

    const fingerprint = incidentFingerprint('internal_error', 'POST /probe/bare');
    const dataSource = app.get(DataSource);
    await expectEventually(async () => {
      const rows = (await dataSource.query(
        `SELECT correlation_id FROM ops.incident_occurrences WHERE fingerprint = $1`,
        [fingerprint],
      )) as Array<{ correlation_id: string }>;
      expect(rows.map((row) => row.correlation_id)).toEqual([problem.correlationId]);
    });

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/http_request_duration_seconds_count\{method="POST",route="\/probe\/bare",status="200"\} [1-9]/);
    expect(metrics).toMatch(/http_request_duration_seconds_count\{method="POST",route="\/probe\/bare",status="409"\} 1\b/);
    expect(metrics).toMatch(/http_request_duration_seconds_count\{method="POST",route="\/probe\/bare",status="500"\} 1\b/);
  });
});

describe('BareRouter on a plain node:http server', () => {
  let server: Server;
  let url: string;
  const router = new BareRouter();
  const responded: Array<[string, number]> = [];

  beforeAll(async () => {
    router.bind([{ path: '/bare', handle: () => Promise.resolve({ ok: true }) }], {
      securityHeaders: { set: [['X-Probe', 'yes']], removed: [] },
      bodyLimitBytes: 16,
      trustProxy: false,
      responded: (_method, route, status) => responded.push([route, status]),
      observedMark: {},
    });
    server = createServer((req, res) => {
      if (!router.dispatch(req, res)) {
        res.writeHead(418);
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('answers with the hooks it was given, refuses past its limit, and 503 once closing', async () => {
    const ok = await fetch(`${url}/bare`, { method: 'POST', body: '{}' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-probe')).toBe('yes');
    expect((await fetch(`${url}/bare`, { method: 'POST', body: 'x'.repeat(17) })).status).toBe(413);
    expect((await fetch(`${url}/other`, { method: 'POST', body: '{}' })).status).toBe(418);

    router.close();
    const closing = await fetch(`${url}/bare`, { method: 'POST', body: '{}' });
    expect(closing.status).toBe(503);
    expect(closing.headers.get('connection')).toBe('close');
    expect(await closing.json()).toMatchObject({ code: 'service_unavailable' });
    await expectEventually(() => expect(responded).toEqual([['/bare', 200], ['/bare', 413], ['/bare', 503]]));
  });
});

describe('TRUST_PROXY: the bare routes read the caller as Fastify does', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  // From 127.0.0.1 through two proxies' worth of X-Forwarded-For: the client wrote the first entry.
  it.each([
    ['true', '203.0.113.7'],
    ['false', '127.0.0.1'],
    ['0', '127.0.0.1'],
    ['1', '10.0.0.1'],
    ['2', '203.0.113.7'],
    ['5', '203.0.113.7'],
  ])('TRUST_PROXY=%s reads %s on both paths', async (trustProxy, expected) => {
    const config = loadConfig('bare-probe', BaseConfig, testEnv(db.url, { TRUST_PROXY: trustProxy }));
    const app = await createHttpApp(bareProbe(config), {
      service: 'bare-probe',
      config,
      title: 'bare-probe',
      description: 'bare-probe',
      bareRoutes: () => [{ path: '/probe/bare', handle: (request) => Promise.resolve({ ip: request.ip }) }],
    });
    try {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const url = await app.getUrl();
      const headers = { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' };
      const viaFastify = await fetch(`${url}/probe/ip`, { headers });
      const viaBare = await fetch(`${url}/probe/bare`, { method: 'POST', headers, body: '{}' });
      expect(await viaFastify.json()).toEqual({ ip: expected });
      expect(await viaBare.json()).toEqual({ ip: expected });
    } finally {
      await app.close();
    }
  });

  it('refuses anything but a boolean or a hop count up to 10', () => {
    for (const bad of ['yes', '11', '-1', '1.5', '10.0.0.1']) {
      expect(() => loadConfig('bare-probe', BaseConfig, testEnv(db.url, { TRUST_PROXY: bad }))).toThrow(/TRUST_PROXY/);
    }
  });
});
