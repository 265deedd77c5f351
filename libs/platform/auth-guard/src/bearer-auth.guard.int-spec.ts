import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { createHmac, createPublicKey, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { createValidationPipe, ProblemFilter } from '@realapp/platform';
import { startTestJwks, TestJwks } from '@realapp/testing';
import { AuthGuardModule } from './auth-guard.module';
import { AuthContext } from './auth.types';
import { Authenticated, CurrentAuth } from './decorators';
import { Roles } from './roles';

@Controller('probe')
@Authenticated()
class ProbeController {
  @Get('whoami')
  whoami(@CurrentAuth() auth: AuthContext): AuthContext {
    return auth;
  }

  @Get('admins')
  @Roles('owner', 'admin')
  admins(@CurrentAuth() auth: AuthContext): AuthContext {
    return auth;
  }
}

/** Roles alone, listed above Authenticated: the order of decorators must not matter. */
@Controller('owners')
class OwnersController {
  @Roles('owner')
  @Authenticated()
  @Get()
  owners(@CurrentAuth() auth: AuthContext): AuthContext {
    return auth;
  }
}

async function startProbeApp(
  jwksUrl: string,
  extra: { jwksCooldownMs?: number } = {},
): Promise<{ app: NestFastifyApplication; url: string }> {
  @Module({
    imports: [
      AuthGuardModule.forRoot({
        jwksUrl,
        issuer: 'https://auth.realapp.local',
        audience: 'realapp-api',
        ...extra,
      }),
    ],
    controllers: [ProbeController, OwnersController],
  })
  class ProbeModule {}
  const app = await NestFactory.create<NestFastifyApplication>(ProbeModule, new FastifyAdapter(), {
    logger: false,
  });
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new ProblemFilter());
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url: await app.getUrl() };
}

const b64url = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

describe('BearerAuthGuard against a real JWKS', () => {
  let jwks: TestJwks;
  let app: NestFastifyApplication;
  let base: string;

  const call = async (
    token: string | undefined,
    path = '/probe/whoami',
    scheme = 'Bearer',
  ): Promise<Answer> => {
    const response = await fetch(`${base}${path}`, {
      headers: token === undefined ? {} : { authorization: `${scheme} ${token}` },
    });
    return {
      status: response.status,
      body: (await response.json()) as Record<string, unknown>,
      headers: response.headers,
    };
  };

  const expectRefused = async (
    token: string | undefined,
    code = 'invalid_token',
    scheme?: string,
  ): Promise<void> => {
    const answer = await call(token, '/probe/whoami', scheme);
    expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 401, code });
    expect(answer.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
  };

  const claims = (overrides: Record<string, unknown> = {}): Record<string, unknown> => {
    const iat = Math.floor(Date.now() / 1000);
    return {
      iss: jwks.issuer,
      aud: jwks.audience,
      sub: randomUUID(),
      tid: randomUUID(),
      role: 'member',
      iat,
      exp: iat + 900,
      jti: randomUUID(),
      ...overrides,
    };
  };

  beforeAll(async () => {
    jwks = await startTestJwks();
    ({ app, url: base } = await startProbeApp(jwks.url, { jwksCooldownMs: 100 }));
  });

  afterAll(async () => {
    await app.close();
    await jwks.close();
  });

  it('puts {userId, tenantId, role} on the request for a valid token', async () => {
    const userId = randomUUID();
    const tenantId = randomUUID();
    const answer = await call(jwks.issue({ userId, tenantId, role: 'admin' }));
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ userId, tenantId, role: 'admin' });
  });

  it('caches the key set instead of fetching it per request', async () => {
    const before = jwks.fetches;
    await Promise.all(Array.from({ length: 20 }, () => call(jwks.issue())));
    expect(jwks.fetches - before).toBe(0);
  });

  it('refetches the key set at most once per cooldown however many unknown kids arrive', async () => {
    const before = jwks.fetches;
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => call(jwks.sign(claims(), { kid: `forged-${i}` }))),
    );
    expect(answers.every((a) => a.status === 401 && a.body.code === 'invalid_token')).toBe(true);
    expect(jwks.fetches - before).toBeLessThanOrEqual(2);
  });

  it('answers a token seen before the same way, and never lets its cached verification cover a forgery', async () => {
    const userId = randomUUID();
    const tenantId = randomUUID();
    const token = jwks.issue({ userId, tenantId, role: 'member' });
    const answers = await Promise.all(Array.from({ length: 10 }, () => call(token)));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    for (const answer of answers) expect(answer.body).toEqual({ userId, tenantId, role: 'member' });
    expect((await call(token, '/probe/admins')).body.code).toBe('forbidden_role');

    // The same header and signature over other claims, or the same claims with another signature.
    const [header, payload, signature] = token.split('.');
    const elevated = b64url({
      ...(JSON.parse(Buffer.from(payload, 'base64url').toString()) as object),
      role: 'owner',
    });
    await expectRefused(`${header}.${elevated}.${signature}`);
    const flipped = signature[10] === 'A' ? 'B' : 'A';
    await expectRefused(`${header}.${payload}.${signature.slice(0, 10)}${flipped}${signature.slice(11)}`);
    expect((await call(token)).status).toBe(200);
  });

  it('refuses a missing or malformed Authorization header', async () => {
    await expectRefused(undefined);
    await expectRefused(jwks.issue(), 'invalid_token', 'Basic');
    await expectRefused('');
    await expectRefused('not-a-jwt');
    await expectRefused(`${jwks.issue()}.extra`);
  });

  it('refuses alg "none", with or without a signature', async () => {
    const header = { alg: 'none', typ: 'at+jwt', kid: jwks.kid };
    await expectRefused(`${b64url(header)}.${b64url(claims())}.`);
    await expectRefused(`${b64url(header)}.${b64url(claims())}.${b64url('sig')}`);
    await expectRefused(`${b64url({ ...header, alg: 'None' })}.${b64url(claims())}.${b64url('sig')}`);
  });

  it('refuses HS256 "signed" with the public key (algorithm confusion)', async () => {
    const jwk = jwks.keys[0];
    const pem = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' })
      .toString();
    for (const secret of [pem, JSON.stringify(jwk), jwk.x]) {
      const input = `${b64url({ alg: 'HS256', typ: 'at+jwt', kid: jwks.kid })}.${b64url(claims())}`;
      await expectRefused(`${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`);
    }
  });

  it('refuses a token whose payload was altered after signing', async () => {
    const tenantId = randomUUID();
    const [header, payload, signature] = jwks.issue({ tenantId, role: 'member' }).split('.');
    const altered = {
      ...(JSON.parse(Buffer.from(payload, 'base64url').toString()) as object),
      role: 'owner',
      tid: randomUUID(),
    };
    await expectRefused(`${header}.${b64url(altered)}.${signature}`);
  });

  it('refuses an unknown kid, and a known kid on a signature from another key', async () => {
    await expectRefused(jwks.sign(claims(), { kid: 'no-such-key' }));
    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const input = `${b64url({ alg: 'ES256', typ: 'at+jwt', kid: jwks.kid })}.${b64url(claims())}`;
    const forged = sign('sha256', Buffer.from(input), {
      key: attacker.privateKey,
      dsaEncoding: 'ieee-p1363',
    }).toString('base64url');
    await expectRefused(`${input}.${forged}`);
  });

  it('never trusts a key embedded in the token (jwk, jku, x5u, x5c headers)', async () => {
    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const attackerJwk = {
      ...attacker.publicKey.export({ format: 'jwk' }),
      kid: 'attacker',
      alg: 'ES256',
      use: 'sig',
    };
    const attackerJwks = createServer((_req, res) => res.end(JSON.stringify({ keys: [attackerJwk] })));
    await new Promise<void>((resolve) => attackerJwks.listen(0, '127.0.0.1', resolve));
    const attackerUrl = `http://127.0.0.1:${(attackerJwks.address() as AddressInfo).port}/jwks.json`;
    try {
      const headers = [
        { jwk: attackerJwk, kid: 'attacker' },
        { jwk: attackerJwk, kid: jwks.kid },
        { jku: attackerUrl, kid: 'attacker' },
        { jku: attackerUrl, kid: jwks.kid },
        { x5u: attackerUrl, kid: jwks.kid },
        { x5c: ['MIIB'], kid: jwks.kid },
      ];
      for (const extra of headers) {
        const input = `${b64url({ alg: 'ES256', typ: 'at+jwt', ...extra })}.${b64url(claims({ role: 'owner' }))}`;
        const signature = sign('sha256', Buffer.from(input), {
          key: attacker.privateKey,
          dsaEncoding: 'ieee-p1363',
        });
        await expectRefused(`${input}.${signature.toString('base64url')}`);
      }
      // Even correctly signed by us, a token carrying such a header is not one of ours.
      await expectRefused(jwks.sign(claims(), { jku: attackerUrl }));
    } finally {
      attackerJwks.close();
    }
  });

  it('answers token_expired when only the expiry is wrong, invalid_token otherwise', async () => {
    await expectRefused(jwks.issue({ expiresInSeconds: -120 }), 'token_expired');
    const iat = Math.floor(Date.now() / 1000) - 2000;
    await expectRefused(jwks.sign(claims({ iat, exp: iat + 900, aud: 'someone-else' })), 'invalid_token');
    await expectRefused(
      jwks.sign(claims({ iat, exp: iat + 900, iss: 'https://evil.example' })),
      'invalid_token',
    );
    await expectRefused(jwks.sign(claims({ iat, exp: iat + 900, role: 'root' })), 'invalid_token');
    await expectRefused(jwks.sign(claims({ iat, exp: iat + 900 }), { kid: 'no-such-key' }), 'invalid_token');
  });

  it('refuses a wrong audience or issuer, and a token not yet valid', async () => {
    await expectRefused(jwks.sign(claims({ aud: 'another-api' })));
    await expectRefused(jwks.sign(claims({ aud: ['another-api'] })));
    await expectRefused(jwks.sign(claims({ iss: 'https://auth.evil.example' })));
    await expectRefused(jwks.sign(claims({ nbf: Math.floor(Date.now() / 1000) + 600 })));
    const ok = await call(jwks.sign(claims({ aud: ['another-api', jwks.audience] })));
    expect(ok.status).toBe(200);
  });

  it('refuses tokens missing the claims the platform relies on, or of another type', async () => {
    const { tid: _tid, ...noTenant } = claims();
    await expectRefused(jwks.sign(noTenant));
    const { exp: _exp, ...noExpiry } = claims();
    await expectRefused(jwks.sign(noExpiry));
    await expectRefused(jwks.sign(claims({ sub: 'not-a-uuid' })));
    await expectRefused(jwks.sign(claims({ role: 'superuser' })));
    await expectRefused(jwks.sign(claims(), { typ: 'JWT' }));
    await expectRefused(jwks.sign(claims(), { crit: ['exp'] }));
  });

  it('picks up a rotated key on its first unknown kid and keeps verifying the old one', async () => {
    const old = jwks.issue({ role: 'owner' });
    jwks.rotate();
    const fresh = jwks.issue({ role: 'owner' });
    expect((await call(fresh)).status).toBe(200);
    expect((await call(old)).status).toBe(200);
  });

  it('answers 403 forbidden_role to a role that is not allowed, whatever the decorator order', async () => {
    const member = jwks.issue({ role: 'member' });
    const admin = jwks.issue({ role: 'admin' });
    const owner = jwks.issue({ role: 'owner' });
    const refused = await call(member, '/probe/admins');
    expect({ status: refused.status, code: refused.body.code }).toEqual({
      status: 403,
      code: 'forbidden_role',
    });
    expect((await call(admin, '/probe/admins')).status).toBe(200);
    expect((await call(admin, '/owners')).body.code).toBe('forbidden_role');
    expect((await call(owner, '/owners')).status).toBe(200);
    const anonymous = await call(undefined, '/owners');
    expect({ status: anonymous.status, code: anonymous.body.code }).toEqual({
      status: 401,
      code: 'invalid_token',
    });
  });
});

describe('BearerAuthGuard with several apps and JWKS outages', () => {
  it('keeps each app on its own issuer keys in one process', async () => {
    const first = await startTestJwks();
    const second = await startTestJwks();
    const a = await startProbeApp(first.url, { jwksCooldownMs: 100 });
    const b = await startProbeApp(second.url, { jwksCooldownMs: 100 });
    try {
      const get = (url: string, token: string): Promise<number> =>
        fetch(`${url}/probe/whoami`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
      expect(await get(a.url, first.issue())).toBe(200);
      expect(await get(b.url, second.issue())).toBe(200);
      expect(await get(a.url, second.issue())).toBe(401);
      expect(await get(b.url, first.issue())).toBe(401);
    } finally {
      await a.app.close();
      await b.app.close();
      await first.close();
      await second.close();
    }
  });

  it('answers 503 auth_unavailable when the keys were never fetched, and keeps the last keys when the JWKS goes away', async () => {
    const jwks = await startTestJwks();
    const down = 'http://127.0.0.1:9/.well-known/jwks.json';
    const unreachable = await startProbeApp(down, { jwksCooldownMs: 50 });
    const cached = await startProbeApp(jwks.url, { jwksCooldownMs: 50 });
    try {
      const refused = await fetch(`${unreachable.url}/probe/whoami`, {
        headers: { authorization: `Bearer ${jwks.issue()}` },
      });
      expect(refused.status).toBe(503);
      expect(((await refused.json()) as { code: string }).code).toBe('auth_unavailable');

      const token = jwks.issue();
      expect(
        (await fetch(`${cached.url}/probe/whoami`, { headers: { authorization: `Bearer ${token}` } })).status,
      ).toBe(200);
      await jwks.close();
      expect(
        (await fetch(`${cached.url}/probe/whoami`, { headers: { authorization: `Bearer ${token}` } })).status,
      ).toBe(200);
    } finally {
      await unreachable.app.close();
      await cached.app.close();
    }
  });
});
