import { randomInt } from 'node:crypto';
import { SessionResponse } from '../shared/views';
import { AccessTokenIssuer } from '../tokens/access-token.issuer';
import { anEmail, AuthApiHarness, bearer, PASSWORD, startAuthApi } from '../testing/auth-api.test-helper';

/** Each test logs in from its own address, so the per-IP limit of one test never trips another. */
const fromIp = (): Record<string, string> => ({
  'x-forwarded-for': `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`,
});

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

describe('auth-api accounts (SPEC §4) on the real database', () => {
  let api: AuthApiHarness;

  const count = async (sql: string, params: unknown[] = []): Promise<number> => {
    const [row] = (await api.dataSource.query(`SELECT count(*)::int AS n FROM (${sql}) q`, params)) as Array<{
      n: number;
    }>;
    return row.n;
  };

  const login = (email: string, password: string, ip = fromIp()) =>
    api.post<SessionResponse>('/v1/auth/login', { email, password }, ip);

  beforeAll(async () => {
    api = await startAuthApi();
  });

  afterAll(() => api.close());

  describe('signup', () => {
    it('creates a tenant with the caller as owner and answers the session', async () => {
      const email = anEmail();
      const answer = await api.post<SessionResponse>('/v1/auth/signup', {
        email,
        password: PASSWORD,
        name: 'Ana',
        tenantName: 'Souza Imóveis',
      });
      expect(answer.status).toBe(201);
      expect(answer.body).toEqual({
        user: { id: expect.any(String), email, name: 'Ana', role: 'owner' },
        tenant: { id: expect.any(String), name: 'Souza Imóveis', status: 'active' },
        accessToken: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
        refreshToken: expect.stringMatching(/^[\w-]{43}$/),
        expiresIn: 900,
      });
      const [stored] = (await api.dataSource.query(`SELECT password_hash FROM auth.users WHERE id = $1`, [
        answer.body.user.id,
      ])) as Array<{
        password_hash: string;
      }>;
      expect(stored.password_hash).toMatch(/^\$argon2id\$v=19\$/);
      expect(stored.password_hash.split('$')[3].split(',').sort()).toEqual(['m=19456', 'p=1', 't=2']);
      const [refresh] = (await api.dataSource.query(
        `SELECT encode(t.token_hash, 'hex') AS h FROM auth.refresh_tokens t JOIN auth.refresh_families f ON f.id = t.family_id WHERE f.user_id = $1`,
        [answer.body.user.id],
      )) as Array<{ h: string }>;
      expect(refresh.h).toHaveLength(64);
      expect(refresh.h).not.toContain(Buffer.from(answer.body.refreshToken).toString('hex'));
    });

    it('normalises the e-mail (trim, lower case) and logs in whatever its case', async () => {
      const local = `Mixed.${randomInt(1e9)}`;
      const answer = await api.post<SessionResponse>('/v1/auth/signup', {
        email: `  ${local}@Example.COM `,
        password: PASSWORD,
        name: '  Bia  ',
        tenantName: ' Loja ',
      });
      expect(answer.status).toBe(201);
      expect(answer.body.user.email).toBe(`${local.toLowerCase()}@example.com`);
      expect(answer.body.user.name).toBe('Bia');
      expect(answer.body.tenant.name).toBe('Loja');
      expect((await login(`${local.toUpperCase()}@EXAMPLE.com`, PASSWORD)).status).toBe(200);
      const again = await api.post('/v1/auth/signup', {
        email: `${local}@example.com`,
        password: PASSWORD,
        name: 'B',
        tenantName: 'L',
      });
      expect({ status: again.status, code: again.body.code }).toEqual({ status: 409, code: 'email_taken' });
    });

    it('refuses bad and unknown fields with 400 validation_failed and creates nothing', async () => {
      const tenantsBefore = await count(`SELECT 1 FROM auth.tenants`);
      const usersBefore = await count(`SELECT 1 FROM auth.users`);
      const valid = { email: anEmail(), password: PASSWORD, name: 'Ana', tenantName: 'T' };
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ ...valid, role: 'admin' }, 'role'],
        [{ ...valid, tenantId: '00000000-0000-0000-0000-000000000000' }, 'tenantId'],
        [{ ...valid, email: 'not-an-email' }, 'email'],
        [{ ...valid, email: `${'a'.repeat(250)}@example.com` }, 'email'],
        [{ ...valid, password: 'short' }, 'password'],
        [{ ...valid, password: 'x'.repeat(129) }, 'password'],
        [{ ...valid, password: 1234567890123 }, 'password'],
        [{ ...valid, name: '' }, 'name'],
        [{ ...valid, name: '   ' }, 'name'],
        [{ ...valid, name: 'n'.repeat(101) }, 'name'],
        [{ ...valid, tenantName: 't'.repeat(101) }, 'tenantName'],
        [{ email: valid.email, password: PASSWORD, name: 'Ana' }, 'tenantName'],
      ];
      for (const [body, field] of cases) {
        const answer = await api.post<{ code: string; errors: Array<{ field: string }> }>(
          '/v1/auth/signup',
          body,
        );
        expect({ status: answer.status, code: answer.body.code }).toEqual({
          status: 400,
          code: 'validation_failed',
        });
        expect(answer.body.errors.map((e) => e.field)).toContain(field);
      }
      expect((await api.post('/v1/auth/signup', '{"email": ')).status).toBe(400);
      expect(await count(`SELECT 1 FROM auth.tenants`)).toBe(tenantsBefore);
      expect(await count(`SELECT 1 FROM auth.users`)).toBe(usersBefore);
    });

    it('creates one account when the same e-mail signs up 10 times at once; the others get 409 email_taken', async () => {
      const email = anEmail();
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          api.post('/v1/auth/signup', { email, password: PASSWORD, name: 'Ana', tenantName: `Race ${i}` }),
        ),
      );
      const statuses = answers.map((a) => a.status).sort();
      expect(statuses).toEqual([201, ...Array(9).fill(409)]);
      expect(answers.filter((a) => a.status === 409).every((a) => a.body.code === 'email_taken')).toBe(true);
      expect(await count(`SELECT 1 FROM auth.users WHERE email = $1`, [email])).toBe(1);
      expect(await count(`SELECT 1 FROM auth.tenants WHERE name LIKE 'Race %'`)).toBe(1);
    });
  });

  describe('login', () => {
    it('answers the session for the right password', async () => {
      const owner = await api.signup();
      const answer = await login(owner.user.email, PASSWORD);
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({
        accessToken: expect.any(String),
        refreshToken: expect.any(String),
        expiresIn: 900,
        user: owner.user,
        tenant: owner.tenant,
      });
      expect(answer.body.refreshToken).not.toBe(owner.refreshToken);
      // Each login is its own family.
      expect(await count(`SELECT 1 FROM auth.refresh_families WHERE user_id = $1`, [owner.user.id])).toBe(2);
    });

    it('answers the same 401 invalid_credentials, in about the same time, for an unknown e-mail and a wrong password', async () => {
      const owner = await api.signup();
      const ip = fromIp();
      const wrong: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < 5; i++) {
        let started = performance.now();
        const a = await login(owner.user.email, 'wrong password!', ip);
        wrong.push(performance.now() - started);
        started = performance.now();
        const b = await login(anEmail(), 'wrong password!', ip);
        unknown.push(performance.now() - started);
        for (const answer of [a, b]) {
          expect({ status: answer.status, code: answer.body.code, detail: answer.body.detail }).toEqual({
            status: 401,
            code: 'invalid_credentials',
            detail: 'The e-mail or the password is wrong.',
          });
        }
      }
      // Both pay one argon2id verification; without the dummy hash the unknown e-mail would be ~10× faster.
      const ratio = median(unknown) / median(wrong);
      expect(ratio).toBeGreaterThan(0.5);
      expect(ratio).toBeLessThan(2);
    });

    it('locks an account after 5 failures: 429 too_many_attempts with Retry-After, even for the right password', async () => {
      const owner = await api.signup();
      for (let i = 0; i < 5; i++)
        expect((await login(owner.user.email, `wrong-${i}-password`)).status).toBe(401);
      for (const password of ['wrong-again-password', PASSWORD]) {
        const locked = await login(owner.user.email, password);
        expect({ status: locked.status, code: locked.body.code }).toEqual({
          status: 429,
          code: 'too_many_attempts',
        });
        const retryAfter = Number(locked.headers.get('retry-after'));
        expect(retryAfter).toBeGreaterThan(850);
        expect(retryAfter).toBeLessThanOrEqual(900);
      }
      // Another account is not affected.
      const other = await api.signup();
      expect((await login(other.user.email, PASSWORD)).status).toBe(200);
      // Once the failures leave the window, the right password works again.
      await api.dataSource.query(
        `UPDATE auth.login_failures SET failed_at = failed_at - interval '15 minutes'`,
      );
      expect((await login(owner.user.email, PASSWORD)).status).toBe(200);
    });

    it('counts unknown e-mails like accounts, so locking does not reveal which e-mails exist', async () => {
      const email = anEmail();
      for (let i = 0; i < 5; i++) expect((await login(email, 'whatever-password')).status).toBe(401);
      expect((await login(email, 'whatever-password')).status).toBe(429);
      expect(
        await count(
          `SELECT 1 FROM auth.login_failures WHERE account_hash = sha256(convert_to('login:' || $1, 'UTF8'))`,
          [email],
        ),
      ).toBe(5);
      expect(await count(`SELECT 1 FROM auth.login_failures f WHERE strpos(f::text, $1) > 0`, [email])).toBe(
        0,
      );
    });

    it('forgets an account’s failures after a successful login', async () => {
      const owner = await api.signup();
      for (let i = 0; i < 4; i++)
        expect((await login(owner.user.email, 'wrong-password-x')).status).toBe(401);
      expect((await login(owner.user.email, PASSWORD)).status).toBe(200);
      for (let i = 0; i < 4; i++)
        expect((await login(owner.user.email, 'wrong-password-y')).status).toBe(401);
      expect((await login(owner.user.email, PASSWORD)).status).toBe(200);
    });

    it('lets at most 5 of 20 concurrent guesses at one account reach the password check', async () => {
      const owner = await api.signup();
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => login(owner.user.email, `guess-number-${i}`)),
      );
      const statuses = answers.map((a) => a.status);
      expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(15);
      expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
      expect((await login(owner.user.email, PASSWORD)).status).toBe(429);
    });

    it('locks a client IP after 20 failures across accounts, and only that IP', async () => {
      const ip = fromIp();
      const victim = await api.signup();
      for (let i = 0; i < 20; i++) expect((await login(anEmail(), 'spray-password', ip)).status).toBe(401);
      const locked = await login(victim.user.email, PASSWORD, ip);
      expect({ status: locked.status, code: locked.body.code }).toEqual({
        status: 429,
        code: 'too_many_attempts',
      });
      expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await login(victim.user.email, PASSWORD)).status).toBe(200);
    });

    it('refuses bad and unknown fields with 400', async () => {
      const owner = await api.signup();
      const extra = await api.post(
        '/v1/auth/login',
        { email: owner.user.email, password: PASSWORD, tenantId: owner.tenant.id },
        fromIp(),
      );
      expect({ status: extra.status, code: extra.body.code }).toEqual({
        status: 400,
        code: 'validation_failed',
      });
      const missing = await api.post('/v1/auth/login', { email: owner.user.email }, fromIp());
      expect(missing.status).toBe(400);
      expect(await count(`SELECT 1 FROM auth.refresh_families WHERE user_id = $1`, [owner.user.id])).toBe(1);
    });
  });

  describe('refresh', () => {
    it('spends the refresh token and answers a new pair', async () => {
      const owner = await api.signup();
      const first = await api.post<SessionResponse>('/v1/auth/refresh', { refreshToken: owner.refreshToken });
      expect(first.status).toBe(200);
      expect(first.body.user).toEqual(owner.user);
      expect(first.body.tenant).toEqual(owner.tenant);
      expect(first.body.refreshToken).not.toBe(owner.refreshToken);
      expect(first.body.accessToken).not.toBe(owner.accessToken);
      const second = await api.post<SessionResponse>('/v1/auth/refresh', {
        refreshToken: first.body.refreshToken,
      });
      expect(second.status).toBe(200);
      expect((await api.get('/v1/auth/me', bearer(second.body.accessToken))).status).toBe(200);
    });

    it('treats a spent token presented again as theft: 401 refresh_token_reused and the whole login revoked', async () => {
      const owner = await api.signup();
      const otherLogin = await login(owner.user.email, PASSWORD);
      const next = await api.post<SessionResponse>('/v1/auth/refresh', { refreshToken: owner.refreshToken });
      expect(next.status).toBe(200);

      const replay = await api.post('/v1/auth/refresh', { refreshToken: owner.refreshToken });
      expect({ status: replay.status, code: replay.body.code }).toEqual({
        status: 401,
        code: 'refresh_token_reused',
      });
      // The legitimate successor dies with its family...
      const successor = await api.post('/v1/auth/refresh', { refreshToken: next.body.refreshToken });
      expect({ status: successor.status, code: successor.body.code }).toEqual({
        status: 401,
        code: 'invalid_token',
      });
      // ...while the user's other login is a different family and lives on.
      expect(
        (await api.post('/v1/auth/refresh', { refreshToken: otherLogin.body.refreshToken })).status,
      ).toBe(200);
      const [family] = (await api.dataSource.query(
        `SELECT f.revoked_reason FROM auth.refresh_families f JOIN auth.refresh_tokens t ON t.family_id = f.id WHERE t.token_hash = sha256($1::bytea)`,
        [Buffer.from(owner.refreshToken)],
      )) as Array<{ revoked_reason: string }>;
      expect(family.revoked_reason).toBe('reuse');
    });

    it('lets exactly one of 10 concurrent refreshes of one token succeed', async () => {
      const owner = await api.signup();
      const answers = await Promise.all(
        Array.from({ length: 10 }, () =>
          api.post<SessionResponse>('/v1/auth/refresh', { refreshToken: owner.refreshToken }),
        ),
      );
      const winners = answers.filter((a) => a.status === 200);
      expect(winners).toHaveLength(1);
      expect(answers.filter((a) => a.status === 401 && a.body.code === 'refresh_token_reused')).toHaveLength(
        9,
      );
      // The same token arriving twice is indistinguishable from theft, so the family is gone (SPEC §4).
      expect(
        (await api.post('/v1/auth/refresh', { refreshToken: winners[0].body.refreshToken })).status,
      ).toBe(401);
      expect(
        await count(
          `SELECT 1 FROM auth.refresh_tokens t JOIN auth.refresh_families f ON f.id = t.family_id WHERE f.user_id = $1`,
          [owner.user.id],
        ),
      ).toBe(2);
    });

    it('answers 401 invalid_token for unknown, malformed and expired refresh tokens', async () => {
      for (const refreshToken of ['x'.repeat(43), 'short', owner32()]) {
        const answer = await api.post('/v1/auth/refresh', { refreshToken });
        expect({ status: answer.status, code: answer.body.code }).toEqual({
          status: 401,
          code: 'invalid_token',
        });
      }
      const owner = await api.signup();
      await api.dataSource.query(
        `UPDATE auth.refresh_tokens t SET expires_at = now() - interval '1 second' FROM auth.refresh_families f WHERE f.id = t.family_id AND f.user_id = $1`,
        [owner.user.id],
      );
      const expired = await api.post('/v1/auth/refresh', { refreshToken: owner.refreshToken });
      expect({ status: expired.status, code: expired.body.code }).toEqual({
        status: 401,
        code: 'invalid_token',
      });
      const extra = await api.post('/v1/auth/refresh', {
        refreshToken: owner.refreshToken,
        userId: owner.user.id,
      });
      expect(extra.status).toBe(400);
    });
  });

  describe('me and logout', () => {
    it('answers me for a bearer token and 401 invalid_token without one', async () => {
      const owner = await api.signup();
      const me = await api.get('/v1/auth/me', bearer(owner.accessToken));
      expect(me.status).toBe(200);
      expect(me.body).toEqual({ user: owner.user, tenant: owner.tenant });
      const anonymous = await api.get('/v1/auth/me');
      expect({ status: anonymous.status, code: anonymous.body.code }).toEqual({
        status: 401,
        code: 'invalid_token',
      });
      const garbage = await api.get('/v1/auth/me', bearer(`${owner.accessToken.slice(0, -4)}AAAA`));
      expect(garbage.status).toBe(401);
    });

    it('logout answers 204 and revokes that login’s refresh tokens only', async () => {
      const owner = await api.signup();
      const otherLogin = await login(owner.user.email, PASSWORD);
      const out = await api.post(
        '/v1/auth/logout',
        { refreshToken: owner.refreshToken },
        bearer(owner.accessToken),
      );
      expect(out.status).toBe(204);
      expect(out.body).toBeNull();
      const after = await api.post('/v1/auth/refresh', { refreshToken: owner.refreshToken });
      expect({ status: after.status, code: after.body.code }).toEqual({ status: 401, code: 'invalid_token' });
      expect(
        (await api.post('/v1/auth/refresh', { refreshToken: otherLogin.body.refreshToken })).status,
      ).toBe(200);
      expect((await api.post('/v1/auth/logout', { refreshToken: owner.refreshToken })).status).toBe(401);
    });
  });

  describe('tenant isolation', () => {
    it('never lets one tenant’s user end another’s session', async () => {
      const a = await api.signup();
      const b = await api.signup();
      expect(
        (await api.post('/v1/auth/logout', { refreshToken: b.refreshToken }, bearer(a.accessToken))).status,
      ).toBe(204);
      expect((await api.post('/v1/auth/refresh', { refreshToken: b.refreshToken })).status).toBe(200);
    });

    it('scopes me by tenant: a token pairing a user with another tenant finds no account', async () => {
      const a = await api.signup();
      const b = await api.signup();
      const { accessToken } = await api.app
        .get(AccessTokenIssuer)
        .issue({ userId: a.user.id, tenantId: b.tenant.id, role: 'owner' });
      const me = await api.get('/v1/auth/me', bearer(accessToken));
      expect({ status: me.status, code: me.body.code }).toEqual({ status: 401, code: 'invalid_token' });
      expect((await api.get('/v1/auth/me', bearer(b.accessToken))).body).toEqual({
        user: b.user,
        tenant: b.tenant,
      });
    });
  });
});

/** A well-formed refresh token that was never issued. */
function owner32(): string {
  return Buffer.alloc(32, 7).toString('base64url');
}
