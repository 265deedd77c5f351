import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomInt, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AmqpConnection, destroyTopology, Topology } from '@realapp/messaging';
import {
  createTestDatabase,
  startTestJwks,
  startTestSandbox,
  testEnv,
  TestDatabase,
  TestJwks,
  TestSandbox,
} from '@realapp/testing';
import { TokenCipher } from '@realapp/whatsapp';
import { createQueueApi } from '../../app';

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  /** The body as text too: what a token leak would show up in. */
  text: string;
  body: T;
}

export interface RequestOptions {
  token?: string;
  opsKey?: string;
  idempotencyKey?: string;
  body?: unknown;
}

export interface TestTenant {
  tenantId: string;
  owner: string;
  admin: string;
  member: string;
}

export interface ConnectionBody {
  id: string;
  wabaId: string;
  phoneNumberId: string | null;
  displayPhoneNumber: string | null;
  status: string;
  tokenExpiresAt: string | null;
  lastCheckedAt: string | null;
}

export interface SignupIds {
  wabaId: string;
  phoneNumberId: string;
  businessId: string;
}

/**
 * queue-api in-process with its own database and broker prefix, the provider sandbox as Meta's
 * Graph API, and a JWKS issuing access tokens like auth-api's. The token encryption key is the
 * suite's own, so a test can open what the API stored.
 */
export interface WhatsAppApiStack {
  app: NestFastifyApplication;
  dataSource: DataSource;
  sandbox: TestSandbox;
  jwks: TestJwks;
  encryptionKey: string;
  aTenant(): TestTenant;
  /** Fresh Meta ids (digits) for one signup. */
  ids(): SignupIds;
  request<T = Record<string, unknown>>(method: string, path: string, options?: RequestOptions): Promise<ApiResponse<T>>;
  sandboxCall<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T>;
  /** A signup code Meta would give for this WABA and number (token lifetime in seconds; null: never expires). */
  mintCode(ids: Partial<SignupIds>, expiresIn?: number | null): Promise<string>;
  /** Start → complete, through the API; answers the connection. */
  connect(tenant: TestTenant, ids?: SignupIds, extra?: Record<string, unknown>): Promise<ConnectionBody & { ids: SignupIds }>;
  /** The business token the API stored for a connection, opened with the suite's key. */
  storedToken(connectionId: string): Promise<string>;
  close(): Promise<void>;
}

export const OPS_KEY = 'dev-ops-api-key';

export async function startWhatsAppApiStack(overrides: Record<string, string> = {}): Promise<WhatsAppApiStack> {
  const db: TestDatabase = await createTestDatabase();
  const sandbox = await startTestSandbox();
  const jwks = await startTestJwks();
  const encryptionKey = TokenCipher.generateKeyHex();
  const env = testEnv(db.url, {
    JWKS_URL: jwks.url,
    META_GRAPH_BASE_URL: sandbox.url,
    TOKEN_ENCRYPTION_KEY: encryptionKey,
    MERCADO_PAGO_BASE_URL: sandbox.url,
    STRIPE_API_BASE_URL: sandbox.url,
    DATABASE_POOL_SIZE: '20',
    ...overrides,
  });
  const { app } = await createQueueApi(env);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = await app.getUrl();
  const dataSource = app.get(DataSource);

  const request = async <T>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> => {
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.opsKey) headers['x-ops-key'] = options.opsKey;
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const response = await fetch(`${url}${path}`, { method, headers, body });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, body: (text ? JSON.parse(text) : null) as T };
  };

  const sandboxCall = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${sandbox.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await response.json()) as T;
    if (response.status >= 400) throw new Error(`sandbox ${method} ${path} answered ${response.status}: ${JSON.stringify(json)}`);
    return json;
  };

  const ids = (): SignupIds => {
    const base = randomInt(100_000_000, 999_999_999);
    return { wabaId: `10${base}`, phoneNumberId: `20${base}`, businessId: `30${base}` };
  };

  const mintCode = async (signup: Partial<SignupIds>, expiresIn?: number | null): Promise<string> => {
    const { code } = await sandboxCall<{ code: string }>('POST', '/_sandbox/meta/oauth/codes', {
      ...(signup.wabaId === undefined ? {} : { wabaId: signup.wabaId }),
      ...(signup.phoneNumberId === undefined ? {} : { phoneNumberId: signup.phoneNumberId, displayPhoneNumber: '+55 11 98765-4321' }),
      ...(expiresIn === undefined ? {} : { expiresIn }),
    });
    return code;
  };

  return {
    app,
    dataSource,
    sandbox,
    jwks,
    encryptionKey,
    aTenant(): TestTenant {
      const tenantId = randomUUID();
      return {
        tenantId,
        owner: jwks.issue({ tenantId, role: 'owner' }),
        admin: jwks.issue({ tenantId, role: 'admin' }),
        member: jwks.issue({ tenantId, role: 'member' }),
      };
    },
    ids,
    request,
    sandboxCall,
    mintCode,
    async connect(tenant, signup = ids(), extra = {}) {
      const session = await request<{ id: string }>('POST', '/v1/whatsapp/onboarding', { token: tenant.admin, body: {} });
      if (session.status !== 201) throw new Error(`onboarding answered ${session.status}: ${session.text}`);
      const code = await mintCode(signup);
      const completed = await request<ConnectionBody>('POST', `/v1/whatsapp/onboarding/${session.body.id}/complete`, {
        token: tenant.admin,
        idempotencyKey: randomUUID(),
        body: { code, wabaId: signup.wabaId, phoneNumberId: signup.phoneNumberId, businessId: signup.businessId, ...extra },
      });
      if (completed.status !== 201) throw new Error(`completion answered ${completed.status}: ${completed.text}`);
      return { ...completed.body, ids: signup };
    },
    async storedToken(connectionId: string): Promise<string> {
      const [row] = (await dataSource.query(`SELECT token_ciphertext FROM whatsapp.connections WHERE id = $1`, [connectionId])) as Array<{
        token_ciphertext: string;
      }>;
      return TokenCipher.fromKeys(encryptionKey).decrypt(row.token_ciphertext, connectionId);
    },
    async close(): Promise<void> {
      const amqp = app.get(AmqpConnection);
      if (amqp.isConnected()) {
        const channel = await amqp.channel();
        await destroyTopology(channel, app.get(Topology)).catch(() => undefined);
        await channel.close().catch(() => undefined);
      }
      await app.close();
      await sandbox.close();
      await jwks.close();
      await db.drop();
    },
  };
}
