import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { connect } from 'amqplib';
import { randomInt, randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { EventEnvelope, MetaWebhookReceived, WebhookReceivedData } from '@realapp/contracts';
import { AmqpConnection, destroyTopology, OutboxService, Topology } from '@realapp/messaging';
import {
  createTestDatabase,
  expectEventually,
  REDIS_URL,
  startTestSandbox,
  testEnv,
  TestDatabase,
  TestSandbox,
} from '@realapp/testing';
import { ConnectionView, Flow, FlowsService, OnboardingService, TokenCipher } from '@realapp/whatsapp';
import { createCodexWorker } from '../../app';

export interface SignupIds {
  wabaId: string;
  phoneNumberId: string;
  businessId: string;
}

export interface SentMessage {
  id: string;
  phoneNumberId: string;
  to: string;
  text: string | null;
  at: string;
}

/**
 * codex-worker in-process with its own database and broker prefix, the provider sandbox as
 * Graph and OpenAI, and Meta's webhooks published the way the webhook-gateway publishes them
 * (`webhook.meta.received` through the outbox), with payloads the sandbox builds in Meta's shape.
 */
export interface WhatsAppWorkerStack {
  db: TestDatabase;
  env: Record<string, string>;
  worker: NestFastifyApplication;
  dataSource: DataSource;
  sandbox: TestSandbox;
  redis: Redis;
  encryptionKey: string;
  ids(): SignupIds;
  sender(): string;
  /** A completed Embedded Signup for the tenant (through the lib's service, as queue-api does it). */
  connect(tenantId: string, ids?: SignupIds, businessId?: string | null): Promise<ConnectionView>;
  publishFlow(tenantId: string, flow: Flow, domain?: string): Promise<void>;
  /** The payload Meta would post for one inbound text (built by the sandbox). */
  inboundPayload(
    phoneNumberId: string,
    from: string,
    text: string,
    messageId?: string,
  ): Promise<Record<string, unknown>>;
  partnerPayload(wabaId: string, ownerBusinessId: string): Promise<Record<string, unknown>>;
  /** Publishes `webhook.meta.received` envelopes for the payload, `copies` distinct envelopes at once. */
  deliver(
    payload: Record<string, unknown>,
    options?: { tenantId?: string | null; copies?: number },
  ): Promise<Array<EventEnvelope<WebhookReceivedData>>>;
  /** Puts the very same envelope on the worker's queue again (a broker redelivery). */
  redeliver(envelope: EventEnvelope<WebhookReceivedData>, times: number): Promise<void>;
  sentTo(to: string): Promise<SentMessage[]>;
  /** Waits for exactly `count` messages to `to`, then returns their texts oldest first. */
  expectSent(to: string, count: number): Promise<string[]>;
  sandboxCall<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T>;
  storedToken(connectionId: string, key?: string): Promise<string>;
  /** Stops this worker and starts another on the same database and queues (a deploy or a restart). */
  replaceWorker(overrides: Record<string, string>): Promise<NestFastifyApplication>;
  close(): Promise<void>;
}

export async function startWhatsAppWorkerStack(
  overrides: Record<string, string> = {},
): Promise<WhatsAppWorkerStack> {
  const db = await createTestDatabase();
  const sandbox = await startTestSandbox();
  const encryptionKey = TokenCipher.generateKeyHex();
  const env = testEnv(db.url, {
    META_GRAPH_BASE_URL: sandbox.url,
    MERCADO_PAGO_BASE_URL: sandbox.url,
    STRIPE_API_BASE_URL: sandbox.url,
    OPENAI_BASE_URL: `${sandbox.url}/v1`,
    TOKEN_ENCRYPTION_KEY: encryptionKey,
    META_GRAPH_TIMEOUT_MS: '3000',
    // The tests run the sweeper themselves, when they mean to.
    WHATSAPP_REPLY_SWEEP_INTERVAL_MS: '3600000',
    HEARTBEAT_INTERVAL_MS: '1000',
    DATABASE_POOL_SIZE: '20',
    ...overrides,
  });
  let generation = 0;
  const startWorker = async (extra: Record<string, string> = {}): Promise<NestFastifyApplication> => {
    generation += 1;
    const { app } = await createCodexWorker({ ...env, WORKER_ID: `whatsapp-worker-${generation}`, ...extra });
    await app.listen({ port: 0, host: '127.0.0.1' });
    await expectEventually(() => expect(app.get(AmqpConnection).isConnected()).toBe(true));
    return app;
  };
  let worker = await startWorker();
  let dataSource = worker.get(DataSource);
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });

  const sandboxCall = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${sandbox.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await response.json()) as T;
    if (response.status >= 400)
      throw new Error(`sandbox ${method} ${path} answered ${response.status}: ${JSON.stringify(json)}`);
    return json;
  };

  const sentTo = async (to: string): Promise<SentMessage[]> => {
    const { items } = await sandboxCall<{ items: SentMessage[] }>(
      'GET',
      `/_sandbox/meta/whatsapp/messages?to=${to}&limit=1000`,
    );
    return items.reverse();
  };

  const ids = (): SignupIds => {
    const base = randomInt(100_000_000, 999_999_999);
    return { wabaId: `11${base}`, phoneNumberId: `21${base}`, businessId: `31${base}` };
  };

  return {
    db,
    env,
    get worker() {
      return worker;
    },
    get dataSource() {
      return dataSource;
    },
    sandbox,
    redis,
    encryptionKey,
    ids,
    sender(): string {
      return `55119${randomInt(10_000_000, 99_999_999)}`;
    },
    async connect(tenantId, signup = ids(), businessId = signup.businessId): Promise<ConnectionView> {
      const onboarding = worker.get(OnboardingService);
      const session = await onboarding.start(tenantId, null);
      const { code } = await sandboxCall<{ code: string }>('POST', '/_sandbox/meta/oauth/codes', {
        wabaId: signup.wabaId,
        phoneNumberId: signup.phoneNumberId,
        displayPhoneNumber: '+55 11 91234-5678',
      });
      return onboarding.complete(tenantId, session.id, {
        code,
        wabaId: signup.wabaId,
        phoneNumberId: signup.phoneNumberId,
        ...(businessId === null ? {} : { businessId }),
      });
    },
    async publishFlow(tenantId, flow, domain = 'real_estate'): Promise<void> {
      const flows = worker.get(FlowsService);
      await flows.saveDraft(tenantId, domain, flow, null);
      await flows.publish(tenantId, domain);
    },
    async inboundPayload(phoneNumberId, from, text, messageId): Promise<Record<string, unknown>> {
      const answer = await sandboxCall<{ payload: Record<string, unknown> }>(
        'POST',
        '/_sandbox/meta/whatsapp/inbound',
        {
          phoneNumberId,
          from,
          text,
          ...(messageId === undefined ? {} : { messageId }),
        },
      );
      return answer.payload;
    },
    async partnerPayload(wabaId, ownerBusinessId): Promise<Record<string, unknown>> {
      const answer = await sandboxCall<{ payload: Record<string, unknown> }>(
        'POST',
        '/_sandbox/meta/partner-added',
        { wabaId, ownerBusinessId },
      );
      return answer.payload;
    },
    async deliver(payload, options = {}) {
      const outbox = worker.get(OutboxService);
      const copies = options.copies ?? 1;
      return Promise.all(
        Array.from({ length: copies }, () =>
          dataSource.transaction((tx) =>
            outbox.enqueue(tx, MetaWebhookReceived, {
              tenantId: options.tenantId ?? null,
              data: {
                webhookEventId: randomUUID(),
                provider: 'meta',
                providerEventId: `test:${randomUUID()}`,
                topic: 'messages',
                payload,
              },
            }),
          ),
        ),
      );
    },
    async redeliver(envelope, times): Promise<void> {
      const channel = await worker.get(AmqpConnection).confirmChannel();
      const queue = worker.get(Topology).queue('codex-worker', MetaWebhookReceived.type);
      for (let i = 0; i < times; i++) {
        channel.sendToQueue(queue, Buffer.from(JSON.stringify(envelope)), {
          messageId: envelope.id,
          persistent: true,
        });
      }
      await channel.waitForConfirms();
    },
    sentTo,
    async expectSent(to, count): Promise<string[]> {
      const sent = await expectEventually(async () => {
        const messages = await sentTo(to);
        expect(messages.length).toBeGreaterThanOrEqual(count);
        return messages;
      });
      // Anything more would arrive within the same processing: give it the chance to show up.
      await expectEventually(async () => {
        const unfinished = (await dataSource.query(
          `SELECT count(*)::int AS n FROM whatsapp.messages m JOIN whatsapp.conversations c ON c.id = m.conversation_id
           WHERE c.sender = $1 AND (m.status IN ('received', 'composing', 'pending', 'sending'))`,
          [to],
        )) as Array<{ n: number }>;
        expect(unfinished[0].n).toBe(0);
      });
      const final = await sentTo(to);
      expect(final).toHaveLength(count);
      return (final.length === sent.length ? sent : final).map((message) => message.text ?? '');
    },
    sandboxCall,
    async storedToken(connectionId, key = encryptionKey): Promise<string> {
      const [row] = (await dataSource.query(
        `SELECT token_ciphertext FROM whatsapp.connections WHERE id = $1`,
        [connectionId],
      )) as Array<{
        token_ciphertext: string;
      }>;
      return TokenCipher.fromKeys(key).decrypt(row.token_ciphertext, connectionId);
    },
    async replaceWorker(overrides): Promise<NestFastifyApplication> {
      await worker.close();
      worker = await startWorker(overrides);
      dataSource = worker.get(DataSource);
      return worker;
    },
    async close(): Promise<void> {
      redis.disconnect();
      // The topology goes after the worker, from a connection of its own: deleting a quorum queue
      // while the worker's consumer is still attached to it can hang in RabbitMQ.
      const topology = worker.get(Topology);
      try {
        await worker.close();
        const broker = await connect(env.AMQP_URL);
        try {
          await destroyTopology(await broker.createChannel(), topology).catch(() => undefined);
        } finally {
          await broker.close().catch(() => undefined);
        }
      } finally {
        await sandbox.close();
        await db.drop();
      }
    },
  };
}
