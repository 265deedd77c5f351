import {
  CanActivate,
  Controller,
  DynamicModule,
  ExecutionContext,
  Get,
  HttpCode,
  Injectable,
  Module,
  Post,
  Query,
  Req,
  UseGuards,
} from '@nestjs/common';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';
import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { createTestDatabase, expectEventually, REDIS_URL, testEnv, TestDatabase } from '@realapp/testing';
import { BaseConfig } from '../config/base.config';
import { loadConfig } from '../config/config.loader';
import { AppError } from '../http/app-error';
import { createHttpApp } from '../http/bootstrap';
import { createRootLogger } from '../logging/logger';
import { PlatformModule } from '../platform.module';
import { PeriodicJobGate } from './periodic-job-gate';
import { RateLimitService } from './rate-limit.service';
import { SignedWebhook } from './signed-webhook.decorator';
import { SkipIpRateLimit } from './skip-ip-rate-limit.decorator';

/*
 * The SPEC §3/§16 limits on the real Redis, through the real HTTP edge (createHttpApp). Each
 * suite run has its own key prefix; addresses are varied with X-Forwarded-For (TRUST_PROXY).
 */

/** Stands in for the bearer guard: puts the tenant named by a header on `request.auth`. */
@Injectable()
class TestTenantGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest & { auth?: { tenantId: string } }>();
    const tenantId = request.headers['x-test-tenant'];
    if (typeof tenantId !== 'string') throw new AppError('invalid_token', 401, 'No tenant.');
    request.auth = { tenantId };
    return true;
  }
}

/** Requests parked by `GET /v1/held?id=` until the test lets them go. */
const held = new Map<string, () => void>();
const release = (id: string): void => {
  held.get(id)?.();
  held.delete(id);
};

@Controller('v1')
class LimitedController {
  constructor(private readonly limits: RateLimitService) {}

  @Get('public')
  publicRead(): { ok: true } {
    return { ok: true };
  }

  @UseGuards(TestTenantGuard)
  @Get('things')
  read(): { ok: true } {
    return { ok: true };
  }

  @UseGuards(TestTenantGuard)
  @Post('things')
  write(): { ok: true } {
    return { ok: true };
  }

  @UseGuards(TestTenantGuard)
  @Get('failing')
  failing(): never {
    throw new AppError('conflict_for_test', 409, 'Always fails.');
  }

  @UseGuards(TestTenantGuard)
  @Get('held')
  async hold(@Query('id') id: string): Promise<{ ok: true }> {
    await new Promise<void>((resolve) => held.set(id, resolve));
    return { ok: true };
  }

  @SkipIpRateLimit()
  @Post('webhooks/test')
  @HttpCode(200)
  async webhook(@Req() request: FastifyRequest): Promise<{ received: true }> {
    if (request.headers['x-signature'] !== 'valid') {
      await this.limits.countFailedSignature(request.ip);
      throw new AppError('invalid_signature', 401, 'Bad signature.');
    }
    return { received: true };
  }

  /** The declarative form the webhook gateway uses. */
  @SignedWebhook()
  @Post('webhooks/declared')
  @HttpCode(200)
  declared(@Req() request: FastifyRequest): { received: true } {
    const signature = request.headers['x-signature'];
    if (signature === 'stale') throw new AppError('signature_expired', 401, 'Stale.');
    if (signature === 'malformed') throw new AppError('malformed_json', 400, 'Signed but not JSON.');
    if (signature !== 'valid') throw new AppError('invalid_signature', 401, 'Bad signature.');
    return { received: true };
  }
}

function limitedModule(config: BaseConfig): DynamicModule {
  @Module({ controllers: [LimitedController], providers: [TestTenantGuard] })
  class LimitedModule {}
  return {
    module: LimitedModule,
    imports: [
      PlatformModule.forRoot({
        service: 'rate-limit-test',
        ConfigClass: BaseConfig,
        config,
        logger: createRootLogger({ service: 'rate-limit-test', level: config.LOG_LEVEL }),
      }),
    ],
  };
}

async function startApp(env: Record<string, string>): Promise<{ app: NestFastifyApplication; url: string }> {
  const config = loadConfig('rate-limit-test', BaseConfig, env);
  const app = await createHttpApp(limitedModule(config), {
    service: 'rate-limit-test',
    config,
    title: 't',
    description: 't',
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url: await app.getUrl() };
}

const IP_LIMIT = 20;
const WRITE_LIMIT = 5;
const CONCURRENCY = 10;

describe('rate limits on the real Redis (SPEC §3, §16)', () => {
  const prefix = `rl-test-${randomBytes(4).toString('hex')}:`;
  let db: TestDatabase;
  let env: Record<string, string>;
  let a: { app: NestFastifyApplication; url: string };
  let b: { app: NestFastifyApplication; url: string };
  let redis: Redis;

  /** Every test uses its own client address and tenant, so they do not share windows. */
  const anIp = (): string => `10.${randomBytes(1)[0]}.${randomBytes(1)[0]}.${randomBytes(1)[0]}`;
  const aTenant = (): string => randomUUID();
  const call = (
    base: string,
    path: string,
    {
      method = 'GET',
      ip,
      tenant,
      headers = {},
    }: { method?: string; ip: string; tenant?: string; headers?: Record<string, string> },
  ): Promise<Response> =>
    fetch(`${base}${path}`, {
      method,
      headers: {
        'x-forwarded-for': ip,
        ...(tenant ? { 'x-test-tenant': tenant } : {}),
        ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(method === 'POST' ? { body: '{}' } : {}),
    });

  beforeAll(async () => {
    db = await createTestDatabase();
    env = testEnv(db.url, {
      RATE_LIMIT_ENABLED: 'true',
      RATE_LIMIT_KEY_PREFIX: prefix,
      RATE_LIMIT_PER_IP_PER_MINUTE: String(IP_LIMIT),
      RATE_LIMIT_TENANT_WRITES_PER_MINUTE: String(WRITE_LIMIT),
      RATE_LIMIT_TENANT_CONCURRENCY: String(CONCURRENCY),
    });
    [a, b] = await Promise.all([startApp(env), startApp(env)]);
    redis = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    for (const id of [...held.keys()]) release(id);
    await Promise.all([a?.app.close(), b?.app.close()]);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    await db?.drop();
  });

  it('answers 429 problem+json with Retry-After once an address is over its per-minute limit', async () => {
    const ip = anIp();
    for (let i = 0; i < IP_LIMIT; i++) expect((await call(a.url, '/v1/public', { ip })).status).toBe(200);

    const refused = await call(a.url, '/v1/public', {
      ip,
      headers: { 'x-correlation-id': 'rate-limit-check-1' },
    });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('x-correlation-id')).toBe('rate-limit-check-1');
    // The same security headers as any other answer, and nothing that names the framework.
    expect(refused.headers.get('x-content-type-options')).toBe('nosniff');
    expect(refused.headers.get('x-powered-by')).toBeNull();
    expect(await refused.json()).toMatchObject({
      status: 429,
      code: 'too_many_requests',
      correlationId: 'rate-limit-check-1',
      limit: 'ip',
      retryAfterSeconds: retryAfter,
    });

    // Every kind of request counts, even unknown routes; another address is untouched.
    expect((await call(a.url, '/v1/nothing-here', { ip })).status).toBe(429);
    expect((await call(a.url, '/v1/public', { ip: anIp() })).status).toBe(200);
  });

  it('counts an address across two instances of the service (one Redis window)', async () => {
    const ip = anIp();
    const answers: number[] = [];
    for (let i = 0; i < IP_LIMIT + 2; i++)
      answers.push((await call(i % 2 ? b.url : a.url, '/v1/public', { ip })).status);
    expect(answers.slice(0, IP_LIMIT).every((s) => s === 200)).toBe(true);
    expect(answers.slice(IP_LIMIT)).toEqual([429, 429]);
  });

  it('counts concurrent requests exactly: of 40 at once from one address, exactly the limit pass', async () => {
    const ip = anIp();
    const statuses = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        call(i % 2 ? b.url : a.url, '/v1/public', { ip }).then((r) => r.status),
      ),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(IP_LIMIT);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40 - IP_LIMIT);
  });

  it("limits a tenant's writes per minute, leaving its reads and other tenants alone", async () => {
    const tenant = aTenant();
    const statuses = await Promise.all(
      Array.from({ length: WRITE_LIMIT + 3 }, () =>
        call(a.url, '/v1/things', { method: 'POST', ip: anIp(), tenant }).then((r) => r.status),
      ),
    );
    expect(statuses.filter((s) => s === 201)).toHaveLength(WRITE_LIMIT);
    expect(statuses.filter((s) => s === 429)).toHaveLength(3);

    const refused = await call(b.url, '/v1/things', { method: 'POST', ip: anIp(), tenant });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await refused.json()).toMatchObject({ code: 'too_many_requests', limit: 'tenant_writes' });

    expect((await call(a.url, '/v1/things', { ip: anIp(), tenant })).status).toBe(200);
    expect((await call(a.url, '/v1/things', { method: 'POST', ip: anIp(), tenant: aTenant() })).status).toBe(
      201,
    );
  });

  it('refuses the 11th concurrent request of a tenant, across instances, and admits again once one ends', async () => {
    const tenant = aTenant();
    const ids = Array.from({ length: CONCURRENCY }, () => randomUUID());
    const running = ids.map((id, i) =>
      call(i % 2 ? b.url : a.url, `/v1/held?id=${id}`, { ip: anIp(), tenant }),
    );
    await expectEventually(() => expect(held.size).toBeGreaterThanOrEqual(CONCURRENCY));

    const eleventh = await call(a.url, '/v1/things', { ip: anIp(), tenant });
    expect(eleventh.status).toBe(429);
    expect(eleventh.headers.get('retry-after')).toBe('1');
    expect(await eleventh.json()).toMatchObject({ code: 'too_many_requests', limit: 'tenant_concurrency' });
    expect((await call(b.url, '/v1/things', { method: 'POST', ip: anIp(), tenant })).status).toBe(429);
    // Another tenant is not held back by this one.
    expect((await call(b.url, '/v1/things', { ip: anIp(), tenant: aTenant() })).status).toBe(200);

    release(ids[0]);
    expect((await running[0]).status).toBe(200);
    await expectEventually(async () =>
      expect((await call(b.url, '/v1/things', { ip: anIp(), tenant })).status).toBe(200),
    );

    for (const id of ids.slice(1)) release(id);
    for (const response of await Promise.all(running.slice(1))) expect(response.status).toBe(200);
  });

  it('does not count refused-for-concurrency requests against the write window', async () => {
    const tenant = aTenant();
    const ids = Array.from({ length: CONCURRENCY }, () => randomUUID());
    const running = ids.map((id) => call(a.url, `/v1/held?id=${id}`, { ip: anIp(), tenant }));
    await expectEventually(() => expect(held.size).toBeGreaterThanOrEqual(CONCURRENCY));
    for (let i = 0; i < WRITE_LIMIT + 2; i++) {
      expect((await call(a.url, '/v1/things', { method: 'POST', ip: anIp(), tenant })).status).toBe(429);
    }
    for (const id of ids) release(id);
    await Promise.all(running);
    await expectEventually(async () =>
      expect((await call(a.url, '/v1/things', { method: 'POST', ip: anIp(), tenant })).status).toBe(201),
    );
  });

  it('releases the slot of a request that failed, so errors never leak concurrency', async () => {
    const tenant = aTenant();
    for (let i = 0; i < CONCURRENCY * 2; i++)
      expect((await call(a.url, '/v1/failing', { ip: anIp(), tenant })).status).toBe(409);
    await Promise.all(
      Array.from({ length: CONCURRENCY }, () => call(b.url, '/v1/failing', { ip: anIp(), tenant })),
    );
    expect((await call(a.url, '/v1/things', { ip: anIp(), tenant })).status).toBe(200);
    expect(await redis.zcard(`${prefix}tc:{${tenant}}`)).toBe(0);
  });

  it('gives back slots leaked by a crashed replica once their lease expires (TTL safety net)', async () => {
    const tenant = aTenant();
    const leases = `${prefix}tc:{${tenant}}`;
    const [seconds] = await redis.time();
    const nowMs = Number(seconds) * 1000;
    // Ten slots a dead replica will never release, still within their lease: the tenant is full.
    for (let i = 0; i < CONCURRENCY; i++) await redis.zadd(leases, nowMs + 30_000, `dead-${i}`);
    expect((await call(a.url, '/v1/things', { ip: anIp(), tenant })).status).toBe(429);
    // The same slots past their lease: dropped on the next entry, the tenant is served again.
    for (let i = 0; i < CONCURRENCY; i++) await redis.zadd(leases, nowMs - 1, `dead-${i}`);
    expect((await call(a.url, '/v1/things', { ip: anIp(), tenant })).status).toBe(200);
    expect(await redis.zcard(leases)).toBe(0);
    expect(await redis.pttl(leases)).toBeLessThanOrEqual(60_000);
  });

  it('never refuses a correctly signed webhook, even from an address over its limit', async () => {
    const ip = anIp();
    for (let i = 0; i < IP_LIMIT; i++) await call(a.url, '/v1/public', { ip });
    expect((await call(a.url, '/v1/public', { ip })).status).toBe(429);

    const signed = await Promise.all(
      Array.from({ length: IP_LIMIT * 3 }, (_, i) =>
        call(i % 2 ? a.url : b.url, '/v1/webhooks/test', {
          method: 'POST',
          ip,
          headers: { 'x-signature': 'valid' },
        }).then((r) => r.status),
      ),
    );
    expect(signed.every((s) => s === 200)).toBe(true);
  });

  it('counts webhooks whose signature fails against the address, cutting a forged flood off at the limit', async () => {
    const ip = anIp();
    const forged: number[] = [];
    for (let i = 0; i < IP_LIMIT + 3; i++) {
      forged.push(
        (await call(a.url, '/v1/webhooks/test', { method: 'POST', ip, headers: { 'x-signature': 'forged' } }))
          .status,
      );
    }
    expect(forged.slice(0, IP_LIMIT).every((s) => s === 401)).toBe(true);
    expect(forged.slice(IP_LIMIT)).toEqual([429, 429, 429]);
    // The forger's address is now over its limit for everything else too…
    expect((await call(b.url, '/v1/public', { ip })).status).toBe(429);
    // …but a correctly signed delivery from it still goes through.
    expect(
      (await call(b.url, '/v1/webhooks/test', { method: 'POST', ip, headers: { 'x-signature': 'valid' } }))
        .status,
    ).toBe(200);
  });

  it('does the same for a route declared @SignedWebhook(): stale and forged signatures count, other refusals do not', async () => {
    const ip = anIp();
    const post = (signature: string, base = a.url): Promise<number> =>
      call(base, '/v1/webhooks/declared', { method: 'POST', ip, headers: { 'x-signature': signature } }).then(
        (r) => r.status,
      );
    // Correctly signed but malformed bodies are the sender's bug, not an attack: never counted.
    for (let i = 0; i < IP_LIMIT * 2; i++) expect(await post('malformed')).toBe(400);
    expect((await call(a.url, '/v1/public', { ip })).status).toBe(200);

    const refusals: number[] = [];
    for (let i = 0; i < IP_LIMIT + 1; i++)
      refusals.push(await post(i % 2 ? 'stale' : 'forged', i % 2 ? a.url : b.url));
    // IP_LIMIT - 1 of them fit beside the one /v1/public above; the rest are cut off.
    expect(refusals.slice(0, IP_LIMIT - 1).every((s) => s === 401)).toBe(true);
    expect(refusals.slice(IP_LIMIT - 1)).toEqual([429, 429]);
    expect(await post('valid')).toBe(200);
  });

  it('fails open when Redis is unreachable: requests pass and the metric counts the skipped checks', async () => {
    const offline = await startApp({
      ...env,
      REDIS_URL: 'redis://127.0.0.1:1',
      RATE_LIMIT_KEY_PREFIX: `${prefix}offline:`,
    });
    try {
      const ip = anIp();
      const tenant = aTenant();
      for (let i = 0; i < IP_LIMIT + 5; i++)
        expect((await call(offline.url, '/v1/things', { method: 'POST', ip, tenant })).status).toBe(201);
      const metrics = await (await call(offline.url, '/metrics', { ip })).text();
      const skipped = (limit: string): number =>
        Number(
          new RegExp(`^rate_limit_unavailable_total\\{limit="${limit}"\\} (\\d+)`, 'm').exec(metrics)?.[1] ??
            0,
        );
      expect(skipped('ip')).toBeGreaterThanOrEqual(IP_LIMIT + 5);
      expect(skipped('tenant_writes')).toBeGreaterThanOrEqual(IP_LIMIT + 5);
    } finally {
      await offline.app.close();
    }
  });

  it('gives each interval of a periodic job to exactly one replica', async () => {
    const gates = [a.app.get(PeriodicJobGate), b.app.get(PeriodicJobGate)];
    const job = `job-${randomUUID()}`;
    const intervalMs = 600;
    const first = await Promise.all(Array.from({ length: 8 }, (_, i) => gates[i % 2].claim(job, intervalMs)));
    const claimedAt = Date.now();
    expect(first.filter(Boolean)).toHaveLength(1);
    expect(await gates[0].claim(job, intervalMs)).toBe(false);
    // The next interval is claimable again (by one replica), shortly before the interval is over.
    const next = await expectEventually(async () => {
      const claims = await Promise.all(
        Array.from({ length: 4 }, (_, i) => gates[i % 2].claim(job, intervalMs)),
      );
      expect(claims.filter(Boolean)).toHaveLength(1);
      return Date.now();
    });
    expect(next - claimedAt).toBeGreaterThanOrEqual(intervalMs * 0.9 - 50);
  });

  it('lets every tick of a periodic job run when Redis is unreachable (lock-only behaviour)', async () => {
    const offline = await startApp({ ...env, REDIS_URL: 'redis://127.0.0.1:1' });
    try {
      const gate = offline.app.get(PeriodicJobGate);
      expect(await gate.claim('offline-job', 1000)).toBe(true);
      expect(await gate.claim('offline-job', 1000)).toBe(true);
    } finally {
      await offline.app.close();
    }
  });

  it('counts refusals in a metric for alerting', async () => {
    const metrics = (
      await Promise.all(
        [a.url, b.url].map(async (url) => (await call(url, '/metrics', { ip: anIp() })).text()),
      )
    ).join('\n');
    for (const limit of ['ip', 'tenant_writes', 'tenant_concurrency']) {
      expect(metrics).toMatch(new RegExp(`^rate_limit_rejected_total\\{limit="${limit}"\\} [1-9]`, 'm'));
    }
  });
});
