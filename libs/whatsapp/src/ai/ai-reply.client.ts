import OpenAI, { APIConnectionTimeoutError, APIError } from 'openai';
import { WHATSAPP_TEXT_MAX_LENGTH } from '../flow/flow.types';
import { WhatsAppLogger } from '../logger';

export interface AiReplyClientOptions {
  apiKey: string;
  /** `OPENAI_BASE_URL`; the provider sandbox in dev and tests. */
  baseURL?: string;
  /** `OPENAI_TIMEOUT_SECONDS`: the whole call, headers and body, must fit in it. */
  timeoutSeconds?: number;
  logger?: WhatsAppLogger;
}

export interface AiChatTurn {
  role: 'user' | 'assistant';
  content: string;
}

export interface AiReplyRequest {
  model: string;
  systemPrompt: string;
  /** Earlier turns of the conversation, oldest first. */
  history: readonly AiChatTurn[];
  userText: string;
  maxCompletionTokens?: number;
}

export type AiFallbackReason = 'timeout' | 'error' | 'quota';

export type AiReplyResult =
  | { fallback: false; text: string }
  | {
      fallback: true;
      reason: AiFallbackReason;
      /** From a 429's `retry-after`, so the caller can hold AI off for that long. */
      retryAfterSeconds?: number;
    };

export const AI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';
export const AI_DEFAULT_TIMEOUT_SECONDS = 20;

/**
 * Optional AI answers for messages no flow option matches (SPEC §14), over the chat-completions
 * protocol with the official SDK. It never throws from `reply`: every failure becomes a
 * `fallback` the caller answers with the flow's text, because a customer must get an answer
 * whatever the AI provider does.
 *
 * Nothing is retried (`maxRetries: 0`): the customer is waiting on WhatsApp, a retry would
 * double the worst-case delay, and a 429 `insufficient_quota` never heals by retrying.
 * Construct it only when `OPENAI_API_KEY` is set (see `decideAiReply`).
 */
export class AiReplyClient {
  readonly #client: OpenAI;
  readonly #timeoutMs: number;
  readonly #logger: WhatsAppLogger | undefined;

  constructor(options: AiReplyClientOptions) {
    const timeoutSeconds = options.timeoutSeconds ?? AI_DEFAULT_TIMEOUT_SECONDS;
    if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
      throw new RangeError('timeoutSeconds must be a positive number');
    }
    this.#timeoutMs = Math.ceil(timeoutSeconds * 1000);
    this.#logger = options.logger;
    this.#client = new OpenAI({
      apiKey: options.apiKey,
      baseURL: options.baseURL ?? AI_DEFAULT_BASE_URL,
      timeout: this.#timeoutMs,
      maxRetries: 0,
      // Explicit nulls keep the SDK from reading OPENAI_* variables behind the config's back.
      organization: null,
      project: null,
      webhookSecret: null,
      adminAPIKey: null,
      // The SDK would otherwise log to the console; failures are reported through our logger.
      logLevel: 'off',
    });
  }

  async reply(request: AiReplyRequest): Promise<AiReplyResult> {
    // The SDK's own timeout stops at the response headers; this one also covers a body that
    // trickles in, so `timeoutSeconds` bounds the whole call.
    const deadline = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      deadline.abort();
    }, this.#timeoutMs);
    try {
      const completion = await this.#client.chat.completions.create(
        {
          model: request.model,
          messages: [
            { role: 'system', content: request.systemPrompt },
            ...request.history.map((turn) => ({ role: turn.role, content: turn.content })),
            { role: 'user', content: request.userText },
          ],
          ...(request.maxCompletionTokens === undefined
            ? {}
            : { max_completion_tokens: request.maxCompletionTokens }),
        },
        { signal: deadline.signal },
      );
      const text = completion.choices?.[0]?.message?.content?.trim() ?? '';
      if (text.length === 0) {
        this.#logger?.warn(
          { reason: 'error', finishReason: completion.choices?.[0]?.finish_reason ?? null },
          'AI reply was empty; the flow fallback is used',
        );
        return { fallback: true, reason: 'error' };
      }
      return { fallback: false, text: truncateForWhatsApp(text) };
    } catch (error) {
      return this.#fallbackFor(error, timedOut);
    } finally {
      clearTimeout(timer);
    }
  }

  #fallbackFor(error: unknown, timedOut: boolean): AiReplyResult {
    const api = error instanceof APIError ? error : undefined;
    const fields = {
      status: api?.status ?? null,
      code: api?.code ?? null,
      requestId: api?.requestID ?? null,
    };
    if (timedOut || error instanceof APIConnectionTimeoutError) {
      this.#logger?.warn(
        { reason: 'timeout', timeoutMs: this.#timeoutMs },
        'AI reply timed out; the flow fallback is used',
      );
      return { fallback: true, reason: 'timeout' };
    }
    if (api?.status === 429 && (api.code === 'insufficient_quota' || api.type === 'insufficient_quota')) {
      this.#logger?.warn({ reason: 'quota', ...fields }, 'AI quota exhausted; the flow fallback is used');
      return { fallback: true, reason: 'quota' };
    }
    const retryAfterSeconds = api?.status === 429 ? parseRetryAfter(api.headers) : undefined;
    this.#logger?.warn(
      { reason: 'error', ...fields, retryAfterSeconds: retryAfterSeconds ?? null, error: describe(error) },
      'AI reply failed; the flow fallback is used',
    );
    return retryAfterSeconds === undefined
      ? { fallback: true, reason: 'error' }
      : { fallback: true, reason: 'error', retryAfterSeconds };
  }
}

/** `retry-after-ms` (OpenAI's own) or `retry-after` in seconds or as an HTTP date. */
function parseRetryAfter(headers: Headers | undefined): number | undefined {
  const ms = Number(headers?.get('retry-after-ms') ?? Number.NaN);
  if (Number.isFinite(ms) && ms >= 0) return Math.ceil(ms / 1000);
  const value = headers?.get('retry-after');
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** The message only: an error object may carry request options, including the key. */
function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Graph refuses longer text bodies; cutting keeps a surrogate pair whole. */
function truncateForWhatsApp(text: string): string {
  if (text.length <= WHATSAPP_TEXT_MAX_LENGTH) return text;
  const cut = text.slice(0, WHATSAPP_TEXT_MAX_LENGTH);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}
