import Fastify, { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SANDBOX_DEFAULTS } from './config';
import { registerControlRoutes } from './control.routes';
import {
  ProviderErrorResponse,
  faultError,
  graphError,
  graphUnknownObject,
  isGraphThrottlingCode,
  mercadoPagoError,
  openAiError,
  stripeError,
} from './errors';
import { FaultRegistry } from './faults';
import { parseFormBody } from './form-body';
import { SandboxContext, SandboxSettings, controlError, sendResult } from './http';
import { MercadoPagoSandbox } from './mercadopago.routes';
import { MetaSandbox } from './meta.routes';
import { OpenAiSandbox } from './openai.routes';
import { registerPageRoutes } from './pages.routes';
import { RequestLog, maskFields, maskHeaders, maskResponseBody } from './request-log';
import { StripeSandbox } from './stripe.routes';
import { ProviderName, asRecord, sleep } from './util';
import { WebhookPoster } from './webhook-poster';
import { WhatsAppSandbox } from './whatsapp.routes';

export interface SandboxOptions {
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Interface to bind; 127.0.0.1 by default. */
  host?: string;
  /** Origin used in links the sandbox hands out; defaults to the address it listens on. */
  publicUrl?: string;
  /** Where notifications go (the webhook-gateway): `<base>/v1/webhooks/{mercadopago,stripe,meta}`. */
  webhookBaseUrl?: string;
  mercadoPagoWebhookSecret?: string;
  stripeWebhookSecret?: string;
  metaAppSecret?: string;
  /** Clock override for tests (expiry of PIX payments, sessions and tokens). */
  now?: () => Date;
  /** Fastify's request logger; off by default. */
  logger?: boolean;
  /** How many provider calls `GET /_sandbox/requests` keeps (default 1000). */
  requestLogLimit?: number;
  /** How long a notification POST may take before it counts as failed (default 30 s). */
  webhookTimeoutMs?: number;
}

export interface Sandbox {
  /** `http://host:port` the sandbox listens on (or `publicUrl`). */
  url: string;
  port: number;
  app: FastifyInstance;
  close(): Promise<void>;
  /** Clears all provider state, the request log and pending faults. */
  reset(): void;
}

/** Per-request bookkeeping for the request log and fault reporting. */
interface InFlight {
  id: number;
  at: string;
  startedAt: number;
  faultId?: number;
  throttled: boolean;
}

const BODY_LIMIT_BYTES = 1024 * 1024;

/** Requests that reach no route still belong to a provider when their path says so. */
function inferProvider(path: string): ProviderName | undefined {
  if (/^\/v\d+\.\d+\//.test(path)) return 'meta';
  if (/^\/(v1\/payments|preapproval|preapproval_plan|v1\/customers|v1\/advanced_payments)(\/|$)/.test(path)) {
    return 'mercadopago';
  }
  if (/^\/v1\/(checkout|payment_intents|charges|refunds|events|customers|prices|products)(\/|$)/.test(path)) {
    return 'stripe';
  }
  if (/^\/v1\/(chat|completions|responses|models|embeddings)(\/|$)/.test(path)) return 'openai';
  return undefined;
}

function pathOf(url: string): string {
  const index = url.indexOf('?');
  return index < 0 ? url : url.slice(0, index);
}

function providerOf(request: FastifyRequest): ProviderName | undefined {
  return (
    request.routeOptions.config.provider ?? (request.is404 ? inferProvider(pathOf(request.url)) : undefined)
  );
}

function errorInProviderShape(
  provider: ProviderName | undefined,
  status: number,
  message: string,
): ProviderErrorResponse {
  switch (provider) {
    case 'mercadopago':
      return mercadoPagoError(status, message, status >= 500 ? 'internal_error' : 'bad_request');
    case 'stripe':
      return stripeError(status, status >= 500 ? 'api_error' : 'invalid_request_error', message);
    case 'meta':
      return graphError(status, status >= 500 ? 2 : 100, message);
    case 'openai':
      return openAiError(status, status >= 500 ? 'server_error' : 'invalid_request_error', message);
    case undefined:
      return controlError(status, message);
  }
}

function loggedPayload(payload: unknown, contentType: string | undefined): unknown {
  if (payload === undefined || payload === null) return null;
  const text =
    typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : undefined;
  if (text === undefined) return '[stream]';
  if (contentType?.includes('json') === true) {
    try {
      return maskResponseBody(JSON.parse(text));
    } catch {
      return text.slice(0, 2000);
    }
  }
  return text.slice(0, 2000);
}

/** Builds the app with every route and hook, without listening. */
export function buildSandboxApp(options: SandboxOptions = {}): {
  app: FastifyInstance;
  reset: () => void;
  setBaseUrl: (url: string) => void;
} {
  const settings: SandboxSettings = {
    webhookBaseUrl: (options.webhookBaseUrl ?? SANDBOX_DEFAULTS.webhookBaseUrl).replace(/\/+$/, ''),
    mercadoPagoWebhookSecret: options.mercadoPagoWebhookSecret ?? SANDBOX_DEFAULTS.mercadoPagoWebhookSecret,
    stripeWebhookSecret: options.stripeWebhookSecret ?? SANDBOX_DEFAULTS.stripeWebhookSecret,
    metaAppSecret: options.metaAppSecret ?? SANDBOX_DEFAULTS.metaAppSecret,
  };
  let baseUrl =
    options.publicUrl?.replace(/\/+$/, '') ?? `http://${SANDBOX_DEFAULTS.host}:${SANDBOX_DEFAULTS.port}`;
  const now = options.now ?? ((): Date => new Date());
  const ctx: SandboxContext = {
    settings,
    baseUrl: () => baseUrl,
    now,
    poster: new WebhookPoster(options.webhookTimeoutMs ?? 30_000),
  };

  const faults = new FaultRegistry(now);
  const requestLog = new RequestLog(options.requestLogLimit ?? 1000);
  const mercadoPago = new MercadoPagoSandbox(ctx);
  const stripe = new StripeSandbox(ctx);
  const whatsapp = new WhatsAppSandbox(ctx);
  const meta = new MetaSandbox(ctx, whatsapp);
  const openai = new OpenAiSandbox(ctx);
  const reset = (): void => {
    mercadoPago.reset();
    stripe.reset();
    whatsapp.reset();
    meta.reset();
    faults.clear();
    requestLog.clear();
  };

  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: BODY_LIMIT_BYTES,
    // Graph tokens (in `/_sandbox/meta/tokens/:token`) are far longer than the default 100 characters.
    routerOptions: { maxParamLength: 2048 },
  });

  // SDKs send `Content-Type: application/json` with an empty body on GET and DELETE.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, raw, done) => {
    const text = typeof raw === 'string' ? raw : raw.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(text));
    } catch {
      const error: Error & { statusCode?: number } = new Error('Body is not valid JSON');
      error.statusCode = 400;
      done(error, undefined);
    }
  });
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, raw, done) => {
      done(null, parseFormBody(typeof raw === 'string' ? raw : raw.toString('utf8')));
    },
  );
  // Anything else (multipart uploads from SDKs, text) is kept as text rather than refused.
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, raw, done) => {
    done(null, typeof raw === 'string' ? raw : raw.toString('utf8'));
  });

  const inFlight = new WeakMap<FastifyRequest, InFlight>();

  app.addHook('onRequest', (request, _reply, done) => {
    if (providerOf(request) !== undefined) {
      inFlight.set(request, {
        id: requestLog.nextId(),
        at: now().toISOString(),
        startedAt: Date.now(),
        throttled: false,
      });
    }
    done();
  });

  app.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
    const provider = request.routeOptions.config.provider;
    if (provider === undefined) return;
    const hit = faults.take(provider);
    if (hit === undefined) return;
    const state = inFlight.get(request);
    if (state !== undefined) state.faultId = hit.faultId;
    if (hit.delayMs !== undefined && hit.delayMs > 0) await sleep(hit.delayMs);
    if (hit.status === undefined) return;
    const error = faultError({
      provider,
      status: hit.status,
      graphCode: hit.graphCode,
      errorCode: hit.errorCode,
    });
    if (state !== undefined && provider === 'meta') {
      const code = hit.graphCode ?? (hit.status === 429 ? 17 : 0);
      state.throttled = hit.status === 429 || isGraphThrottlingCode(code);
    }
    return sendResult(reply, error);
  });

  app.addHook('onSend', (request, reply, payload, done) => {
    const provider = providerOf(request);
    const state = inFlight.get(request);
    if (provider === 'meta') reply.headers(meta.usageHeaders(state?.throttled ?? false));
    if (provider !== undefined && state !== undefined) {
      const contentType = reply.getHeader('content-type');
      // What a handler may still change (the parsed body and query) is copied now; the raw headers
      // and the serialised answer never change, so masking and parsing them waits for a reader.
      const query = asRecord(maskFields(request.query ?? {}));
      const body = maskFields(request.body ?? null);
      const { method, url, headers } = request;
      const status = reply.statusCode;
      const durationMs = Date.now() - state.startedAt;
      const { id, at, faultId } = state;
      requestLog.record(id, () => ({
        id,
        at,
        provider,
        method,
        path: pathOf(url),
        query,
        headers: maskHeaders(headers),
        body,
        response: {
          status,
          body: loggedPayload(payload, typeof contentType === 'string' ? contentType : undefined),
        },
        durationMs,
        ...(faultId === undefined ? {} : { faultId }),
      }));
    }
    done(null, payload);
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 ? error.statusCode : 500;
    const message = status >= 500 ? 'Internal sandbox error' : error.message;
    if (status >= 500) request.log.error({ err: error }, 'sandbox route failed');
    return sendResult(reply, errorInProviderShape(providerOf(request), status, message));
  });

  app.setNotFoundHandler((request, reply) => {
    const path = pathOf(request.url);
    const provider = inferProvider(path);
    if (provider === 'meta') {
      const node = path.split('/')[2] ?? '';
      return sendResult(reply, graphUnknownObject(request.method, node));
    }
    return sendResult(
      reply,
      errorInProviderShape(provider, 404, `The provider sandbox has no route for ${request.method} ${path}`),
    );
  });

  mercadoPago.register(app);
  stripe.register(app);
  meta.register(app);
  openai.register(app);
  registerControlRoutes(app, { mercadoPago, stripe, meta, whatsapp, faults, requestLog, reset });
  registerPageRoutes(app, mercadoPago, stripe);

  return {
    app,
    reset,
    setBaseUrl: (url: string): void => {
      if (options.publicUrl === undefined) baseUrl = url;
    },
  };
}

/** Starts a sandbox on `options.port ?? 0` and resolves once it accepts connections. */
export async function createSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const { app, reset, setBaseUrl } = buildSandboxApp(options);
  const host = options.host ?? SANDBOX_DEFAULTS.host;
  await app.listen({ port: options.port ?? 0, host });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : (options.port ?? 0);
  const listenHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const ownUrl = `http://${listenHost.includes(':') ? `[${listenHost}]` : listenHost}:${port}`;
  setBaseUrl(ownUrl);
  return {
    url: options.publicUrl?.replace(/\/+$/, '') ?? ownUrl,
    port,
    app,
    close: () => app.close(),
    reset,
  };
}
