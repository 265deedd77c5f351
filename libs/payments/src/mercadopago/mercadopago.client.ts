import { HttpTimeoutError, JsonHttpTransport } from '../http/json-http';
import { fromCents } from '../money';
import { PaymentsError } from '../payments.errors';
import { backoffDelayMs, parseRetryAfterMs, sleep as realSleep } from '../retry';
import {
  mercadoPagoErrorMessage,
  parseMercadoPagoPayment,
  parseMercadoPagoPaymentSearch,
  parseMercadoPagoPreapproval,
} from './mercadopago.mapper';
import {
  CreatePixPaymentInput,
  CreatePreapprovalInput,
  MercadoPagoClientOptions,
  MercadoPagoLogger,
  MercadoPagoPayment,
  MercadoPagoPreapproval,
  UpdatePreapprovalInput,
} from './mercadopago.types';

type HttpMethod = 'GET' | 'POST' | 'PUT';

interface RequestSpec {
  method: HttpMethod;
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  idempotencyKey?: string;
}

/** Why one attempt failed, and whether another attempt may succeed. */
type AttemptFailure =
  | { retryable: false; error: PaymentsError }
  | { retryable: true; status?: number; retryAfterMs?: number; reason: string };

/**
 * Mercado Pago's `yyyy-MM-dd'T'HH:mm:ss.SSSZ` with an explicit offset, always UTC:
 * 2026-11-25T10:00:00.000-00:00.
 */
export function formatMercadoPagoDate(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError('Invalid date for Mercado Pago');
  return `${date.toISOString().slice(0, -1)}-00:00`;
}

function assertPositiveCents(amountCents: number): void {
  if (!Number.isSafeInteger(amountCents) || amountCents <= 0) {
    throw new PaymentsError(
      'invalid_amount',
      `Amount ${String(amountCents)} is not a positive number of cents.`,
    );
  }
}

/** Connections kept open to Mercado Pago: a webhook batch of payment lookups at once. */
const MAX_SOCKETS = 64;

/**
 * Mercado Pago REST client (PIX payments and pre-approvals) over node:http(s) with keep-alive
 * connections of its own: the codex-worker looks up a payment per webhook notification, and
 * `fetch` cost too much CPU there. Retries only what may succeed later (network errors, timeouts,
 * 5xx, 429, 423) and sends the caller's idempotency key on every attempt, so a retried POST never
 * creates a second payment. `close()` (Nest calls it at application shutdown) closes the connections.
 */
export class MercadoPagoClient {
  private readonly http: JsonHttpTransport;
  private readonly accessToken: string;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly logger: MercadoPagoLogger | undefined;
  private readonly retryBaseDelayMs: number;
  private readonly retryMaxDelayMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(options: MercadoPagoClientOptions) {
    if (!options.accessToken) throw new TypeError('MercadoPagoClient needs an accessToken');
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new TypeError(`MercadoPagoClient baseUrl is not a URL: ${options.baseUrl}`);
    }
    this.accessToken = options.accessToken;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.http = new JsonHttpTransport({ baseUrl: url, timeoutMs: this.timeoutMs, maxSockets: MAX_SOCKETS });
    this.maxRetries = Math.max(0, options.maxRetries ?? 3);
    this.logger = options.logger;
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? 200;
    this.retryMaxDelayMs = options.retryMaxDelayMs ?? 5_000;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 30_000;
    this.sleep = options.sleep ?? realSleep;
    this.random = options.random ?? Math.random;
  }

  async createPixPayment(input: CreatePixPaymentInput): Promise<MercadoPagoPayment> {
    assertPositiveCents(input.amountCents);
    const body: Record<string, unknown> = {
      transaction_amount: fromCents(input.amountCents),
      payment_method_id: 'pix',
      payer: { email: input.payerEmail },
      description: input.description,
      external_reference: input.externalReference,
    };
    if (input.notificationUrl !== undefined) body['notification_url'] = input.notificationUrl;
    if (input.expiresAt !== undefined) body['date_of_expiration'] = formatMercadoPagoDate(input.expiresAt);
    const json = await this.request({
      method: 'POST',
      path: '/v1/payments',
      body,
      idempotencyKey: input.idempotencyKey,
    });
    return parseMercadoPagoPayment(json);
  }

  async getPayment(id: string): Promise<MercadoPagoPayment> {
    const json = await this.request({ method: 'GET', path: `/v1/payments/${encodeURIComponent(id)}` });
    return parseMercadoPagoPayment(json);
  }

  async searchPayments(criteria: { externalReference: string }): Promise<MercadoPagoPayment[]> {
    const json = await this.request({
      method: 'GET',
      path: '/v1/payments/search',
      query: { external_reference: criteria.externalReference },
    });
    return parseMercadoPagoPaymentSearch(json);
  }

  async createPreapproval(input: CreatePreapprovalInput): Promise<MercadoPagoPreapproval> {
    assertPositiveCents(input.amountCents);
    const json = await this.request({
      method: 'POST',
      path: '/preapproval',
      idempotencyKey: input.idempotencyKey,
      body: {
        reason: input.reason,
        external_reference: input.externalReference,
        payer_email: input.payerEmail,
        back_url: input.backUrl,
        auto_recurring: {
          frequency: input.frequency ?? 1,
          frequency_type: input.frequencyType ?? 'months',
          transaction_amount: fromCents(input.amountCents),
          currency_id: 'BRL',
        },
        status: 'pending',
      },
    });
    return parseMercadoPagoPreapproval(json);
  }

  async getPreapproval(id: string): Promise<MercadoPagoPreapproval> {
    const json = await this.request({ method: 'GET', path: `/preapproval/${encodeURIComponent(id)}` });
    return parseMercadoPagoPreapproval(json);
  }

  async updatePreapproval(id: string, input: UpdatePreapprovalInput): Promise<MercadoPagoPreapproval> {
    const json = await this.request({
      method: 'PUT',
      path: `/preapproval/${encodeURIComponent(id)}`,
      body: { status: input.status },
    });
    return parseMercadoPagoPreapproval(json);
  }

  /** Closes the pooled connections, so the process (or a test run) can exit. */
  close(): void {
    this.http.close();
  }

  /**
   * Nest calls this after every `onModuleDestroy` and after the app's own shutdown hooks, which
   * wait for work in flight (a reconciliation pass) that may still be calling Mercado Pago.
   */
  onApplicationShutdown(): void {
    this.close();
  }

  private async request(spec: RequestSpec): Promise<unknown> {
    if (spec.method === 'POST' && !spec.idempotencyKey) {
      // Without a key a retried POST could create a second payment.
      throw new TypeError(`Mercado Pago POST ${spec.path} needs an idempotency key`);
    }
    const query = spec.query ? `?${new URLSearchParams(spec.query).toString()}` : '';
    const pathAndQuery = `${spec.path}${query}`;
    // Accept, Content-Type and Content-Length are the transport's.
    // A User-Agent of our own: fetch used to send `node`, and some edge firewalls refuse requests without one.
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.accessToken}`,
      'User-Agent': 'realapp-platform (+mercadopago-client)',
    };
    if (spec.idempotencyKey !== undefined) headers['X-Idempotency-Key'] = spec.idempotencyKey;
    const payload = spec.body === undefined ? undefined : JSON.stringify(spec.body);

    for (let attempt = 0; ; attempt += 1) {
      const outcome = await this.attempt(spec, pathAndQuery, headers, payload);
      if ('value' in outcome) return outcome.value;
      if (!outcome.retryable) throw outcome.error;

      const exhausted = attempt >= this.maxRetries;
      const waitTooLong = outcome.retryAfterMs !== undefined && outcome.retryAfterMs > this.maxRetryAfterMs;
      if (exhausted || waitTooLong) {
        throw new PaymentsError(
          'provider_unavailable',
          `Mercado Pago is unavailable (${outcome.reason}) after ${attempt + 1} attempt(s).`,
          { provider: 'mercadopago', providerStatus: outcome.status, retryAfterMs: outcome.retryAfterMs },
        );
      }
      const delayMs =
        outcome.retryAfterMs ??
        backoffDelayMs(attempt, this.retryBaseDelayMs, this.retryMaxDelayMs, this.random);
      this.logger?.warn(
        {
          provider: 'mercadopago',
          method: spec.method,
          path: spec.path,
          attempt: attempt + 1,
          status: outcome.status,
          reason: outcome.reason,
          delayMs,
        },
        'Mercado Pago request failed; retrying',
      );
      await this.sleep(delayMs);
    }
  }

  private async attempt(
    spec: RequestSpec,
    pathAndQuery: string,
    headers: Record<string, string>,
    payload: string | undefined,
  ): Promise<AttemptFailure | { value: unknown }> {
    let status: number;
    let text: string;
    let retryAfter: string | undefined;
    try {
      // The timeout covers reading the body too: a provider that stalls mid-body is as down as one that never answers.
      const response = await this.http.send(spec.method, pathAndQuery, headers, payload);
      status = response.status;
      retryAfter = response.headers['retry-after'];
      text = response.body;
    } catch (error) {
      return {
        retryable: true,
        reason:
          error instanceof HttpTimeoutError
            ? `timeout after ${this.timeoutMs} ms`
            : describeNetworkError(error),
      };
    }

    if (status >= 200 && status < 300) {
      try {
        return { value: JSON.parse(text) as unknown };
      } catch {
        return {
          retryable: false,
          error: new PaymentsError(
            'provider_invalid_response',
            'Mercado Pago answered a body that is not JSON.',
            {
              provider: 'mercadopago',
              providerStatus: status,
            },
          ),
        };
      }
    }
    if (status >= 500 || status === 429 || status === 423) {
      return {
        retryable: true,
        status,
        reason: `HTTP ${status}`,
        retryAfterMs: parseRetryAfterMs(retryAfter, Date.now()) ?? undefined,
      };
    }
    const providerMessage = mercadoPagoErrorMessage(text);
    const extra = { provider: 'mercadopago' as const, providerStatus: status, providerMessage };
    if (status === 404) {
      return {
        retryable: false,
        error: new PaymentsError(
          'provider_not_found',
          `Mercado Pago has no such object (${spec.path}).`,
          extra,
        ),
      };
    }
    return {
      retryable: false,
      error: new PaymentsError(
        'provider_rejected',
        `Mercado Pago rejected the request (HTTP ${status})${providerMessage ? `: ${providerMessage}` : '.'}`,
        extra,
      ),
    };
  }
}

/**
 * Reads a field off a thrown value by shape, not `instanceof`: node:http's errors come from
 * Node's own realm, which is not the test's under jest.
 */
function errorField(error: unknown, field: 'message' | 'code'): unknown {
  return typeof error === 'object' && error !== null && field in error
    ? (error as Record<string, unknown>)[field]
    : undefined;
}

/**
 * `network error: connect ECONNREFUSED 10.0.0.1:443`, `network error ECONNRESET: socket hang up`:
 * the code, and the message, which often names the address or the stage that failed.
 */
function describeNetworkError(error: unknown): string {
  const code = errorField(error, 'code');
  const message = errorField(error, 'message');
  const hasCode = typeof code === 'string' && code.length > 0;
  if (typeof message === 'string' && message.length > 0) {
    return hasCode && !message.includes(code)
      ? `network error ${code}: ${message}`
      : `network error: ${message}`;
  }
  return hasCode ? `network error ${code}` : 'network error';
}
