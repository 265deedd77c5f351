import { InviteResponse, SessionResponse } from '../shared/views';
import { anEmail, AuthApiHarness, bearer, PASSWORD, startAuthApi } from '../testing/auth-api.test-helper';

describe('auth-api invites (SPEC §4, §16) on the real database', () => {
  let api: AuthApiHarness;

  const invite = (accessToken: string, body: Record<string, unknown>) =>
    api.post<InviteResponse>('/v1/auth/invites', body, bearer(accessToken));
  const accept = (token: string, extra: Record<string, unknown> = {}) =>
    api.post<SessionResponse>('/v1/auth/invites/accept', {
      token,
      password: PASSWORD,
      name: 'Bruno',
      ...extra,
    });

  beforeAll(async () => {
    api = await startAuthApi();
  });

  afterAll(() => api.close());

  it('lets an owner invite a member who joins the owner’s tenant with that role', async () => {
    const owner = await api.signup();
    const email = anEmail();
    const created = await invite(owner.accessToken, { email: ` ${email.toUpperCase()} `, role: 'member' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      token: expect.stringMatching(/^[\w-]{43}$/),
      expiresAt: expect.any(String),
    });
    const hours = (Date.parse(created.body.expiresAt) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(71.9);
    expect(hours).toBeLessThanOrEqual(72);

    const joined = await accept(created.body.token);
    expect(joined.status).toBe(200);
    expect(joined.body).toEqual({
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
      expiresIn: 900,
      user: { id: expect.any(String), email, name: 'Bruno', role: 'member' },
      tenant: owner.tenant,
    });
    const me = await api.get('/v1/auth/me', bearer(joined.body.accessToken));
    expect(me.body).toEqual({ user: joined.body.user, tenant: owner.tenant });
    const login = await api.post(
      '/v1/auth/login',
      { email, password: PASSWORD },
      { 'x-forwarded-for': '10.9.9.1' },
    );
    expect(login.status).toBe(200);
  });

  it('stores only a digest of the invite token', async () => {
    const owner = await api.signup();
    const created = await invite(owner.accessToken, { email: anEmail(), role: 'admin' });
    const plain = (await api.dataSource.query(
      `SELECT count(*)::int AS n FROM auth.invites i WHERE strpos(i::text, $1) > 0`,
      [created.body.token],
    )) as Array<{ n: number }>;
    const hashed = (await api.dataSource.query(
      `SELECT count(*)::int AS n FROM auth.invites WHERE token_hash = sha256(convert_to($1, 'UTF8'))`,
      [created.body.token],
    )) as Array<{ n: number }>;
    expect(hashed[0].n).toBe(1);
    expect(plain[0].n).toBe(0);
  });

  it('works once: a spent, expired or unknown invite answers 410 invite_unusable', async () => {
    const owner = await api.signup();
    const first = await invite(owner.accessToken, { email: anEmail(), role: 'member' });
    expect((await accept(first.body.token)).status).toBe(200);
    const again = await accept(first.body.token, { name: 'Someone else' });
    expect({ status: again.status, code: again.body.code }).toEqual({ status: 410, code: 'invite_unusable' });

    const second = await invite(owner.accessToken, { email: anEmail(), role: 'member' });
    await api.dataSource.query(
      `UPDATE auth.invites SET expires_at = now() - interval '1 second' WHERE token_hash = sha256(convert_to($1, 'UTF8'))`,
      [second.body.token],
    );
    const expired = await accept(second.body.token);
    expect({ status: expired.status, code: expired.body.code }).toEqual({
      status: 410,
      code: 'invite_unusable',
    });

    for (const token of [Buffer.alloc(32, 1).toString('base64url'), 'nope']) {
      const unknown = await accept(token);
      expect({ status: unknown.status, code: unknown.body.code }).toEqual({
        status: 410,
        code: 'invite_unusable',
      });
    }
  });

  it('lets exactly one of 10 concurrent acceptances of one invite through', async () => {
    const owner = await api.signup();
    const email = anEmail();
    const created = await invite(owner.accessToken, { email, role: 'member' });
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => accept(created.body.token, { name: `Racer ${i}` })),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, ...Array(9).fill(410)]);
    const users = (await api.dataSource.query(`SELECT count(*)::int AS n FROM auth.users WHERE email = $1`, [
      email,
    ])) as Array<{ n: number }>;
    expect(users[0].n).toBe(1);
  });

  it('answers a member 403 forbidden_role, and lets an admin invite', async () => {
    const owner = await api.signup();
    const memberInvite = await invite(owner.accessToken, { email: anEmail(), role: 'member' });
    const member = await accept(memberInvite.body.token);
    const refused = await invite(member.body.accessToken, { email: anEmail(), role: 'member' });
    expect({ status: refused.status, code: refused.body.code }).toEqual({
      status: 403,
      code: 'forbidden_role',
    });

    const adminInvite = await invite(owner.accessToken, { email: anEmail(), role: 'admin' });
    const admin = await accept(adminInvite.body.token);
    expect(admin.body.user.role).toBe('admin');
    expect((await invite(admin.body.accessToken, { email: anEmail(), role: 'member' })).status).toBe(201);
    const anonymous = await api.post('/v1/auth/invites', { email: anEmail(), role: 'member' });
    expect({ status: anonymous.status, code: anonymous.body.code }).toEqual({
      status: 401,
      code: 'invalid_token',
    });
  });

  it('refuses bad and unknown fields with 400, and an e-mail that has an account with 409, creating nothing', async () => {
    const owner = await api.signup();
    const before = (await api.dataSource.query(`SELECT count(*)::int AS n FROM auth.invites`)) as Array<{
      n: number;
    }>;
    for (const body of [
      { email: anEmail(), role: 'owner' },
      { email: anEmail(), role: 'member', tenantId: owner.tenant.id },
      { email: 'nope', role: 'member' },
      { role: 'member' },
    ]) {
      const answer = await invite(owner.accessToken, body);
      expect({ status: answer.status, code: answer.body.code }).toEqual({
        status: 400,
        code: 'validation_failed',
      });
    }
    const taken = await invite(owner.accessToken, { email: owner.user.email, role: 'member' });
    expect({ status: taken.status, code: taken.body.code }).toEqual({ status: 409, code: 'email_taken' });
    const after = (await api.dataSource.query(`SELECT count(*)::int AS n FROM auth.invites`)) as Array<{
      n: number;
    }>;
    expect(after[0].n).toBe(before[0].n);

    const created = await invite(owner.accessToken, { email: anEmail(), role: 'member' });
    for (const extra of [{ role: 'owner' }, { password: 'short' }, { name: '' }]) {
      const answer = await accept(created.body.token, extra);
      expect(answer.status).toBe(400);
    }
    expect((await accept(created.body.token)).status).toBe(200);
  });

  it('keeps an invite usable when its e-mail got an account meanwhile (409 email_taken)', async () => {
    const owner = await api.signup();
    const email = anEmail();
    const created = await invite(owner.accessToken, { email, role: 'member' });
    await api.signup({ email });
    const answer = await accept(created.body.token);
    expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 409, code: 'email_taken' });
    const rows = (await api.dataSource.query(
      `SELECT accepted_at FROM auth.invites WHERE token_hash = sha256(convert_to($1, 'UTF8'))`,
      [created.body.token],
    )) as Array<{ accepted_at: Date | null }>;
    expect(rows[0].accepted_at).toBeNull();
  });
});
