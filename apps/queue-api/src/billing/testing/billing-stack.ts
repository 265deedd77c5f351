import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';
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
import { createQueueApi } from '../../app';

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

export interface RequestOptions {
  token?: string;
  idempotencyKey?: string;
  /** A value to JSON-encode, or the exact body text (for amounts JSON.stringify cannot write, like 3e3). */
  body?: unknown;
  rawBody?: string;
}

/** A test tenant: its id and tokens for each role. */
export interface TestTenant {
  tenantId: string;
  owner: string;
  admin: string;
  member: string;
}

/**
 * queue-api in-process on a free port, with its own database and broker prefix, the provider
 * sandbox standing in for Mercado Pago and Stripe, and a JWKS issuing access tokens like auth-api.
 */
export interface BillingStack {
  app: NestFastifyApplication;
  url: string;
  dataSource: DataSource;
  sandbox: TestSandbox;
  jwks: TestJwks;
  db: TestDatabase;
  aTenant(): TestTenant;
  request<T = Record<string, unknown>>(
    method: string,
    path: string,
    options?: RequestOptions,
  ): Promise<ApiResponse<T>>;
  sandboxCall<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T>;
  close(): Promise<void>;
}

export async function startBillingStack(overrides: Record<string, string> = {}): Promise<BillingStack> {
  const db = await createTestDatabase();
  const sandbox = await startTestSandbox();
  const jwks = await startTestJwks();
  const env = testEnv(db.url, {
    JWKS_URL: jwks.url,
    MERCADO_PAGO_BASE_URL: sandbox.url,
    STRIPE_API_BASE_URL: sandbox.url,
    PUBLIC_WEBHOOK_BASE_URL: 'http://127.0.0.1:3003',
    PUBLIC_APP_URL: 'http://127.0.0.1:8080',
    DATABASE_POOL_SIZE: '30',
    ...overrides,
  });
  const { app } = await createQueueApi(env);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = await app.getUrl();

  const request = async <T>(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<ApiResponse<T>> => {
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
    let body: string | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${url}${path}`, { method, headers, body });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: (text ? JSON.parse(text) : null) as T,
    };
  };

  return {
    app,
    url,
    dataSource: app.get(DataSource),
    sandbox,
    jwks,
    db,
    aTenant(): TestTenant {
      const tenantId = randomUUID();
      return {
        tenantId,
        owner: jwks.issue({ tenantId, role: 'owner' }),
        admin: jwks.issue({ tenantId, role: 'admin' }),
        member: jwks.issue({ tenantId, role: 'member' }),
      };
    },
    request,
    async sandboxCall<T>(method: string, path: string, body?: unknown): Promise<T> {
      const response = await fetch(`${sandbox.url}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const json = (await response.json()) as T;
      if (response.status >= 400)
        throw new Error(`sandbox ${method} ${path} answered ${response.status}: ${JSON.stringify(json)}`);
      return json;
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
