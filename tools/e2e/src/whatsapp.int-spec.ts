import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomInt, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { AmqpConnection, destroyTopology, Topology } from '@realapp/messaging';
import { DEVELOPMENT_VALUES } from '@realapp/platform';
import {
  createTestDatabase,
  expectEventually,
  startTestJwks,
  startTestSandbox,
  testEnv,
  TestDatabase,
  TestJwks,
  TestSandbox,
} from '@realapp/testing';
import { ConnectionsService, TokenCipher } from '@realapp/whatsapp';
// End-to-end suites start the real services side by side (type:e2e may depend on everything); Nx forbids
// importing an app from another project whatever the tags, so the disable stays confined to these imports.
/* eslint-disable @nx/enforce-module-boundaries */
import { createCodexWorker } from '../../../apps/codex-worker/src/app';
import { createQueueApi } from '../../../apps/queue-api/src/app';
import { createWebhookGateway } from '../../../apps/webhook-gateway/src/app';
/* eslint-enable @nx/enforce-module-boundaries */

jest.setTimeout(120_000);

/*
 * The WhatsApp channel end to end (SPEC §14): queue-api, the webhook-gateway and codex-worker
 * in-process on one database and broker prefix, the provider sandbox as Meta (its signed webhooks
 * go to the gateway, which verifies, stores and publishes them) and a JWKS for access tokens. Every
 * service logs at debug level to files, so the suite can show that a business token never
 * appears in an answer, a log line or the database in clear.
 */

const OPS_KEY = DEVELOPMENT_VALUES.OPS_API_KEY;
const MENU = {
  start: 'welcome',
  nodes: [
    {
      id: 'welcome',
      message: 'Olá! Você quer 1) Comprar 2) Alugar?',
      options: [
        { match: 'comprar', next: 'buy' },
        { match: 'alugar', next: 'rent' },
      ],
    },
    { id: 'buy', message: 'Em qual bairro?', options: [{ match: 'voltar', next: 'welcome' }] },
    { id: 'rent', message: 'Quantos quartos?', options: [{ match: 'voltar', next: 'welcome' }] },
  ],
};

interface Answer<T> {
  status: number;
  text: string;
  body: T;
}

interface Connection {
  id: string;
  wabaId: string;
  phoneNumberId: string | null;
  status: string;
  tokenExpiresAt: string | null;
}

describe('WhatsApp channel end to end: signup, partner events, inbound → reply (SPEC §14)', () => {
  let db: TestDatabase;
  let jwks: TestJwks;
  let sandbox: TestSandbox;
  let logDir: string;
  let encryptionKey: string;
  const apps: NestFastifyApplication[] = [];
  let queueUrl: string;
  let worker: NestFastifyApplication;
  let dataSource: DataSource;
  /** Every answer queue-api gave in this suite, to look for tokens in. */
  const answers: string[] = [];

  const api = async <T>(
    method: string,
    path: string,
    options: { token?: string; ops?: boolean; body?: unknown } = {},
  ): Promise<Answer<T>> => {
    const headers: Record<string, string> = { 'idempotency-key': randomUUID() };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.ops) headers['x-ops-key'] = OPS_KEY;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${queueUrl}${path}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.text();
    answers.push(text);
    return { status: response.status, text, body: (text ? JSON.parse(text) : null) as T };
  };
  const control = async <T>(path: string, body?: unknown, method = 'POST'): Promise<T> => {
    const response = await fetch(`${sandbox.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await response.json()) as T;
    if (response.status >= 400)
      throw new Error(`sandbox ${path} answered ${response.status}: ${JSON.stringify(json)}`);
    return json;
  };
  const sentTo = async (to: string): Promise<string[]> => {
    const { items } = await control<{ items: Array<{ text: string }> }>(
      `/_sandbox/meta/whatsapp/messages?to=${to}`,
      undefined,
      'GET',
    );
    return items.map((m) => m.text).reverse();
  };
  const expectReplies = async (to: string, replies: string[]): Promise<void> => {
    await expectEventually(async () => expect(await sentTo(to)).toEqual(replies), { timeoutMs: 20000 });
  };
  const aTenant = () => {
    const tenantId = randomUUID();
    return {
      tenantId,
      owner: jwks.issue({ tenantId, role: 'owner' }),
      member: jwks.issue({ tenantId, role: 'member' }),
    };
  };
  const ids = () => {
    const base = randomInt(100_000_000, 999_999_999);
    return { wabaId: `12${base}`, phoneNumberId: `22${base}`, businessId: `32${base}` };
  };
  const sender = (): string => `55219${randomInt(10_000_000, 99_999_999)}`;

  /** The full Embedded Signup through queue-api; waits until the gateway routes the number. */
  const signup = async (tenant: ReturnType<typeof aTenant>, signupIds = ids()): Promise<Connection> => {
    const session = await api<{ id: string; trackingCode: string }>('POST', '/v1/whatsapp/onboarding', {
      token: tenant.owner,
      body: {},
    });
    expect(session.status).toBe(201);
    const { code } = await control<{ code: string }>('/_sandbox/meta/oauth/codes', {
      wabaId: signupIds.wabaId,
      phoneNumberId: signupIds.phoneNumberId,
      displayPhoneNumber: '+55 21 99876-5432',
    });
    const completed = await api<Connection>('POST', `/v1/whatsapp/onboarding/${session.body.id}/complete`, {
      token: tenant.owner,
      body: { code, ...signupIds, trackingCode: session.body.trackingCode },
    });
    expect(completed.status).toBe(201);
    await expectEventually(async () => {
      const rows = (await dataSource.query(
        `SELECT tenant_id FROM webhooks.whatsapp_numbers WHERE phone_number_id = $1`,
        [signupIds.phoneNumberId],
      )) as Array<{ tenant_id: string }>;
      expect(rows).toEqual([{ tenant_id: tenant.tenantId }]);
    });
    return completed.body;
  };
  const publishMenu = async (tenant: ReturnType<typeof aTenant>): Promise<void> => {
    expect(
      (await api('PUT', '/v1/whatsapp/flows/real_estate', { token: tenant.owner, body: MENU })).status,
    ).toBe(200);
    expect(
      (await api('POST', '/v1/whatsapp/flows/real_estate/publish', { token: tenant.owner })).status,
    ).toBe(200);
  };
  /** A customer's message, posted by the sandbox to the gateway as a signed Meta webhook. */
  const customerSays = async (
    phoneNumberId: string,
    from: string,
    text: string,
    count = 1,
  ): Promise<void> => {
    const answer = await control<{ notified: { status: number; statuses?: number[] } }>(
      '/_sandbox/meta/whatsapp/inbound',
      {
        phoneNumberId,
        from,
        text,
        count,
      },
    );
    expect(answer.notified.status).toBe(200);
  };
  const partnerAdded = async (wabaId: string, ownerBusinessId: string, count = 1): Promise<void> => {
    const answer = await control<{ notified: { status: number } }>('/_sandbox/meta/partner-added', {
      wabaId,
      ownerBusinessId,
      count,
    });
    expect(answer.notified.status).toBe(200);
  };
  const storedToken = async (connectionId: string): Promise<string> => {
    const [row] = (await dataSource.query(`SELECT token_ciphertext FROM whatsapp.connections WHERE id = $1`, [
      connectionId,
    ])) as Array<{
      token_ciphertext: string;
    }>;
    return TokenCipher.fromKeys(encryptionKey).decrypt(row.token_ciphertext, connectionId);
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    jwks = await startTestJwks();
    logDir = mkdtempSync(join(tmpdir(), 'realapp-whatsapp-logs-'));
    encryptionKey = TokenCipher.generateKeyHex();
    const base = testEnv(db.url, {
      JWKS_URL: jwks.url,
      TOKEN_ENCRYPTION_KEY: encryptionKey,
      LOG_LEVEL: 'debug',
      DEBUG_LOG_DIR: logDir,
      DATABASE_POOL_SIZE: '10',
      HEARTBEAT_INTERVAL_MS: '1000',
      META_INSIGHTS_INTERVAL_MS: '600000',
    });
    const gateway = (await createWebhookGateway(base)).app;
    apps.push(gateway);
    await gateway.listen({ port: 0, host: '127.0.0.1' });
    sandbox = await startTestSandbox(await gateway.getUrl());
    const env = {
      ...base,
      META_GRAPH_BASE_URL: sandbox.url,
      OPENAI_BASE_URL: `${sandbox.url}/v1`,
      MERCADO_PAGO_BASE_URL: sandbox.url,
      STRIPE_API_BASE_URL: sandbox.url,
      WORKER_ID: 'e2e-whatsapp-worker',
    };
    const queue = (await createQueueApi(env)).app;
    apps.push(queue);
    await queue.listen({ port: 0, host: '127.0.0.1' });
    queueUrl = await queue.getUrl();
    worker = (await createCodexWorker(env)).app;
    apps.push(worker);
    await worker.listen({ port: 0, host: '127.0.0.1' });
    for (const app of apps)
      await expectEventually(() => expect(app.get(AmqpConnection).isConnected()).toBe(true));
    dataSource = queue.get(DataSource);
  });

  afterAll(async () => {
    const survivor = apps[apps.length - 1];
    if (survivor?.get(AmqpConnection).isConnected()) {
      const channel = await survivor.get(AmqpConnection).channel();
      await destroyTopology(channel, survivor.get(Topology)).catch(() => undefined);
      await channel.close().catch(() => undefined);
    }
    for (const app of apps.reverse()) await app.close();
    await sandbox?.close();
    await jwks?.close();
    await db?.drop();
    if (logDir) rmSync(logDir, { recursive: true, force: true });
  });

  it('signup with the partner event first: the orphan waits, the completion attaches it, one connection', async () => {
    const tenant = aTenant();
    const signupIds = ids();
    await partnerAdded(signupIds.wabaId, signupIds.businessId, 3);
    await expectEventually(async () => {
      const orphans = await api<{ items: Array<{ wabaId: string }> }>(
        'GET',
        '/v1/ops/whatsapp/orphans?limit=100',
        { ops: true },
      );
      expect(orphans.body.items.map((o) => o.wabaId)).toContain(signupIds.wabaId);
    });
    const connection = await signup(tenant, signupIds);
    expect(connection).toMatchObject({
      wabaId: signupIds.wabaId,
      phoneNumberId: signupIds.phoneNumberId,
      status: 'active',
    });
    const orphans = await api<{ items: Array<{ wabaId: string }> }>(
      'GET',
      '/v1/ops/whatsapp/orphans?limit=100',
      { ops: true },
    );
    expect(orphans.body.items.map((o) => o.wabaId)).not.toContain(signupIds.wabaId);
    const list = await api<{ items: Connection[] }>('GET', '/v1/whatsapp/connections', {
      token: tenant.member,
    });
    expect(list.body.items.map((c) => c.id)).toEqual([connection.id]);
  });

  it('signup with the partner event after: still one connection, and the event is recorded as processed', async () => {
    const tenant = aTenant();
    const signupIds = ids();
    const connection = await signup(tenant, signupIds);
    await partnerAdded(signupIds.wabaId, signupIds.businessId, 2);
    await expectEventually(async () => {
      const events = (await dataSource.query(
        `SELECT status FROM webhooks.events WHERE provider = 'meta' AND resource_id = $1`,
        [signupIds.wabaId],
      )) as Array<{ status: string }>;
      expect(events.length).toBeGreaterThan(0);
      expect(events.every((e) => e.status === 'processed')).toBe(true);
    });
    const rows = (await dataSource.query(
      `SELECT id, tenant_id FROM whatsapp.connections WHERE waba_id = $1`,
      [signupIds.wabaId],
    )) as Array<{
      id: string;
      tenant_id: string;
    }>;
    expect(rows).toEqual([{ id: connection.id, tenant_id: tenant.tenantId }]);
  });

  it('an orphan claimed by ops appears in the tenant list', async () => {
    const signupIds = ids();
    await partnerAdded(signupIds.wabaId, signupIds.businessId);
    const orphan = await expectEventually(async () => {
      const orphans = await api<{ items: Array<{ id: string; wabaId: string }> }>(
        'GET',
        '/v1/ops/whatsapp/orphans?limit=100',
        { ops: true },
      );
      const found = orphans.body.items.find((o) => o.wabaId === signupIds.wabaId);
      expect(found).toBeDefined();
      return found as { id: string };
    });
    const tenant = aTenant();
    const claimed = await api('POST', `/v1/ops/whatsapp/orphans/${orphan.id}/claim`, {
      ops: true,
      body: { tenantId: tenant.tenantId },
    });
    expect(claimed.status).toBe(200);
    const list = await api<{ items: Connection[] }>('GET', '/v1/whatsapp/connections', {
      token: tenant.member,
    });
    expect(list.body.items.map((c) => c.wabaId)).toEqual([signupIds.wabaId]);
  });

  it('answers a customer through the signed webhook path, once even when Meta delivers the message 5× at once', async () => {
    const tenant = aTenant();
    const connection = await signup(tenant);
    await publishMenu(tenant);
    const from = sender();
    await customerSays(connection.phoneNumberId as string, from, 'Oi, tudo bem?', 5);
    await expectReplies(from, [MENU.nodes[0].message]);
    const conversations = await api<{
      items: Array<{ from: string; messages: Array<{ direction: string; text: string }> }>;
    }>('GET', '/v1/whatsapp/conversations', { token: tenant.member });
    expect(conversations.body.items).toEqual([
      expect.objectContaining({
        from,
        messages: [
          { direction: 'inbound', text: 'Oi, tudo bem?', at: expect.any(String) },
          { direction: 'outbound', text: MENU.nodes[0].message, at: expect.any(String) },
        ],
      }),
    ]);
  });

  it('walks the menu across several messages, repeating the node when nothing matches (no AI key)', async () => {
    const tenant = aTenant();
    const connection = await signup(tenant);
    await publishMenu(tenant);
    const from = sender();
    const phone = connection.phoneNumberId as string;
    const expected: string[] = [];
    for (const [text, reply] of [
      ['olá', MENU.nodes[0].message],
      ['2', MENU.nodes[2].message],
      ['não entendi', MENU.nodes[2].message],
      ['VOLTAR', MENU.nodes[0].message],
      ['Comprar', MENU.nodes[1].message],
    ]) {
      await customerSays(phone, from, text);
      expected.push(reply);
      await expectReplies(from, expected);
    }
  });

  it('token expiring and invalid: the on-demand check and the 02:00 job set the status and raise incidents', async () => {
    const tenant = aTenant();
    const expiring = await signup(tenant);
    const invalid = await signup(tenant);
    await control(`/_sandbox/meta/tokens/${await storedToken(expiring.id)}`, {
      expiresAt: Math.floor(Date.now() / 1000) + 86_400,
    });
    await control(`/_sandbox/meta/tokens/${await storedToken(invalid.id)}`, { isValid: false });

    const check = await api<{ valid: boolean; expiresAt: string | null; scopes: string[] }>(
      'POST',
      `/v1/whatsapp/connections/${expiring.id}/check`,
      {
        token: tenant.member,
      },
    );
    expect(check.body).toMatchObject({ valid: true, expiresAt: expect.any(String) });
    await worker.get(ConnectionsService).runTokenHealthCheck();

    const list = await api<{ items: Connection[] }>('GET', '/v1/whatsapp/connections', {
      token: tenant.member,
    });
    expect(Object.fromEntries(list.body.items.map((c) => [c.id, c.status]))).toEqual({
      [expiring.id]: 'token_expiring',
      [invalid.id]: 'token_invalid',
    });
    const incidents = await api<{ items: Array<{ code: string; place: string }> }>(
      'GET',
      '/v1/ops/incidents?limit=100',
      { ops: true },
    );
    const ours = incidents.body.items.filter(
      (i) => i.place.endsWith(expiring.id) || i.place.endsWith(invalid.id),
    );
    expect(ours.map((i) => i.code).sort()).toEqual(['whatsapp_token_expiring', 'whatsapp_token_invalid']);
  });

  it('never shows a business token in an answer, a log line or the database in clear', async () => {
    const tenant = aTenant();
    const connection = await signup(tenant);
    await publishMenu(tenant);
    await customerSays(connection.phoneNumberId as string, sender(), 'oi');
    await api('POST', `/v1/whatsapp/connections/${connection.id}/check`, { token: tenant.member });
    await api('GET', `/v1/whatsapp/connections/${connection.id}`, { token: tenant.member });

    const tokens = await Promise.all(
      (
        (await dataSource.query(
          `SELECT id FROM whatsapp.connections WHERE token_ciphertext IS NOT NULL`,
        )) as Array<{ id: string }>
      ).map((row) => storedToken(row.id)),
    );
    expect(tokens.length).toBeGreaterThan(3);
    expect(answers.length).toBeGreaterThan(20);

    // Answers: no token, and no field whose name says token holds anything but a date.
    for (const token of tokens) for (const text of answers) expect(text.includes(token)).toBe(false);

    // Logs: every service wrote at debug level to DEBUG_LOG_DIR.
    await expectEventually(() => {
      const files = readdirSync(logDir);
      expect(files.some((f) => f.startsWith('queue-api'))).toBe(true);
      expect(files.some((f) => f.startsWith('codex-worker'))).toBe(true);
    });
    const logs = readdirSync(logDir)
      .map((file) => readFileSync(join(logDir, file), 'utf8'))
      .join('\n');
    expect(logs.length).toBeGreaterThan(10_000);
    expect(logs).toContain('whatsapp signup completed');
    for (const token of tokens) expect(logs.includes(token)).toBe(false);

    // The database: every text-like column of every table, whatever its schema.
    const columns = (await dataSource.query(
      `SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns
       WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
         AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'bytea', 'ARRAY')`,
    )) as Array<{ table_schema: string; table_name: string; column_name: string; data_type: string }>;
    expect(columns.length).toBeGreaterThan(20);
    for (const token of tokens) {
      for (const {
        table_schema: schema,
        table_name: table,
        column_name: column,
        data_type: type,
      } of columns) {
        const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;
        // bytea as text would be hex; 'escape' keeps printable ASCII (a token) readable.
        const expr = type === 'bytea' ? `encode(${ident(column)}, 'escape')` : `${ident(column)}::text`;
        const [hit] = (await dataSource.query(
          `SELECT count(*)::int AS n FROM ${ident(schema)}.${ident(table)} WHERE position($1 in ${expr}) > 0`,
          [token],
        )) as Array<{ n: number }>;
        expect([schema, table, column, hit.n]).toEqual([schema, table, column, 0]);
      }
    }
  });
});
