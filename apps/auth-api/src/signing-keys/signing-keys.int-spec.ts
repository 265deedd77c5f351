import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { AuthContext, Authenticated, AuthGuardModule, CurrentAuth } from '@realapp/auth-guard';
import { ProblemFilter, SecretBox } from '@realapp/platform';
import { createAuthApi } from '../app';
import { SessionResponse } from '../shared/views';
import { testEnv } from '@realapp/testing';
import { AuthApiHarness, bearer, OPS, startAuthApi } from '../testing/auth-api.test-helper';

@Controller('whoami')
@Authenticated()
class WhoAmIController {
  @Get()
  whoami(@CurrentAuth() auth: AuthContext): AuthContext {
    return auth;
  }
}

/** Another service, as queue-api would be: the guard fetching auth-api's real JWKS over HTTP. */
async function startResourceServer(jwksUrl: string): Promise<{
  app: NestFastifyApplication;
  status: (token: string) => Promise<{ status: number; body: Record<string, unknown> }>;
}> {
  @Module({
    imports: [
      AuthGuardModule.forRoot({
        jwksUrl,
        issuer: 'https://auth.realapp.local',
        audience: 'realapp-api',
        jwksCooldownMs: 100,
      }),
    ],
    controllers: [WhoAmIController],
  })
  class ResourceModule {}
  const app = await NestFactory.create<NestFastifyApplication>(ResourceModule, new FastifyAdapter(), {
    logger: false,
  });
  app.useGlobalFilters(new ProblemFilter());
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = await app.getUrl();
  return {
    app,
    status: async (token) => {
      const response = await fetch(`${url}/whoami`, { headers: bearer(token) });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    },
  };
}

interface Jwks {
  keys: Array<Record<string, string>>;
}

describe('auth-api signing keys, JWKS and rotation on the real database', () => {
  let api: AuthApiHarness;
  let resource: Awaited<ReturnType<typeof startResourceServer>>;

  const activeKeys = async (): Promise<number> => {
    const rows = (await api.dataSource.query(
      `SELECT count(*)::int AS n FROM auth.signing_keys WHERE status = 'active'`,
    )) as Array<{ n: number }>;
    return rows[0].n;
  };

  beforeAll(async () => {
    api = await startAuthApi();
    resource = await startResourceServer(`${api.url}/.well-known/jwks.json`);
  });

  afterAll(async () => {
    await resource.app.close();
    await api.close();
  });

  it('publishes public keys only, with cache headers', async () => {
    const answer = await api.get<Jwks>('/.well-known/jwks.json');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('cache-control')).toBe('public, max-age=300');
    expect(answer.body.keys).toHaveLength(1);
    const [key] = answer.body.keys;
    expect(Object.keys(key).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
  });

  it('signs access tokens with ES256, the kid header and the SPEC §4 claims', async () => {
    const owner = await api.signup();
    const header = decodeProtectedHeader(owner.accessToken);
    const claims = decodeJwt(owner.accessToken);
    const { body } = await api.get<Jwks>('/.well-known/jwks.json');
    expect(header).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: body.keys[0].kid });
    expect(claims).toEqual({
      iss: 'https://auth.realapp.local',
      aud: 'realapp-api',
      sub: owner.user.id,
      tid: owner.tenant.id,
      role: 'owner',
      iat: expect.any(Number),
      exp: expect.any(Number),
      jti: expect.any(String),
    });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(900);
    expect(Math.abs((claims.iat ?? 0) - Date.now() / 1000)).toBeLessThan(10);
  });

  it('keeps the private key sealed under TOKEN_ENCRYPTION_KEY', async () => {
    const [row] = (await api.dataSource.query(
      `SELECT kid, private_key_sealed FROM auth.signing_keys WHERE status = 'active'`,
    )) as Array<{
      kid: string;
      private_key_sealed: string;
    }>;
    expect(row.private_key_sealed).toMatch(/^v1\.[0-9a-f]{16}\./);
    expect(row.private_key_sealed).not.toContain('PRIVATE KEY');
    const box = SecretBox.fromConfig(api.config.TOKEN_ENCRYPTION_KEY);
    expect(box.openText(row.private_key_sealed, `auth.signing_keys:${row.kid}`)).toContain(
      'BEGIN PRIVATE KEY',
    );
    expect(() => box.open(row.private_key_sealed, 'auth.signing_keys:another-kid')).toThrow();
  });

  it('has its tokens verified by another service’s guard through the real JWKS endpoint', async () => {
    const owner = await api.signup();
    const answer = await resource.status(owner.accessToken);
    expect(answer).toEqual({
      status: 200,
      body: { userId: owner.user.id, tenantId: owner.tenant.id, role: 'owner' },
    });
    const forged = await resource.status(
      `${owner.accessToken.split('.').slice(0, 2).join('.')}.${'A'.repeat(86)}`,
    );
    expect(forged.body.code).toBe('invalid_token');
  });

  it('rotates by ops call: new tokens use the new key, old tokens keep verifying until their key retires', async () => {
    const before = await api.signup();
    const denied = await api.post('/v1/ops/auth/signing-keys/rotate');
    expect({ status: denied.status, code: denied.body.code }).toEqual({
      status: 401,
      code: 'api_key_required',
    });
    const userToken = await api.post(
      '/v1/ops/auth/signing-keys/rotate',
      undefined,
      bearer(before.accessToken),
    );
    expect(userToken.status).toBe(403);

    const rotated = await api.post<{ kid: string }>('/v1/ops/auth/signing-keys/rotate', undefined, OPS);
    expect(rotated.status).toBe(201);
    expect(rotated.body).toEqual({ kid: expect.any(String) });
    expect(rotated.body.kid).not.toBe(decodeProtectedHeader(before.accessToken).kid);
    expect(await activeKeys()).toBe(1);

    const jwks = await api.get<Jwks>('/.well-known/jwks.json');
    expect(jwks.body.keys.map((k) => k.kid)).toEqual([
      rotated.body.kid,
      decodeProtectedHeader(before.accessToken).kid,
    ]);

    const after = await api.signup();
    expect(decodeProtectedHeader(after.accessToken).kid).toBe(rotated.body.kid);
    // The resource server learns the new key on its first unknown kid and keeps the old one.
    expect((await resource.status(after.accessToken)).status).toBe(200);
    expect((await resource.status(before.accessToken)).status).toBe(200);
    // auth-api itself verifies both too.
    expect((await api.get('/v1/auth/me', bearer(before.accessToken))).status).toBe(200);
    expect((await api.get('/v1/auth/me', bearer(after.accessToken))).status).toBe(200);
    // A refresh of the old session is signed with the new key.
    const refreshed = await api.post<SessionResponse>('/v1/auth/refresh', {
      refreshToken: before.refreshToken,
    });
    expect(decodeProtectedHeader(refreshed.body.accessToken).kid).toBe(rotated.body.kid);

    const [retired] = (await api.dataSource.query(
      `SELECT private_key_sealed, extract(epoch FROM verify_until - retired_at)::int AS grace FROM auth.signing_keys WHERE kid = $1`,
      [decodeProtectedHeader(before.accessToken).kid],
    )) as Array<{ private_key_sealed: string | null; grace: number }>;
    expect(retired).toEqual({ private_key_sealed: null, grace: 900 + 120 });

    // Once every token it signed has expired, the retired key leaves the JWKS.
    await api.dataSource.query(
      `UPDATE auth.signing_keys SET verify_until = now() - interval '1 second' WHERE kid = $1`,
      [decodeProtectedHeader(before.accessToken).kid],
    );
    const pruned = await api.get<Jwks>('/.well-known/jwks.json');
    expect(pruned.body.keys.map((k) => k.kid)).toEqual([rotated.body.kid]);
    const fresh = await startResourceServer(`${api.url}/.well-known/jwks.json`);
    try {
      expect((await fresh.status(after.accessToken)).status).toBe(200);
      expect((await fresh.status(before.accessToken)).body.code).toBe('invalid_token');
    } finally {
      await fresh.app.close();
    }
  });

  it('keeps exactly one active key under concurrent rotations', async () => {
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        api.post<{ kid: string }>('/v1/ops/auth/signing-keys/rotate', undefined, OPS),
      ),
    );
    expect(answers.every((a) => a.status === 201)).toBe(true);
    expect(new Set(answers.map((a) => a.body.kid)).size).toBe(5);
    expect(await activeKeys()).toBe(1);
    const jwks = await api.get<Jwks>('/.well-known/jwks.json');
    for (const { body } of answers) expect(jwks.body.keys.map((k) => k.kid)).toContain(body.kid);
    const owner = await api.signup();
    expect((await resource.status(owner.accessToken)).status).toBe(200);
  });

  it('creates one first key when several replicas start at once on an empty key table', async () => {
    await api.dataSource.query(`DELETE FROM auth.signing_keys`);
    const env = testEnv(api.db.url, { AMQP_PREFIX: api.config.AMQP_PREFIX });
    const replicas = await Promise.all([createAuthApi(env), createAuthApi(env), createAuthApi(env)]);
    try {
      await Promise.all(replicas.map(({ app }) => app.init()));
      const rows = (await api.dataSource.query(`SELECT status FROM auth.signing_keys`)) as Array<{
        status: string;
      }>;
      expect(rows).toEqual([{ status: 'active' }]);
    } finally {
      await Promise.all(replicas.map(({ app }) => app.close()));
    }
  });
});
