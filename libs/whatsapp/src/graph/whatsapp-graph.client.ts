import { classifyGraphError, classifyNetworkError, computeAppSecretProof, GraphErrorClassification } from '@realapp/meta-ads';
import { setTimeout as delay } from 'node:timers/promises';
import { WhatsAppGraphError } from './whatsapp-graph.errors';

export interface WhatsAppGraphClientOptions {
  baseUrl: string;
  apiVersion: string;
  appId: string;
  appSecret: string;
  /** The app token debug_token is called with (META_APP_ACCESS_TOKEN). */
  appAccessToken: string;
  /** Per attempt, body included. */
  timeoutMs?: number;
  /** Retries after the first attempt, for throttled and transient failures only. */
  maxRetries?: number;
  retryBaseDelayMs?: number;
  /** Longer waits asked by Meta end the call (retryable) instead of holding a worker asleep. */
  maxRetryAfterMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  fetch?: typeof fetch;
}

export interface ExchangedToken {
  accessToken: string;
  /** Null when Meta gave no expiry (system-user tokens may never expire). */
  expiresInSeconds: number | null;
}

export interface DebugTokenInfo {
  isValid: boolean;
  /** Null when the token never expires (`expires_at: 0`) or Meta did not say. */
  expiresAt: Date | null;
  scopes: string[];
  /** WABA ids the token was granted for (granular `whatsapp_business_management` targets). */
  wabaIds: string[];
  appId: string | null;
}

export interface PhoneNumberInfo {
  id: string;
  displayPhoneNumber: string;
  verifiedName: string | null;
}

const DEFAULTS = { timeoutMs: 10_000, maxRetries: 3, retryBaseDelayMs: 250, maxRetryAfterMs: 5_000 } as const;

/** Connection errors raised before the request left this process: Meta never saw it. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

interface GraphRequest {
  operation: string;
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  query?: Record<string, string>;
  body?: Record<string, unknown>;
  /** The token the call acts with; sent as a Bearer header, with its appsecret_proof. */
  token?: string;
  /**
   * Whether a call whose answer never came back may be sent again. False for sending a message
   * (Meta has no idempotency key for it) and for the code exchange (a code works once).
   */
  idempotent: boolean;
}

class AttemptFailure extends Error {
  constructor(
    readonly classification: GraphErrorClassification,
    readonly ambiguous: boolean,
    readonly original?: unknown,
  ) {
    super(classification.message);
  }
}

/**
 * The Graph calls of Embedded Signup and the WhatsApp Cloud API (PROVIDERS.md): the code
 * exchange, debug_token, the WABA's phone numbers, the app subscription and sending text. Every
 * call acting with a token carries its `appsecret_proof`; tokens travel in headers (never in a
 * URL we build, except debug_token's `input_token`, which Graph only takes there) and never
 * appear in an error message. Throttled and transient failures are retried with backoff.
 */
export class WhatsAppGraphClient {
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly retryBaseDelayMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly fetchFn: typeof fetch;
  private readonly root: string;

  constructor(private readonly options: WhatsAppGraphClientOptions) {
    this.timeoutMs = options.timeoutMs ?? DEFAULTS.timeoutMs;
    this.maxRetries = options.maxRetries ?? DEFAULTS.maxRetries;
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? DEFAULTS.retryBaseDelayMs;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? DEFAULTS.maxRetryAfterMs;
    this.sleep = options.sleep ?? ((ms) => delay(ms).then(() => undefined));
    this.random = options.random ?? Math.random;
    this.fetchFn = options.fetch ?? fetch;
    this.root = `${options.baseUrl.replace(/\/+$/, '')}/${options.apiVersion}`;
  }

  /** Embedded Signup: the signup `code` for the business token (SPEC §16: Graph's `code` parameter). */
  async exchangeCode(code: string): Promise<ExchangedToken> {
    const body = await this.call({
      operation: 'code exchange',
      method: 'GET',
      path: 'oauth/access_token',
      query: { client_id: this.options.appId, client_secret: this.options.appSecret, code },
      idempotent: false,
    });
    const accessToken = body['access_token'];
    if (typeof accessToken !== 'string' || accessToken.length === 0) {
      throw this.malformed('code exchange', 'no access_token in the answer');
    }
    const expiresIn = body['expires_in'];
    return {
      accessToken,
      expiresInSeconds: typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : null,
    };
  }

  /** What Meta says about a business token, asked with the app token. */
  async debugToken(inputToken: string): Promise<DebugTokenInfo> {
    const body = await this.call({
      operation: 'debug_token',
      method: 'GET',
      path: 'debug_token',
      query: { input_token: inputToken },
      token: this.options.appAccessToken,
      idempotent: true,
    });
    const data = isRecord(body['data']) ? body['data'] : {};
    const expiresAt = typeof data['expires_at'] === 'number' && data['expires_at'] > 0 ? new Date(data['expires_at'] * 1000) : null;
    const scopes = Array.isArray(data['scopes']) ? data['scopes'].filter((s): s is string => typeof s === 'string') : [];
    const wabaIds = new Set<string>();
    if (Array.isArray(data['granular_scopes'])) {
      for (const grant of data['granular_scopes']) {
        if (!isRecord(grant) || grant['scope'] !== 'whatsapp_business_management' || !Array.isArray(grant['target_ids'])) continue;
        for (const id of grant['target_ids']) if (typeof id === 'string' && /^[0-9]{1,32}$/.test(id)) wabaIds.add(id);
      }
    }
    return {
      isValid: data['is_valid'] === true,
      expiresAt,
      scopes,
      wabaIds: [...wabaIds],
      appId: typeof data['app_id'] === 'string' ? data['app_id'] : null,
    };
  }

  /** The WABA's numbers (first page; a signup WABA has a handful at most). */
  async listPhoneNumbers(wabaId: string, token: string): Promise<PhoneNumberInfo[]> {
    const body = await this.call({
      operation: 'phone_numbers',
      method: 'GET',
      path: `${wabaId}/phone_numbers`,
      query: { fields: 'id,display_phone_number,verified_name', limit: '100' },
      token,
      idempotent: true,
    });
    const data = Array.isArray(body['data']) ? body['data'] : [];
    return data.filter(isRecord).flatMap((phone) => {
      const id = phone['id'];
      if (typeof id !== 'string' || !/^[0-9]{1,32}$/.test(id)) return [];
      const display = typeof phone['display_phone_number'] === 'string' ? phone['display_phone_number'].slice(0, 32) : '';
      const name = typeof phone['verified_name'] === 'string' ? phone['verified_name'] : null;
      return [{ id, displayPhoneNumber: display, verifiedName: name }];
    });
  }

  /** Our app receives the WABA's webhooks from now on. Idempotent at Meta. */
  async subscribeApp(wabaId: string, token: string): Promise<void> {
    await this.call({ operation: 'subscribed_apps', method: 'POST', path: `${wabaId}/subscribed_apps`, token, idempotent: true });
  }

  async unsubscribeApp(wabaId: string, token: string): Promise<void> {
    await this.call({
      operation: 'subscribed_apps removal',
      method: 'DELETE',
      path: `${wabaId}/subscribed_apps`,
      token,
      idempotent: true,
    });
  }

  /**
   * Sends one text message. Never retried once the request may have reached Meta (a timeout or
   * a cut connection): Meta has no idempotency key for messages, so the caller decides.
   */
  async sendText(phoneNumberId: string, token: string, to: string, text: string): Promise<{ messageId: string }> {
    const body = await this.call({
      operation: 'message send',
      method: 'POST',
      path: `${phoneNumberId}/messages`,
      body: { messaging_product: 'whatsapp', recipient_type: 'individual', to, type: 'text', text: { body: text, preview_url: false } },
      token,
      idempotent: false,
    });
    const messages = Array.isArray(body['messages']) ? body['messages'] : [];
    const first: unknown = messages[0];
    const id = isRecord(first) ? first['id'] : undefined;
    if (typeof id !== 'string' || id.length === 0) throw this.malformed('message send', 'no message id in the answer', true);
    return { messageId: id };
  }

  private async call(request: GraphRequest): Promise<Record<string, unknown>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.attempt(request);
      } catch (error) {
        if (!(error instanceof AttemptFailure)) throw error;
        const { classification, ambiguous } = error;
        const mayRetry = classification.kind !== 'permanent' && (request.idempotent || !ambiguous);
        const wait = this.backoff(attempt, classification.retryAfterMs);
        if (!mayRetry || attempt > this.maxRetries || wait === null) {
          throw new WhatsAppGraphError(request.operation, classification, { ambiguous, attempts: attempt, cause: error.original });
        }
        await this.sleep(wait);
      }
    }
  }

  /** Exponential with full jitter; Meta's own wait when it named one (null: longer than we wait). */
  private backoff(attempt: number, retryAfterMs: number | undefined): number | null {
    if (retryAfterMs !== undefined) return retryAfterMs > this.maxRetryAfterMs ? null : retryAfterMs;
    const ceiling = Math.min(this.maxRetryAfterMs, this.retryBaseDelayMs * 2 ** (attempt - 1));
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  private async attempt(request: GraphRequest): Promise<Record<string, unknown>> {
    const url = new URL(`${this.root}/${request.path}`);
    for (const [key, value] of Object.entries(request.query ?? {})) url.searchParams.set(key, value);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (request.token !== undefined) {
      headers['authorization'] = `Bearer ${request.token}`;
      url.searchParams.set('appsecret_proof', computeAppSecretProof(request.token, this.options.appSecret));
    }
    let body: string | undefined;
    if (request.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(request.body);
    }

    let response: Response;
    let text: string;
    try {
      response = await this.fetchFn(url, {
        method: request.method,
        headers,
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      throw new AttemptFailure(classifyNetworkError(error, this.timeoutMs), !notSent(error), error);
    }

    const parsed = parseJson(text);
    if (response.ok && isRecord(parsed)) return parsed;
    if (response.ok) {
      // A 2xx we cannot read: Meta acted on the call, we just do not know the result.
      throw new AttemptFailure(
        {
          kind: 'transient',
          httpStatus: response.status,
          code: null,
          subcode: null,
          type: 'malformed',
          message: 'the answer is not a JSON object',
          userMessage: null,
          fbtraceId: null,
        },
        true,
      );
    }
    throw new AttemptFailure(classifyGraphError(response.status, parsed ?? text, response.headers), false);
  }

  private malformed(operation: string, message: string, ambiguous = false): WhatsAppGraphError {
    return new WhatsAppGraphError(
      operation,
      {
        kind: 'permanent',
        httpStatus: 200,
        code: null,
        subcode: null,
        type: 'malformed',
        message,
        userMessage: null,
        fbtraceId: null,
      },
      { ambiguous, attempts: 1 },
    );
  }
}

function notSent(error: unknown): boolean {
  const cause = isRecord(error) ? error['cause'] : undefined;
  const code = isRecord(cause) ? cause['code'] : undefined;
  return typeof code === 'string' && NOT_SENT_CODES.has(code);
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
