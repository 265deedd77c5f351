import { randomInt, randomUUID } from 'node:crypto';
import { WhatsAppNumberMapped } from '@realapp/contracts';
import { expectEventually } from '@realapp/testing';
import {
  CreateTenantResponse,
  InviteResponse,
  SessionResponse,
  TenantPage,
  WhatsAppNumberView,
} from '../shared/views';
import {
  anEmail,
  AuthApiHarness,
  bearer,
  PASSWORD,
  startAuthApi,
  SUPER,
} from '../testing/auth-api.test-helper';

const aPhoneNumberId = (): string => String(randomInt(1e9, 1e12));

interface OutboxRow {
  type: string;
  envelope: { tenantId: string; data: Record<string, string> };
  published_at: Date | null;
}

describe('auth-api super-admin onboarding (SPEC §4) on the real database', () => {
  let api: AuthApiHarness;

  const createTenant = (body: Record<string, unknown>) =>
    api.post<CreateTenantResponse>('/v1/super/tenants', body, SUPER);
  const mapNumber = (tenantId: string, body: Record<string, unknown>) =>
    api.post<WhatsAppNumberView>(`/v1/super/tenants/${tenantId}/whatsapp-accounts`, body, SUPER);
  const mappedEvents = async (phoneNumberId: string): Promise<OutboxRow[]> =>
    (await api.dataSource.query(
      `SELECT type, envelope, published_at FROM messaging.outbox_log WHERE type = $1 AND envelope->'data'->>'phoneNumberId' = $2 ORDER BY seq`,
      [WhatsAppNumberMapped.type, phoneNumberId],
    )) as OutboxRow[];

  beforeAll(async () => {
    api = await startAuthApi();
  });

  afterAll(() => api.close());

  it('guards /v1/super/* with X-Super-Admin-Key: 401 api_key_required, 403 invalid_api_key', async () => {
    const missing = await api.post('/v1/super/tenants', { name: 'x' });
    expect({ status: missing.status, code: missing.body.code }).toEqual({
      status: 401,
      code: 'api_key_required',
    });
    const wrong = await api.post(
      '/v1/super/tenants',
      { name: 'x' },
      { 'x-super-admin-key': 'dev-super-admin-api-kez' },
    );
    expect({ status: wrong.status, code: wrong.body.code }).toEqual({ status: 403, code: 'invalid_api_key' });
    const owner = await api.signup();
    const userToken = await api.get('/v1/super/tenants', bearer(owner.accessToken));
    expect({ status: userToken.status, code: userToken.body.code }).toEqual({
      status: 403,
      code: 'invalid_api_key',
    });
    const opsKey = await api.get('/v1/super/tenants', { 'x-super-admin-key': 'dev-ops-api-key' });
    expect(opsKey.status).toBe(403);
  });

  it('creates a tenant without an invite, and with an admin invite that joins it as admin', async () => {
    const bare = await createTenant({ name: '  Loja Azul ' });
    expect(bare.status).toBe(201);
    expect(bare.body).toEqual({
      tenant: { id: expect.any(String), name: 'Loja Azul', status: 'active', createdAt: expect.any(String) },
    });

    const email = anEmail();
    const withAdmin = await createTenant({ name: 'Loja Verde', adminEmail: email });
    expect(withAdmin.status).toBe(201);
    expect(withAdmin.body.invite).toEqual({
      token: expect.stringMatching(/^[\w-]{43}$/),
      expiresAt: expect.any(String),
    });
    const joined = await api.post<SessionResponse>('/v1/auth/invites/accept', {
      token: withAdmin.body.invite?.token,
      password: PASSWORD,
      name: 'Carla',
    });
    expect(joined.status).toBe(200);
    expect(joined.body.user).toEqual({ id: expect.any(String), email, name: 'Carla', role: 'admin' });
    expect(joined.body.tenant).toEqual({
      id: withAdmin.body.tenant.id,
      name: 'Loja Verde',
      status: 'active',
    });
  });

  it('creates nothing when the admin e-mail already has an account (409) or a field is bad (400)', async () => {
    const owner = await api.signup();
    const name = `Atomic ${randomUUID()}`;
    const taken = await createTenant({ name, adminEmail: owner.user.email });
    expect({ status: taken.status, code: taken.body.code }).toEqual({ status: 409, code: 'email_taken' });
    for (const body of [
      { name: '' },
      { name, adminEmail: 'nope' },
      { name, plan: 'pro' },
      { name: 'n'.repeat(101) },
    ]) {
      const answer = await createTenant(body);
      expect({ status: answer.status, code: answer.body.code }).toEqual({
        status: 400,
        code: 'validation_failed',
      });
    }
    const rows = (await api.dataSource.query(`SELECT count(*)::int AS n FROM auth.tenants WHERE name = $1`, [
      name,
    ])) as Array<{ n: number }>;
    expect(rows[0].n).toBe(0);
  });

  it('lists tenants newest first with cursor pagination', async () => {
    const created: string[] = [];
    for (let i = 0; i < 5; i++) created.push((await createTenant({ name: `Paged ${i}` })).body.tenant.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: TenantPage } = await api.get<TenantPage>(
        `/v1/super/tenants?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        SUPER,
      );
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((t) => t.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    const ours = seen.filter((id) => created.includes(id));
    expect(ours).toEqual([...created].reverse());
    const all = (await api.dataSource.query(`SELECT count(*)::int AS n FROM auth.tenants`)) as Array<{
      n: number;
    }>;
    expect(seen).toHaveLength(all[0].n);

    const first = await api.get<TenantPage>('/v1/super/tenants', SUPER);
    expect(first.body.items.length).toBeLessThanOrEqual(20);
    expect(first.body.items[0]).toEqual({
      id: expect.any(String),
      name: expect.any(String),
      status: 'active',
      createdAt: expect.any(String),
    });
    for (const query of [
      'limit=0',
      'limit=101',
      'limit=abc',
      'cursor=%%%',
      `cursor=${Buffer.from('["x","y"]').toString('base64url')}`,
      // PostgreSQL's timestamptz refuses what Date.parse takes.
      `cursor=${Buffer.from(JSON.stringify(['1', randomUUID()])).toString('base64url')}`,
      `cursor=${Buffer.from(JSON.stringify(['2026-02-30T00:00:00.000000Z', randomUUID()])).toString('base64url')}`,
      `cursor=${Buffer.from(JSON.stringify(['2026-01-01T00:00:00.000000Z', 'x'])).toString('base64url')}`,
    ]) {
      const bad = await api.get(`/v1/super/tenants?${query}`, SUPER);
      expect({ query, status: bad.status, code: bad.body.code }).toEqual({
        query,
        status: 400,
        code: 'validation_failed',
      });
    }
  });

  it('invites an admin to an existing tenant; an unknown tenant is 404', async () => {
    const { body } = await createTenant({ name: 'Invited' });
    const email = anEmail();
    const answer = await api.post<InviteResponse>(
      `/v1/super/tenants/${body.tenant.id}/invite-admin`,
      { email },
      SUPER,
    );
    expect(answer.status).toBe(201);
    expect(answer.body).toEqual({ token: expect.any(String), expiresAt: expect.any(String) });
    const joined = await api.post<SessionResponse>('/v1/auth/invites/accept', {
      token: answer.body.token,
      password: PASSWORD,
      name: 'Dani',
    });
    expect(joined.body.user.role).toBe('admin');
    expect(joined.body.tenant.id).toBe(body.tenant.id);

    for (const tenantId of [randomUUID(), 'not-a-uuid']) {
      const missing = await api.post(
        `/v1/super/tenants/${tenantId}/invite-admin`,
        { email: anEmail() },
        SUPER,
      );
      expect({ status: missing.status, code: missing.body.code }).toEqual({ status: 404, code: 'not_found' });
    }
    const extra = await api.post(
      `/v1/super/tenants/${body.tenant.id}/invite-admin`,
      { email: anEmail(), role: 'owner' },
      SUPER,
    );
    expect(extra.status).toBe(400);
  });

  describe('WhatsApp number mapping', () => {
    it('maps a number and publishes WhatsAppNumberMapped through the outbox', async () => {
      const { body } = await createTenant({ name: 'Zap' });
      const phoneNumberId = aPhoneNumberId();
      const answer = await mapNumber(body.tenant.id, {
        phoneNumberId,
        wabaId: '102290129340398',
        displayPhoneNumber: '+55 11 99999-0000',
      });
      expect(answer.status).toBe(201);
      expect(answer.body).toEqual({
        phoneNumberId,
        wabaId: '102290129340398',
        displayPhoneNumber: '+55 11 99999-0000',
        tenantId: body.tenant.id,
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      const events = await mappedEvents(phoneNumberId);
      expect(events).toHaveLength(1);
      expect(events[0].envelope.tenantId).toBe(body.tenant.id);
      expect(events[0].envelope.data).toEqual({
        tenantId: body.tenant.id,
        phoneNumberId,
        wabaId: '102290129340398',
        displayPhoneNumber: '+55 11 99999-0000',
      });
      // The relay publishes it to the broker.
      await expectEventually(async () =>
        expect((await mappedEvents(phoneNumberId))[0].published_at).not.toBeNull(),
      );
    });

    it('is idempotent for the same tenant, publishes again only on a change, and answers 409 for another tenant', async () => {
      const a = (await createTenant({ name: 'Zap A' })).body.tenant.id;
      const b = (await createTenant({ name: 'Zap B' })).body.tenant.id;
      const phoneNumberId = aPhoneNumberId();
      const mapping = { phoneNumberId, wabaId: '111', displayPhoneNumber: '+55 11 1111-1111' };
      expect((await mapNumber(a, mapping)).status).toBe(201);
      expect((await mapNumber(a, mapping)).status).toBe(201);
      expect(await mappedEvents(phoneNumberId)).toHaveLength(1);

      const elsewhere = await mapNumber(b, mapping);
      expect({ status: elsewhere.status, code: elsewhere.body.code }).toEqual({
        status: 409,
        code: 'whatsapp_number_taken',
      });

      const changed = await mapNumber(a, { ...mapping, displayPhoneNumber: '+55 11 2222-2222' });
      expect(changed.body.displayPhoneNumber).toBe('+55 11 2222-2222');
      const events = await mappedEvents(phoneNumberId);
      expect(events.map((e) => e.envelope.data.displayPhoneNumber)).toEqual([
        '+55 11 1111-1111',
        '+55 11 2222-2222',
      ]);
    });

    it('gives a number raced by two tenants 10 times at once to one of them, with one event', async () => {
      const a = (await createTenant({ name: 'Race A' })).body.tenant.id;
      const b = (await createTenant({ name: 'Race B' })).body.tenant.id;
      const phoneNumberId = aPhoneNumberId();
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          mapNumber(i % 2 ? a : b, { phoneNumberId, wabaId: '222', displayPhoneNumber: '+55 21 3333-3333' }),
        ),
      );
      const rows = (await api.dataSource.query(
        `SELECT tenant_id FROM auth.whatsapp_numbers WHERE phone_number_id = $1`,
        [phoneNumberId],
      )) as Array<{
        tenant_id: string;
      }>;
      expect(rows).toHaveLength(1);
      const owner = rows[0].tenant_id;
      answers.forEach((answer, i) => expect(answer.status).toBe((i % 2 ? a : b) === owner ? 201 : 409));
      expect(await mappedEvents(phoneNumberId)).toHaveLength(1);
    });

    it('refuses bad fields (400) and unknown tenants (404), mapping nothing', async () => {
      const tenantId = (await createTenant({ name: 'Zap bad' })).body.tenant.id;
      const phoneNumberId = aPhoneNumberId();
      const valid = { phoneNumberId, wabaId: '333', displayPhoneNumber: '+55 31 4444-4444' };
      for (const body of [
        { ...valid, phoneNumberId: '+55119999' },
        { ...valid, phoneNumberId: 12345 },
        { ...valid, wabaId: 'abc' },
        { ...valid, displayPhoneNumber: '' },
        { ...valid, displayPhoneNumber: '9'.repeat(33) },
        { ...valid, tenantId },
        { phoneNumberId, wabaId: '333' },
      ]) {
        const answer = await mapNumber(tenantId, body);
        expect({ status: answer.status, code: answer.body.code }).toEqual({
          status: 400,
          code: 'validation_failed',
        });
      }
      const missing = await mapNumber(randomUUID(), valid);
      expect({ status: missing.status, code: missing.body.code }).toEqual({ status: 404, code: 'not_found' });
      const rows = (await api.dataSource.query(
        `SELECT 1 FROM auth.whatsapp_numbers WHERE phone_number_id = $1`,
        [phoneNumberId],
      )) as unknown[];
      expect(rows).toHaveLength(0);
      expect(await mappedEvents(phoneNumberId)).toHaveLength(0);
    });
  });
});
