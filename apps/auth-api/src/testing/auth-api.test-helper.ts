import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AmqpConnection, destroyTopology, Topology } from '@realapp/messaging';
import { createTestDatabase, expectEventually, testEnv, TestDatabase } from '@realapp/testing';
import { createAuthApi } from '../app';
import { AuthApiConfig } from '../config';
import { SessionResponse } from '../shared/views';

/** What an error answer adds (problem+json); success bodies simply lack these fields. */
export interface ProblemFields {
  code?: string;
  detail?: string;
  errors?: Array<{ field: string; message: string }>;
}

export interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T & ProblemFields;
  headers: Headers;
}

export const SUPER = { 'x-super-admin-key': 'dev-super-admin-api-key' };
export const OPS = { 'x-ops-key': 'dev-ops-api-key' };

export const anEmail = (): string => `user-${randomUUID()}@example.com`;
export const PASSWORD = 'correct horse battery';

/** auth-api in-process on its own database and broker prefix, spoken to over real HTTP. */
export interface AuthApiHarness {
  url: string;
  app: NestFastifyApplication;
  config: AuthApiConfig;
  db: TestDatabase;
  dataSource: DataSource;
  request<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Answer<T>>;
  post<T = Record<string, unknown>>(
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Answer<T>>;
  get<T = Record<string, unknown>>(path: string, headers?: Record<string, string>): Promise<Answer<T>>;
  /** A new tenant with its owner (SPEC §4 signup). */
  signup(
    overrides?: Partial<{ email: string; password: string; name: string; tenantName: string }>,
  ): Promise<SessionResponse & { password: string }>;
  close(): Promise<void>;
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

export async function startAuthApi(overrides: Record<string, string> = {}): Promise<AuthApiHarness> {
  const db = await createTestDatabase();
  const { app, config } = await createAuthApi(testEnv(db.url, overrides));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = await app.getUrl();
  const dataSource = app.get(DataSource);

  const request = async <T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer<T>> => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: (text ? JSON.parse(text) : null) as T & ProblemFields,
      headers: response.headers,
    };
  };

  return {
    url,
    app,
    config,
    db,
    dataSource,
    request,
    post: (path, body, headers) => request('POST', path, body, headers),
    get: (path, headers) => request('GET', path, undefined, headers),
    async signup(values = {}) {
      const password = values.password ?? PASSWORD;
      const answer = await request<SessionResponse>('POST', '/v1/auth/signup', {
        email: values.email ?? anEmail(),
        password,
        name: values.name ?? 'Ana Souza',
        tenantName: values.tenantName ?? `Tenant ${randomUUID().slice(0, 8)}`,
      });
      if (answer.status !== 201)
        throw new Error(`signup failed: ${answer.status} ${JSON.stringify(answer.body)}`);
      return { ...answer.body, password };
    },
    async close() {
      const amqp = app.get(AmqpConnection);
      await expectEventually(() => expect(amqp.isConnected()).toBe(true));
      const channel = await amqp.channel();
      await destroyTopology(channel, app.get(Topology));
      await channel.close();
      await app.close();
      await db.drop();
    },
  };
}
