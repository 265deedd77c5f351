import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { LedgerEntryView, LedgerService, Wallet } from '@realapp/ledger';
import { AmqpConnection, destroyTopology, Topology } from '@realapp/messaging';
import { MercadoPagoClient, SubscriptionService, TopupService } from '@realapp/payments';
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
import { createQueueApi } from '../../app';
// The orders flow spans both apps (the API takes the order, the worker launches it at Meta), so
// this suite starts codex-worker in-process beside queue-api. Nx forbids importing an app from
// another project whatever the tags; the disable stays confined to this test helper.
/* eslint-disable @nx/enforce-module-boundaries */
import { createCodexWorker } from '../../../../codex-worker/src/app';
import { CampaignSweeper } from '../../../../codex-worker/src/campaigns/campaign-sweeper';
/* eslint-enable @nx/enforce-module-boundaries */

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

export interface RequestOptions {
  token?: string;
  idempotencyKey?: string;
  body?: unknown;
}

export interface TestTenant {
  tenantId: string;
  token: string;
}

export interface SandboxCampaign {
  id: string;
  name: string;
  status: string;
  lifetime_budget?: string;
  objective?: string;
  spend?: string;
}

/**
 * queue-api and codex-worker in-process on one database and broker prefix, Meta (and Mercado
 * Pago, for top-ups and plans) at the provider sandbox with REAL_ADS_ENABLED=true, tokens from a
 * test JWKS. Money and plans arrive the way real ones do: a PIX top-up approved at the sandbox and
 * applied by TopupService, a pre-approval authorized at the sandbox and applied by SubscriptionService.
 */
export interface AdsStack {
  api: NestFastifyApplication;
  worker: NestFastifyApplication;
  dataSource: DataSource;
  sandbox: TestSandbox;
  jwks: TestJwks;
  db: TestDatabase;
  /** The environment both apps were started with (the worker's overrides apart). */
  env: Record<string, string>;
  aTenant(): TestTenant;
  request<T = Record<string, unknown>>(
    method: string,
    path: string,
    options?: RequestOptions,
  ): Promise<ApiResponse<T>>;
  sandboxCall<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T>;
  /** A PIX top-up of `amountCents`, approved at Mercado Pago (the sandbox) and applied; answers the payment id. */
  topUp(tenant: TestTenant, amountCents: number): Promise<string>;
  /** Sets the payment's status at the sandbox (e.g. `refunded`) and applies it, as the payments worker does. */
  applyPaymentStatus(paymentId: string, status: string): Promise<void>;
  /** An authorized Mercado Pago pre-approval for the default plan, applied: the tenant has an active plan. */
  activatePlan(tenant: TestTenant): Promise<void>;
  wallet(tenantId: string): Promise<Wallet>;
  ledger(tenantId: string): Promise<LedgerEntryView[]>;
  campaignsNamed(name: string): Promise<SandboxCampaign[]>;
  readonly workerRunning: boolean;
  /** The environment an in-process worker gets, for a worker started another way (a child process). */
  workerEnv(overrides?: Record<string, string>): Record<string, string>;
  /** One pass of the worker's periodic campaign sweep (insights, leftovers, stale launches) now. */
  sweepNow(): Promise<void>;
  /** Empties the worker's queue of one event type (to leave a recovery path alone with the work). */
  purgeWorkerQueue(eventType: string): Promise<void>;
  /** Stops the in-process worker (as a deploy would) and starts a new one with these overrides. */
  restartWorker(overrides?: Record<string, string>): Promise<NestFastifyApplication>;
  stopWorker(): Promise<void>;
  startWorker(overrides?: Record<string, string>): Promise<NestFastifyApplication>;
  close(): Promise<void>;
}

/** Defaults of the suite's worker: the periodic sweep is slow unless a test asks for it, so its Meta calls never race a test's faults. */
export const QUIET_WORKER: Record<string, string> = {
  META_INSIGHTS_INTERVAL_MS: '600000',
  MVP_RUNNING_STALE_SECONDS: '3',
  META_MAX_RETRY_AFTER_MS: '300',
  META_GRAPH_TIMEOUT_MS: '5000',
};

export async function startAdsStack(
  options: { worker?: Record<string, string>; startWorker?: boolean } = {},
): Promise<AdsStack> {
  const db = await createTestDatabase();
  const sandbox = await startTestSandbox();
  const jwks = await startTestJwks();
  const env = testEnv(db.url, {
    JWKS_URL: jwks.url,
    MERCADO_PAGO_BASE_URL: sandbox.url,
    STRIPE_API_BASE_URL: sandbox.url,
    PUBLIC_WEBHOOK_BASE_URL: 'http://127.0.0.1:3003',
    PUBLIC_APP_URL: 'http://127.0.0.1:8080',
    REAL_ADS_ENABLED: 'true',
    META_GRAPH_BASE_URL: sandbox.url,
    DATABASE_POOL_SIZE: '20',
  });
  const { app: api } = await createQueueApi(env);
  await api.listen({ port: 0, host: '127.0.0.1' });
  const url = await api.getUrl();
  const baseWorkerEnv = { ...env, ...QUIET_WORKER, ...options.worker };

  let worker: NestFastifyApplication | null = null;
  const startWorker = async (overrides: Record<string, string> = {}): Promise<NestFastifyApplication> => {
    const created = await createCodexWorker({ ...baseWorkerEnv, ...overrides });
    await created.app.listen({ port: 0, host: '127.0.0.1' });
    const amqp = created.app.get(AmqpConnection);
    await expectEventually(() => expect(amqp.isConnected()).toBe(true));
    worker = created.app;
    return created.app;
  };
  const stopWorker = async (): Promise<void> => {
    const running = worker;
    worker = null;
    if (running) await running.close();
  };
  if (options.startWorker !== false) await startWorker();

  const request = async <T>(
    method: string,
    path: string,
    requestOptions: RequestOptions = {},
  ): Promise<ApiResponse<T>> => {
    const headers: Record<string, string> = {};
    if (requestOptions.token) headers.authorization = `Bearer ${requestOptions.token}`;
    if (requestOptions.idempotencyKey) headers['idempotency-key'] = requestOptions.idempotencyKey;
    let body: string | undefined;
    if (requestOptions.body !== undefined) {
      body = JSON.stringify(requestOptions.body);
      headers['content-type'] = 'application/json';
    }
    const response = await fetch(`${url}${path}`, { method, headers, body });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: (text ? JSON.parse(text) : null) as T,
    };
  };

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

  const expectStatus = <T>(answer: ApiResponse<T>, status: number, what: string): T => {
    if (answer.status !== status)
      throw new Error(`${what} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    return answer.body;
  };

  const applyPaymentStatus = async (paymentId: string, status: string): Promise<void> => {
    await sandboxCall('POST', `/_sandbox/mercadopago/payments/${paymentId}/status`, { status });
    const payment = await api.get(MercadoPagoClient).getPayment(paymentId);
    const applied = await api.get(TopupService).applyMercadoPagoPayment(payment);
    if (applied.outcome !== 'applied')
      throw new Error(`payment ${status} not applied: ${JSON.stringify(applied)}`);
  };

  return {
    api,
    get worker(): NestFastifyApplication {
      if (!worker) throw new Error('the worker is not running');
      return worker;
    },
    get workerRunning(): boolean {
      return worker !== null;
    },
    workerEnv: (overrides: Record<string, string> = {}) => ({ ...baseWorkerEnv, ...overrides }),
    async sweepNow(): Promise<void> {
      if (!worker) throw new Error('the worker is not running');
      const outcome = await worker.get(CampaignSweeper).runOnce();
      if (!outcome.ran) throw new Error('another sweep held the meta-insights lock');
    },
    async purgeWorkerQueue(eventType: string): Promise<void> {
      const channel = await api.get(AmqpConnection).channel();
      try {
        await channel.purgeQueue(api.get(Topology).queue('codex-worker', eventType));
      } finally {
        await channel.close().catch(() => undefined);
      }
    },
    dataSource: api.get(DataSource),
    sandbox,
    jwks,
    db,
    env,
    aTenant(): TestTenant {
      const tenantId = randomUUID();
      return { tenantId, token: jwks.issue({ tenantId, role: 'owner' }) };
    },
    request,
    sandboxCall,
    async topUp(tenant: TestTenant, amountCents: number): Promise<string> {
      const topup = expectStatus(
        await request<{ providerPaymentId: string }>('POST', '/v1/billing/topups/pix', {
          token: tenant.token,
          idempotencyKey: randomUUID(),
          body: { amountCents },
        }),
        201,
        'PIX top-up',
      );
      await applyPaymentStatus(topup.providerPaymentId, 'approved');
      return topup.providerPaymentId;
    },
    applyPaymentStatus,
    async activatePlan(tenant: TestTenant): Promise<void> {
      const started = expectStatus(
        await request<{ checkoutUrl: string }>('POST', '/v1/billing/subscription', {
          token: tenant.token,
          idempotencyKey: randomUUID(),
          body: { planId: 'plan_basic' },
        }),
        201,
        'subscription',
      );
      const preapprovalId = new URL(started.checkoutUrl).searchParams.get('preapproval_id');
      if (!preapprovalId) throw new Error(`no preapproval_id in ${started.checkoutUrl}`);
      await sandboxCall('POST', `/_sandbox/mercadopago/preapproval/${preapprovalId}/status`, {
        status: 'authorized',
      });
      const preapproval = await api.get(MercadoPagoClient).getPreapproval(preapprovalId);
      const applied = await api.get(SubscriptionService).applyPreapproval(preapproval);
      if (applied.outcome !== 'applied')
        throw new Error(`pre-approval not applied: ${JSON.stringify(applied)}`);
    },
    wallet: (tenantId) => api.get(LedgerService).getWallet(tenantId),
    async ledger(tenantId: string): Promise<LedgerEntryView[]> {
      return (await api.get(LedgerService).listEntries(tenantId, 100)).items;
    },
    async campaignsNamed(name: string): Promise<SandboxCampaign[]> {
      const { items } = await sandboxCall<{ items: SandboxCampaign[] }>('GET', '/_sandbox/meta/campaigns');
      return items.filter((campaign) => campaign.name === name);
    },
    async restartWorker(overrides: Record<string, string> = {}): Promise<NestFastifyApplication> {
      await stopWorker();
      return startWorker(overrides);
    },
    stopWorker,
    startWorker,
    async close(): Promise<void> {
      const amqp = api.get(AmqpConnection);
      if (amqp.isConnected()) {
        const channel = await amqp.channel();
        await destroyTopology(channel, api.get(Topology)).catch(() => undefined);
        await channel.close().catch(() => undefined);
      }
      await stopWorker();
      await api.close();
      await sandbox.close();
      await jwks.close();
      await db.drop();
    },
  };
}
