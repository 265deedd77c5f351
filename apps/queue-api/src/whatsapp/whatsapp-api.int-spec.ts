import { randomUUID } from 'node:crypto';
import { EventEnvelope, WebhookReceivedData } from '@realapp/contracts';
import { expectEventually } from '@realapp/testing';
import { InboundService, TokenCipher } from '@realapp/whatsapp';
import { ConnectionBody, OPS_KEY, startWhatsAppApiStack, TestTenant, WhatsAppApiStack } from './testing/whatsapp-api-stack';

interface Problem {
  code: string;
  errors?: Array<{ field: string; message: string }>;
}

interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

interface FlowBody {
  domain: string;
  version: number;
  status: 'draft' | 'published';
  start: string;
  nodes: Array<{ id: string; message: string; options: Array<{ match: string; next: string }> }>;
  publishedAt: string | null;
}

interface ConversationBody {
  id: string;
  phoneNumberId: string;
  from: string;
  lastMessageAt: string;
  messages: Array<{ direction: string; text: string | null; at: string }>;
}

const MENU = {
  start: 'welcome',
  nodes: [
    {
      id: 'welcome',
      message: 'Olá! 1) Comprar 2) Alugar',
      options: [
        { match: 'comprar', next: 'buy' },
        { match: 'alugar', next: 'rent' },
      ],
    },
    { id: 'buy', message: 'Qual bairro?', options: [{ match: 'voltar', next: 'welcome' }] },
    { id: 'rent', message: 'Quantos quartos?', options: [{ match: 'voltar', next: 'welcome' }] },
  ],
};

/** The envelope the webhook-gateway publishes for a stored Meta webhook (SPEC §7). */
function metaEnvelope(payload: Record<string, unknown>, tenantId: string | null = null): EventEnvelope<WebhookReceivedData> {
  return {
    id: randomUUID(),
    type: 'webhook.meta.received',
    version: 1,
    occurredAt: new Date().toISOString(),
    correlationId: randomUUID(),
    causationId: null,
    tenantId,
    data: { webhookEventId: randomUUID(), provider: 'meta', providerEventId: `test:${randomUUID()}`, topic: 'messages', payload },
  };
}

// Sends through Meta outages and AI timeouts take seconds by design.
jest.setTimeout(60_000);

describe('queue-api WhatsApp endpoints (SPEC §14, §16) on the real stack', () => {
  let stack: WhatsAppApiStack;

  const start = (tenant: TestTenant) =>
    stack.request<{ id: string; trackingCode: string; expiresAt: string; appId: string; configId: string }>('POST', '/v1/whatsapp/onboarding', {
      token: tenant.owner,
      body: {},
    });
  const complete = (tenant: TestTenant, sessionId: string, body: Record<string, unknown>, key = randomUUID()) =>
    stack.request<ConnectionBody & Problem>('POST', `/v1/whatsapp/onboarding/${sessionId}/complete`, {
      token: tenant.owner,
      idempotencyKey: key,
      body,
    });
  const partnerEvent = async (wabaId: string, ownerBusinessId: string): Promise<void> => {
    const { payload } = await stack.sandboxCall<{ payload: Record<string, unknown> }>('POST', '/_sandbox/meta/partner-added', {
      wabaId,
      ownerBusinessId,
    });
    await stack.app.get(InboundService).handleWebhook(metaEnvelope(payload));
  };
  const count = async (sql: string, params: unknown[]): Promise<number> => {
    const [row] = (await stack.dataSource.query(sql, params)) as Array<{ n: number }>;
    return row.n;
  };

  beforeAll(async () => {
    stack = await startWhatsAppApiStack();
  });

  afterAll(async () => {
    await stack?.close();
  });

  describe('authentication and roles', () => {
    const someId = randomUUID();
    it.each([
      ['POST', '/v1/whatsapp/onboarding'],
      ['POST', `/v1/whatsapp/onboarding/${someId}/complete`],
      ['GET', '/v1/whatsapp/connections'],
      ['GET', `/v1/whatsapp/connections/${someId}`],
      ['POST', `/v1/whatsapp/connections/${someId}/check`],
      ['DELETE', `/v1/whatsapp/connections/${someId}`],
      ['GET', '/v1/whatsapp/flows?domain=real_estate'],
      ['PUT', '/v1/whatsapp/flows/real_estate'],
      ['POST', '/v1/whatsapp/flows/real_estate/publish'],
      ['GET', '/v1/whatsapp/conversations'],
    ])('%s %s without a token → 401 invalid_token', async (method, path) => {
      const response = await stack.request<Problem>(method, path, {
        idempotencyKey: randomUUID(),
        body: method === 'POST' || method === 'PUT' ? {} : undefined,
      });
      expect(response.status).toBe(401);
      expect(response.body.code).toBe('invalid_token');
    });

    it.each([
      ['POST', '/v1/whatsapp/onboarding', {}],
      ['POST', `/v1/whatsapp/onboarding/${someId}/complete`, { code: 'x' }],
      ['DELETE', `/v1/whatsapp/connections/${someId}`, undefined],
      ['PUT', '/v1/whatsapp/flows/real_estate', MENU],
      ['POST', '/v1/whatsapp/flows/real_estate/publish', undefined],
    ])('%s %s as a member → 403 forbidden_role', async (method, path, body) => {
      const tenant = stack.aTenant();
      const response = await stack.request<Problem>(method, path, { token: tenant.member, idempotencyKey: randomUUID(), body });
      expect(response.status).toBe(403);
      expect(response.body.code).toBe('forbidden_role');
    });

    it('lets a member read connections, flows and conversations, and check a token', async () => {
      const tenant = stack.aTenant();
      const connection = await stack.connect(tenant);
      expect((await stack.request('GET', '/v1/whatsapp/connections', { token: tenant.member })).status).toBe(200);
      expect((await stack.request('POST', `/v1/whatsapp/connections/${connection.id}/check`, { token: tenant.member })).status).toBe(200);
      expect((await stack.request('GET', '/v1/whatsapp/conversations', { token: tenant.member })).status).toBe(200);
    });

    it.each([
      ['GET', '/v1/ops/whatsapp/orphans'],
      ['POST', `/v1/ops/whatsapp/orphans/${someId}/claim`],
    ])('%s %s needs X-Ops-Key: 401 without, 403 with a tenant token or a wrong key', async (method, path) => {
      const body = method === 'POST' ? { tenantId: randomUUID() } : undefined;
      expect((await stack.request<Problem>(method, path, { body })).body.code).toBe('api_key_required');
      const withToken = await stack.request<Problem>(method, path, { token: stack.aTenant().owner, body });
      expect([withToken.status, withToken.body.code]).toEqual([403, 'invalid_api_key']);
      const wrong = await stack.request<Problem>(method, path, { opsKey: 'not-the-key', body });
      expect([wrong.status, wrong.body.code]).toEqual([403, 'invalid_api_key']);
    });
  });

  describe('Embedded Signup', () => {
    it('starts a 30-minute session with the app and configuration ids', async () => {
      const before = Date.now();
      const response = await start(stack.aTenant());
      expect(response.status).toBe(201);
      expect(response.body).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        trackingCode: expect.stringMatching(/^[A-Za-z0-9_-]{16,64}$/),
        expiresAt: expect.any(String),
        appId: '1000000000000001',
        configId: '1000000000000002',
      });
      const ttl = Date.parse(response.body.expiresAt) - before;
      expect(ttl).toBeGreaterThan(29 * 60_000);
      expect(ttl).toBeLessThanOrEqual(30 * 60_000 + 5000);
    });

    it('refuses any field in the start body', async () => {
      const response = await stack.request<Problem>('POST', '/v1/whatsapp/onboarding', { token: stack.aTenant().owner, body: { foo: 1 } });
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('validation_failed');
    });

    it('completes: exchanges the code, stores the token encrypted, subscribes the app, maps the number → 201 connection', async () => {
      const tenant = stack.aTenant();
      const ids = stack.ids();
      const session = await start(tenant);
      const code = await stack.mintCode(ids);
      const response = await complete(tenant, session.body.id, { code, ...ids, trackingCode: session.body.trackingCode });
      expect(response.status).toBe(201);
      expect(response.body).toEqual({
        id: expect.any(String),
        wabaId: ids.wabaId,
        phoneNumberId: ids.phoneNumberId,
        displayPhoneNumber: '+55 11 98765-4321',
        status: 'active',
        tokenExpiresAt: expect.any(String),
        lastCheckedAt: null,
      });
      // The sandbox's tokens live 60 days.
      expect(Date.parse(response.body.tokenExpiresAt as string) - Date.now()).toBeGreaterThan(59 * 86_400_000);

      // Stored encrypted, bound to the connection: it opens with the key and this row's id only.
      const token = await stack.storedToken(response.body.id);
      expect(token).toMatch(/^EAAG/);
      expect(response.text).not.toContain(token);
      const [row] = (await stack.dataSource.query(`SELECT token_ciphertext FROM whatsapp.connections WHERE id = $1`, [response.body.id])) as Array<{
        token_ciphertext: string;
      }>;
      expect(row.token_ciphertext).not.toContain(token);
      expect(() => TokenCipher.fromKeys(stack.encryptionKey).decrypt(row.token_ciphertext, randomUUID())).toThrow();

      // Meta saw: code exchange with `code`, phone numbers, app subscription; all with the business token.
      const { items } = await stack.sandboxCall<{ items: Array<{ method: string; path: string; query: Record<string, unknown> }> }>(
        'GET',
        '/_sandbox/requests?provider=meta&limit=20',
      );
      const paths = items.map((r) => `${r.method} ${r.path}`);
      expect(paths).toEqual(
        expect.arrayContaining([
          'GET /v26.0/oauth/access_token',
          `GET /v26.0/${ids.wabaId}/phone_numbers`,
          `POST /v26.0/${ids.wabaId}/subscribed_apps`,
        ]),
      );
      expect(items.find((r) => r.path.endsWith('/subscribed_apps'))?.query).toHaveProperty('appsecret_proof');

      // The number is mapped to the tenant for the gateway's routing (SPEC §16), in the same transaction.
      const [mapped] = (await stack.dataSource.query(
        `SELECT envelope FROM messaging.outbox_log WHERE type = 'auth.whatsapp_number.mapped' AND envelope -> 'data' ->> 'phoneNumberId' = $1`,
        [ids.phoneNumberId],
      )) as Array<{ envelope: EventEnvelope<Record<string, string>> }>;
      expect(mapped.envelope.data).toEqual({
        tenantId: tenant.tenantId,
        phoneNumberId: ids.phoneNumberId,
        wabaId: ids.wabaId,
        displayPhoneNumber: '+55 11 98765-4321',
      });
      expect(mapped.envelope.tenantId).toBe(tenant.tenantId);
    });

    it('replays a completion with the same Idempotency-Key, and refuses a second completion with 410', async () => {
      const tenant = stack.aTenant();
      const ids = stack.ids();
      const session = await start(tenant);
      const body = { code: await stack.mintCode(ids), ...ids };
      const key = randomUUID();
      const first = await complete(tenant, session.body.id, body, key);
      const replay = await complete(tenant, session.body.id, body, key);
      expect(first.status).toBe(201);
      expect(replay.status).toBe(201);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.body).toEqual(first.body);
      const again = await complete(tenant, session.body.id, { code: await stack.mintCode(ids), ...ids });
      expect([again.status, again.body.code]).toEqual([410, 'onboarding_session_unusable']);
    });

    it('answers 410 onboarding_session_unusable for an expired session, and exchanges nothing', async () => {
      const tenant = stack.aTenant();
      const ids = stack.ids();
      const session = await start(tenant);
      await stack.dataSource.query(`UPDATE whatsapp.onboarding_sessions SET expires_at = now() - interval '1 second' WHERE id = $1`, [
        session.body.id,
      ]);
      const code = await stack.mintCode(ids);
      const response = await complete(tenant, session.body.id, { code, ...ids });
      expect([response.status, response.body.code]).toEqual([410, 'onboarding_session_unusable']);
      expect(await count(`SELECT count(*)::int AS n FROM whatsapp.connections WHERE waba_id = $1`, [ids.wabaId])).toBe(0);
    });

    it('completes exactly once when the same session is completed five times at once', async () => {
      const tenant = stack.aTenant();
      const ids = stack.ids();
      const session = await start(tenant);
      const codes = await Promise.all(Array.from({ length: 5 }, () => stack.mintCode(ids)));
      const answers = await Promise.all(codes.map((code) => complete(tenant, session.body.id, { code, ...ids })));
      const statuses = answers.map((a) => a.status).sort();
      expect(statuses.filter((s) => s === 201)).toHaveLength(1);
      for (const answer of answers.filter((a) => a.status !== 201)) {
        expect(['onboarding_in_progress', 'onboarding_session_unusable']).toContain(answer.body.code);
      }
      expect(await count(`SELECT count(*)::int AS n FROM whatsapp.connections WHERE waba_id = $1`, [ids.wabaId])).toBe(1);
    });

    it('keeps the session usable when Meta refuses the code (422), and completes with a good one', async () => {
      const tenant = stack.aTenant();
      const ids = stack.ids();
      const session = await start(tenant);
      const refused = await complete(tenant, session.body.id, { code: 'not-a-code', ...ids });
      expect([refused.status, refused.body.code]).toEqual([422, 'onboarding_code_rejected']);
      const done = await complete(tenant, session.body.id, { code: await stack.mintCode(ids), ...ids });
      expect(done.status).toBe(201);
    });

    it('answers 503 provider_unavailable when Meta keeps failing, and the session stays usable', async () => {
      const tenant = stack.aTenant();
      const ids = stack.ids();
      const session = await start(tenant);
      const code = await stack.mintCode(ids);
      await stack.sandboxCall('POST', '/_sandbox/faults', { provider: 'meta', status: 500, count: 10 });
      try {
        const failed = await complete(tenant, session.body.id, { code, ...ids });
        expect([failed.status, failed.body.code]).toEqual([503, 'provider_unavailable']);
      } finally {
        await stack.sandboxCall('DELETE', '/_sandbox/faults');
      }
      const done = await complete(tenant, session.body.id, { code: await stack.mintCode(ids), ...ids });
      expect(done.status).toBe(201);
    });

    it('reads the WABA from the token when the signup did not report one (coexistence)', async () => {
      const tenant = stack.aTenant();
      const ids = stack.ids();
      const session = await start(tenant);
      const response = await complete(tenant, session.body.id, { code: await stack.mintCode(ids) });
      expect(response.status).toBe(201);
      expect(response.body).toMatchObject({ wabaId: ids.wabaId, phoneNumberId: ids.phoneNumberId });
    });

    it('refuses a phoneNumberId that is not one of the WABA numbers (422)', async () => {
      const tenant = stack.aTenant();
      const ids = stack.ids();
      const session = await start(tenant);
      const response = await complete(tenant, session.body.id, { code: await stack.mintCode(ids), wabaId: ids.wabaId, phoneNumberId: '5' });
      expect([response.status, response.body.code]).toEqual([422, 'phone_number_not_in_waba']);
    });

    it('refuses a WABA another tenant has connected (409)', async () => {
      const ids = stack.ids();
      await stack.connect(stack.aTenant(), ids);
      const other = stack.aTenant();
      const session = await start(other);
      const response = await complete(other, session.body.id, { code: await stack.mintCode(ids), ...ids });
      expect([response.status, response.body.code]).toEqual([409, 'waba_connected_elsewhere']);
    });

    it.each([
      [{}, 'code'],
      [{ code: '' }, 'code'],
      [{ code: 'c', wabaId: 'abc' }, 'wabaId'],
      [{ code: 'c', phoneNumberId: 12 }, 'phoneNumberId'],
      [{ code: 'c', businessId: '1'.repeat(40) }, 'businessId'],
      [{ code: 'c', extra: true }, 'extra'],
    ])('refuses %j with 400 validation_failed naming %s', async (body, field) => {
      const tenant = stack.aTenant();
      const session = await start(tenant);
      const response = await complete(tenant, session.body.id, body);
      expect([response.status, response.body.code]).toEqual([400, 'validation_failed']);
      expect(response.body.errors?.map((e) => e.field)).toContain(field);
    });

    it('refuses a trackingCode that is not the session one', async () => {
      const tenant = stack.aTenant();
      const ids = stack.ids();
      const session = await start(tenant);
      const response = await complete(tenant, session.body.id, { code: await stack.mintCode(ids), ...ids, trackingCode: 'someone-elses-code' });
      expect(response.status).toBe(400);
      expect(response.body.errors?.[0].field).toBe('trackingCode');
    });

    it("answers 404 for another tenant's session and for an unknown one", async () => {
      const session = await start(stack.aTenant());
      const other = stack.aTenant();
      expect((await complete(other, session.body.id, { code: 'x' })).status).toBe(404);
      expect((await complete(other, randomUUID(), { code: 'x' })).status).toBe(404);
      expect((await complete(other, 'not-a-uuid', { code: 'x' })).status).toBe(404);
    });
  });

  describe('connections', () => {
    it('lists, reads, checks and disconnects, only within the tenant', async () => {
      const tenant = stack.aTenant();
      const other = stack.aTenant();
      const first = await stack.connect(tenant);
      const second = await stack.connect(tenant);
      await stack.connect(other);

      const page1 = await stack.request<Page<ConnectionBody>>('GET', '/v1/whatsapp/connections?limit=1', { token: tenant.member });
      expect(page1.body.items.map((c) => c.id)).toEqual([second.id]);
      const page2 = await stack.request<Page<ConnectionBody>>(`GET`, `/v1/whatsapp/connections?limit=1&cursor=${page1.body.nextCursor}`, {
        token: tenant.member,
      });
      expect(page2.body).toEqual({ items: [expect.objectContaining({ id: first.id })], nextCursor: null });

      const read = await stack.request<ConnectionBody>('GET', `/v1/whatsapp/connections/${first.id}`, { token: tenant.member });
      expect(read.body).toEqual({ ...first, ids: undefined, id: first.id });

      for (const [method, path] of [
        ['GET', `/v1/whatsapp/connections/${first.id}`],
        ['POST', `/v1/whatsapp/connections/${first.id}/check`],
        ['DELETE', `/v1/whatsapp/connections/${first.id}`],
      ]) {
        const response = await stack.request<Problem>(method, path, { token: other.owner });
        expect([method, path, response.status]).toEqual([method, path, 404]);
      }
      const stillActive = await stack.request<ConnectionBody>('GET', `/v1/whatsapp/connections/${first.id}`, { token: tenant.member });
      expect(stillActive.body.status).toBe('active');
    });

    it('checks the token with debug_token: {valid, expiresAt, scopes} and the status follows', async () => {
      const tenant = stack.aTenant();
      const connection = await stack.connect(tenant);
      const token = await stack.storedToken(connection.id);
      const check = () => stack.request<{ valid: boolean; expiresAt: string | null; scopes: string[] }>('POST', `/v1/whatsapp/connections/${connection.id}/check`, {
        token: tenant.member,
      });
      const get = async () => (await stack.request<ConnectionBody>('GET', `/v1/whatsapp/connections/${connection.id}`, { token: tenant.member })).body;

      const fine = await check();
      expect(fine.status).toBe(200);
      expect(fine.body).toEqual({ valid: true, expiresAt: expect.any(String), scopes: expect.arrayContaining(['whatsapp_business_messaging']) });
      expect(fine.text).not.toContain(token);
      expect(await get()).toMatchObject({ status: 'active', lastCheckedAt: expect.any(String) });

      const inThreeDays = Math.floor(Date.now() / 1000) + 3 * 86_400;
      await stack.sandboxCall('POST', `/_sandbox/meta/tokens/${token}`, { expiresAt: inThreeDays });
      expect((await check()).body).toMatchObject({ valid: true, expiresAt: new Date(inThreeDays * 1000).toISOString() });
      expect(await get()).toMatchObject({ status: 'token_expiring', tokenExpiresAt: new Date(inThreeDays * 1000).toISOString() });

      await stack.sandboxCall('POST', `/_sandbox/meta/tokens/${token}`, { expiresAt: 0 });
      expect((await check()).body).toMatchObject({ valid: true, expiresAt: null });
      expect((await get()).status).toBe('active');

      await stack.sandboxCall('POST', `/_sandbox/meta/tokens/${token}`, { isValid: false });
      expect((await check()).body.valid).toBe(false);
      expect((await get()).status).toBe('token_invalid');

      // Each problem raised an ops incident for this connection.
      const incidents = (await stack.dataSource.query(
        `SELECT code FROM ops.incidents WHERE place = $1 AND status = 'open' ORDER BY created_at`,
        [`whatsapp:connection:${connection.id}`],
      )) as Array<{ code: string }>;
      expect(incidents.map((i) => i.code)).toEqual(['whatsapp_token_expiring', 'whatsapp_token_invalid']);
    });

    it('disconnects: unsubscribes, 204, stays readable as disconnected, and a repeat is harmless', async () => {
      const tenant = stack.aTenant();
      const connection = await stack.connect(tenant);
      const deleted = await stack.request('DELETE', `/v1/whatsapp/connections/${connection.id}`, { token: tenant.admin });
      expect(deleted.status).toBe(204);
      expect(deleted.text).toBe('');
      const read = await stack.request<ConnectionBody>('GET', `/v1/whatsapp/connections/${connection.id}`, { token: tenant.member });
      expect(read.body.status).toBe('disconnected');
      const list = await stack.request<Page<ConnectionBody>>('GET', '/v1/whatsapp/connections', { token: tenant.member });
      expect(list.body.items.map((c) => [c.id, c.status])).toEqual([[connection.id, 'disconnected']]);
      const { items } = await stack.sandboxCall<{ items: Array<{ method: string; path: string }> }>('GET', '/_sandbox/requests?provider=meta&limit=5');
      expect(items.map((r) => `${r.method} ${r.path}`)).toContain(`DELETE /v26.0/${connection.wabaId}/subscribed_apps`);
      // The token is of no use any more and is not kept.
      expect(await count(`SELECT count(*)::int AS n FROM whatsapp.connections WHERE id = $1 AND token_ciphertext IS NULL`, [connection.id])).toBe(1);
      expect((await stack.request('DELETE', `/v1/whatsapp/connections/${connection.id}`, { token: tenant.admin })).status).toBe(204);
      const check = await stack.request<{ valid: boolean }>('POST', `/v1/whatsapp/connections/${connection.id}/check`, { token: tenant.member });
      expect(check.body.valid).toBe(false);
      expect((await stack.request<ConnectionBody>('GET', `/v1/whatsapp/connections/${connection.id}`, { token: tenant.member })).body.status).toBe('disconnected');
    });

    it('reconnects a disconnected WABA through a new signup', async () => {
      const tenant = stack.aTenant();
      const connection = await stack.connect(tenant);
      await stack.request('DELETE', `/v1/whatsapp/connections/${connection.id}`, { token: tenant.admin });
      const again = await stack.connect(tenant, connection.ids);
      expect(again.id).toBe(connection.id);
      expect(again.status).toBe('active');
    });
  });

  describe('partner events and orphans', () => {
    it('makes an orphan of an unknown WABA that ops lists and claims for a tenant', async () => {
      const ids = stack.ids();
      await partnerEvent(ids.wabaId, ids.businessId);
      await partnerEvent(ids.wabaId, ids.businessId);
      const orphans = await stack.request<Page<{ id: string; wabaId: string; ownerBusinessId: string; receivedAt: string }>>(
        'GET',
        '/v1/ops/whatsapp/orphans?limit=100',
        { opsKey: OPS_KEY },
      );
      const orphan = orphans.body.items.filter((o) => o.wabaId === ids.wabaId);
      expect(orphan).toEqual([{ id: expect.any(String), wabaId: ids.wabaId, ownerBusinessId: ids.businessId, receivedAt: expect.any(String) }]);

      const tenant = stack.aTenant();
      const claim = (tenantId: string) =>
        stack.request<ConnectionBody & Problem & { tenantId: string }>('POST', `/v1/ops/whatsapp/orphans/${orphan[0].id}/claim`, {
          opsKey: OPS_KEY,
          body: { tenantId },
        });
      const claimed = await claim(tenant.tenantId);
      expect(claimed.status).toBe(200);
      expect(claimed.body).toMatchObject({ id: orphan[0].id, wabaId: ids.wabaId, tenantId: tenant.tenantId });
      expect((await claim(tenant.tenantId)).status).toBe(200);
      expect((await claim(randomUUID())).body.code).toBe('orphan_already_claimed');

      const after = await stack.request<Page<{ wabaId: string }>>('GET', '/v1/ops/whatsapp/orphans?limit=100', { opsKey: OPS_KEY });
      expect(after.body.items.map((o) => o.wabaId)).not.toContain(ids.wabaId);
      const mine = await stack.request<Page<ConnectionBody>>('GET', '/v1/whatsapp/connections', { token: tenant.member });
      expect(mine.body.items.map((c) => c.wabaId)).toEqual([ids.wabaId]);
    });

    it('answers 404 for an unknown orphan and 400 for a bad tenantId', async () => {
      const unknown = await stack.request<Problem>('POST', `/v1/ops/whatsapp/orphans/${randomUUID()}/claim`, {
        opsKey: OPS_KEY,
        body: { tenantId: randomUUID() },
      });
      expect(unknown.status).toBe(404);
      const bad = await stack.request<Problem>('POST', `/v1/ops/whatsapp/orphans/${randomUUID()}/claim`, { opsKey: OPS_KEY, body: { tenantId: 'x' } });
      expect([bad.status, bad.body.code]).toEqual([400, 'validation_failed']);
    });

    it('attaches the WABA of a completion to the orphan Meta reported first (case 1, event first)', async () => {
      const tenant = stack.aTenant();
      const ids = stack.ids();
      await partnerEvent(ids.wabaId, ids.businessId);
      const connection = await stack.connect(tenant, ids);
      const [orphan] = (await stack.dataSource.query(`SELECT id FROM whatsapp.connections WHERE waba_id = $1`, [ids.wabaId])) as Array<{ id: string }>;
      expect(connection.id).toBe(orphan.id);
      const orphans = await stack.request<Page<{ wabaId: string }>>('GET', '/v1/ops/whatsapp/orphans?limit=100', { opsKey: OPS_KEY });
      expect(orphans.body.items.map((o) => o.wabaId)).not.toContain(ids.wabaId);
    });
  });

  describe('flows', () => {
    const put = (tenant: TestTenant, body: unknown, domain = 'real_estate') =>
      stack.request<FlowBody & Problem>('PUT', `/v1/whatsapp/flows/${domain}`, { token: tenant.admin, body });
    const get = (tenant: TestTenant, query = 'domain=real_estate') =>
      stack.request<FlowBody & Problem>('GET', `/v1/whatsapp/flows?${query}`, { token: tenant.member });
    const publish = (tenant: TestTenant, domain = 'real_estate') =>
      stack.request<FlowBody & Problem>('POST', `/v1/whatsapp/flows/${domain}/publish`, { token: tenant.owner });

    it('saves drafts as new versions, publishes, and keeps the previous published version readable', async () => {
      const tenant = stack.aTenant();
      expect((await get(tenant)).status).toBe(404);

      const v1 = await put(tenant, MENU);
      expect(v1.status).toBe(200);
      expect(v1.body).toMatchObject({ domain: 'real_estate', version: 1, status: 'draft', start: 'welcome', nodes: MENU.nodes, publishedAt: null });
      const published = await publish(tenant);
      expect(published.status).toBe(200);
      expect(published.body).toMatchObject({ version: 1, status: 'published', publishedAt: expect.any(String) });

      const changed = { ...MENU, nodes: MENU.nodes.map((n) => (n.id === 'welcome' ? { ...n, message: 'Bem-vindo! 1) Comprar 2) Alugar' } : n)) };
      expect((await put(tenant, changed)).body).toMatchObject({ version: 2, status: 'draft' });
      expect((await get(tenant)).body).toMatchObject({ version: 2, status: 'draft', nodes: changed.nodes });
      expect((await get(tenant, 'domain=real_estate&version=1')).body).toMatchObject({ version: 1, status: 'published', nodes: MENU.nodes });

      expect((await publish(tenant)).body).toMatchObject({ version: 2, status: 'published' });
      expect((await publish(tenant)).body).toMatchObject({ version: 2, status: 'published' });
      expect((await get(tenant, 'domain=real_estate&version=1')).body).toMatchObject({ version: 1, status: 'published' });
      expect((await get(tenant, 'domain=real_estate&version=9')).status).toBe(404);
    });

    it('names each bad node by id, and writes nothing', async () => {
      const tenant = stack.aTenant();
      const broken = {
        start: 'welcome',
        nodes: [
          { id: 'welcome', message: 'Olá', options: [{ match: 'a', next: 'ghost' }] },
          { id: 'island', message: 'Ninguém chega aqui', options: [] },
          { id: 'empty', message: '', options: [] },
        ],
      };
      const response = await put(tenant, broken);
      expect([response.status, response.body.code]).toEqual([400, 'validation_failed']);
      const fields = response.body.errors?.map((e) => e.field) ?? [];
      expect(fields).toEqual(expect.arrayContaining(['nodes.welcome.options[0].next', 'nodes.island', 'nodes.empty.message']));
      expect(fields.every((f) => f.startsWith('nodes.'))).toBe(true);

      const noStart = await put(tenant, { nodes: MENU.nodes });
      expect(noStart.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'start' })]));
      const unknownStart = await put(tenant, { ...MENU, start: 'nowhere' });
      expect(unknownStart.body.errors?.map((e) => e.field)).toContain('start');
      const extraField = await put(tenant, { ...MENU, nodes: [{ ...MENU.nodes[0], color: 'red' }, ...MENU.nodes.slice(1)] });
      expect(extraField.body.errors?.map((e) => e.field)).toContain('nodes.welcome.color');
      const extraTop = await put(tenant, { ...MENU, owner: 'me' });
      expect(extraTop.body.errors?.map((e) => e.field)).toContain('owner');

      expect((await get(tenant)).status).toBe(404);
      expect(await count(`SELECT count(*)::int AS n FROM whatsapp.flows WHERE tenant_id = $1`, [tenant.tenantId])).toBe(0);
    });

    it('refuses a malformed domain with 400 and publishing nothing with 404', async () => {
      const tenant = stack.aTenant();
      expect((await put(tenant, MENU, 'Real-Estate')).status).toBe(400);
      expect((await get(tenant, 'domain=')).status).toBe(400);
      expect((await get(tenant, '')).status).toBe(400);
      expect((await publish(tenant)).status).toBe(404);
    });

    it('gives concurrent saves distinct versions', async () => {
      const tenant = stack.aTenant();
      const answers = await Promise.all(Array.from({ length: 5 }, () => put(tenant, MENU)));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
      expect(answers.map((a) => a.body.version).sort()).toEqual([1, 2, 3, 4, 5]);
    });

    it("keeps tenants' flows apart", async () => {
      const tenant = stack.aTenant();
      const other = stack.aTenant();
      await put(tenant, MENU);
      await publish(tenant);
      expect((await get(other)).status).toBe(404);
      expect((await publish(other)).status).toBe(404);
      expect((await put(other, MENU)).body.version).toBe(1);
      expect((await get(tenant)).body).toMatchObject({ version: 1, status: 'published' });
    });
  });

  describe('conversations', () => {
    it('lists conversations with inbound messages and replies, paginated, only within the tenant', async () => {
      const tenant = stack.aTenant();
      const connection = await stack.connect(tenant);
      await stack.request('PUT', '/v1/whatsapp/flows/real_estate', { token: tenant.admin, body: MENU });
      await stack.request('POST', '/v1/whatsapp/flows/real_estate/publish', { token: tenant.admin });
      const inbound = stack.app.get(InboundService);
      const say = async (from: string, text: string): Promise<void> => {
        const { payload } = await stack.sandboxCall<{ payload: Record<string, unknown> }>('POST', '/_sandbox/meta/whatsapp/inbound', {
          phoneNumberId: connection.phoneNumberId,
          from,
          text,
        });
        await inbound.handleWebhook(metaEnvelope(payload, tenant.tenantId));
      };
      await say('5511911110001', 'oi');
      await say('5511911110002', 'olá');
      await say('5511911110002', 'comprar');

      const page1 = await stack.request<Page<ConversationBody>>('GET', '/v1/whatsapp/conversations?limit=1', { token: tenant.member });
      expect(page1.status).toBe(200);
      expect(page1.body.items).toEqual([
        {
          id: expect.any(String),
          phoneNumberId: connection.phoneNumberId,
          from: '5511911110002',
          lastMessageAt: expect.any(String),
          messages: [
            { direction: 'inbound', text: 'olá', at: expect.any(String) },
            { direction: 'outbound', text: MENU.nodes[0].message, at: expect.any(String) },
            { direction: 'inbound', text: 'comprar', at: expect.any(String) },
            { direction: 'outbound', text: 'Qual bairro?', at: expect.any(String) },
          ],
        },
      ]);
      const page2 = await stack.request<Page<ConversationBody>>(`GET`, `/v1/whatsapp/conversations?limit=1&cursor=${page1.body.nextCursor}`, {
        token: tenant.member,
      });
      expect(page2.body.items.map((c) => c.from)).toEqual(['5511911110001']);
      expect(page2.body.nextCursor).toBeNull();

      const other = await stack.request<Page<ConversationBody>>('GET', '/v1/whatsapp/conversations', { token: stack.aTenant().member });
      expect(other.body).toEqual({ items: [], nextCursor: null });
      expect((await stack.request<Problem>('GET', '/v1/whatsapp/conversations?cursor=%%%', { token: tenant.member })).status).toBe(400);
      expect((await stack.request<Problem>('GET', '/v1/whatsapp/conversations?limit=101', { token: tenant.member })).status).toBe(400);
      await expectEventually(async () => {
        const { items } = await stack.sandboxCall<{ items: unknown[] }>('GET', `/_sandbox/meta/whatsapp/messages?to=5511911110002`);
        expect(items).toHaveLength(2);
      });
    });
  });
});
