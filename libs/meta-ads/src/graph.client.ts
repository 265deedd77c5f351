import { createHmac } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  GraphErrorClassification,
  MetaAdsError,
  classifyGraphError,
  classifyNetworkError,
} from './graph.errors';
import {
  CreateCampaignInput,
  FindCampaignByNameInput,
  MetaAdsApi,
  MetaCampaignRef,
  MetaCampaignStatus,
  MetaCampaignSummary,
  MetaLogger,
  isMetaCampaignStatus,
  toAdAccountPath,
  toMetaObjective,
} from './meta-ads.api';
import { spendToCents } from './spend-cents';

export interface MetaGraphClientOptions {
  /** META_GRAPH_BASE_URL: https://graph.facebook.com, or the provider sandbox. */
  baseUrl: string;
  apiVersion?: string;
  accessToken: string;
  appSecret: string;
  /** Per attempt, including reading the body. */
  timeoutMs?: number;
  /** Retries after the first attempt, for throttled and transient failures only. */
  maxRetries?: number;
  /** First backoff step; doubles each retry, with jitter. */
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  /**
   * The longest wait Meta may impose on this process. Rate-limit headers can ask for an hour;
   * past this the call fails retryably and the message-level retry (with its own delay) takes over,
   * so a worker never holds a consumer slot asleep.
   */
  maxRetryAfterMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Source of jitter, in [0, 1). */
  random?: () => number;
  logger?: MetaLogger;
}

export const GRAPH_LOG_FIELDS = Object.freeze({ metaMode: 'graph' as const });

const DEFAULTS = {
  apiVersion: 'v26.0',
  timeoutMs: 10_000,
  maxRetries: 4,
  retryBaseDelayMs: 500,
  retryMaxDelayMs: 30_000,
  maxRetryAfterMs: 60_000,
} as const;

// Meta-advised waits get a little spread too, so replicas throttled together do not return together.
const ADVISED_WAIT_JITTER_MS = 1000;

/** Carries one failed attempt to the retry loop; never leaves this file. */
class GraphAttemptFailure extends Error {
  constructor(
    readonly classification: GraphErrorClassification,
    readonly original?: unknown,
  ) {
    super(classification.message);
  }
}

type HttpMethod = 'GET' | 'POST';

export function computeAppSecretProof(accessToken: string, appSecret: string): string {
  return createHmac('sha256', appSecret).update(accessToken).digest('hex');
}

export class MetaGraphClient implements MetaAdsApi {
  readonly mode = 'graph' as const;

  private readonly baseUrl: string;
  private readonly apiVersion: string;
  private readonly accessToken: string;
  private readonly appSecretProof: string;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly retryBaseDelayMs: number;
  private readonly retryMaxDelayMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly logger?: MetaLogger;

  constructor(options: MetaGraphClientOptions) {
    const missing = (['baseUrl', 'accessToken', 'appSecret'] as const).filter(
      (key) => typeof options[key] !== 'string' || options[key].trim() === '',
    );
    if (missing.length > 0) {
      throw new RangeError(`MetaGraphClient is missing ${missing.join(', ')}`);
    }
    const apiVersion = options.apiVersion ?? DEFAULTS.apiVersion;
    if (!/^v\d+\.\d+$/.test(apiVersion)) {
      throw new RangeError(
        `MetaGraphClient apiVersion must look like v26.0, got ${JSON.stringify(apiVersion)}`,
      );
    }
    this.baseUrl = new URL(options.baseUrl).toString().replace(/\/+$/, '');
    this.apiVersion = apiVersion;
    this.accessToken = options.accessToken;
    this.appSecretProof = computeAppSecretProof(options.accessToken, options.appSecret);
    this.timeoutMs = nonNegativeInteger('timeoutMs', options.timeoutMs ?? DEFAULTS.timeoutMs);
    this.maxRetries = nonNegativeInteger('maxRetries', options.maxRetries ?? DEFAULTS.maxRetries);
    this.retryBaseDelayMs = nonNegativeInteger(
      'retryBaseDelayMs',
      options.retryBaseDelayMs ?? DEFAULTS.retryBaseDelayMs,
    );
    this.retryMaxDelayMs = nonNegativeInteger(
      'retryMaxDelayMs',
      options.retryMaxDelayMs ?? DEFAULTS.retryMaxDelayMs,
    );
    this.maxRetryAfterMs = nonNegativeInteger(
      'maxRetryAfterMs',
      options.maxRetryAfterMs ?? DEFAULTS.maxRetryAfterMs,
    );
    this.sleep = options.sleep ?? ((ms: number): Promise<void> => delay(ms));
    this.random = options.random ?? Math.random;
    this.logger = options.logger;
  }

  async createCampaign(input: CreateCampaignInput): Promise<MetaCampaignRef> {
    const account = toAdAccountPath(input.adAccountId);
    if (!Number.isSafeInteger(input.lifetimeBudgetCents) || input.lifetimeBudgetCents <= 0) {
      throw new MetaAdsError(
        'meta_rejected',
        `lifetimeBudgetCents must be a positive integer of minor units`,
      );
    }
    if (input.name.trim() === '') {
      throw new MetaAdsError('meta_rejected', 'A campaign needs a name');
    }
    const body = {
      name: input.name,
      objective: toMetaObjective(input.objective),
      status: input.status,
      special_ad_categories: [],
      lifetime_budget: input.lifetimeBudgetCents,
    };

    return this.withRetries('createCampaign', async (previous) => {
      // A create that got no clear answer may have succeeded at Meta. Sending it again would make a
      // second campaign spending the same budget, so look for the first one before re-posting.
      // Throttled calls were refused before doing anything and are safe to repeat as they are.
      if (previous?.kind === 'transient') {
        const existing = await this.lookupCampaign(account, input.name);
        if (existing !== null) {
          this.logger?.info(
            { ...GRAPH_LOG_FIELDS, operation: 'createCampaign', campaignId: existing.id, name: input.name },
            'Meta campaign found after an unanswered create; adopting it',
          );
          return { id: existing.id };
        }
      }
      const created = await this.attempt('POST', `${account}/campaigns`, { body });
      const id = isRecord(created) && typeof created.id === 'string' && created.id !== '' ? created.id : null;
      if (id === null) {
        throw malformed('createCampaign answered without a campaign id');
      }
      this.logger?.info(
        {
          ...GRAPH_LOG_FIELDS,
          operation: 'createCampaign',
          campaignId: id,
          name: input.name,
          status: input.status,
        },
        'Meta campaign created',
      );
      return { id };
    });
  }

  async findCampaignByName(input: FindCampaignByNameInput): Promise<MetaCampaignSummary | null> {
    const account = toAdAccountPath(input.adAccountId);
    return this.withRetries('findCampaignByName', () => this.lookupCampaign(account, input.name));
  }

  async updateCampaignStatus(campaignId: string, status: MetaCampaignStatus): Promise<void> {
    const id = campaignPath(campaignId);
    if (!isMetaCampaignStatus(status)) {
      throw new MetaAdsError('meta_rejected', `Unknown campaign status ${JSON.stringify(status)}`);
    }
    // Setting a status is idempotent at Meta, so every retryable failure may simply be repeated.
    await this.withRetries('updateCampaignStatus', async () => {
      const answer = await this.attempt('POST', id, { body: { status } });
      if (isRecord(answer) && answer.success === false) {
        throw malformed('updateCampaignStatus answered success: false');
      }
    });
    this.logger?.info(
      { ...GRAPH_LOG_FIELDS, operation: 'updateCampaignStatus', campaignId, status },
      'Meta campaign status updated',
    );
  }

  async getCampaignSpendCents(campaignId: string): Promise<number> {
    const id = campaignPath(campaignId);
    return this.withRetries('getCampaignSpendCents', async () => {
      const answer = await this.attempt('GET', `${id}/insights`, {
        query: { fields: 'spend', date_preset: 'maximum' },
      });
      const rows = isRecord(answer) && Array.isArray(answer.data) ? (answer.data as unknown[]) : null;
      if (rows === null) {
        throw malformed('insights answered without a data array');
      }
      // date_preset=maximum without a time increment yields one row; summing keeps us right if not.
      let total = 0;
      for (const row of rows) {
        const spend = isRecord(row) ? row.spend : undefined;
        if (spend === undefined) continue;
        if (typeof spend !== 'string' && typeof spend !== 'number') {
          throw malformed(`insights spend is not a decimal: ${JSON.stringify(spend)}`);
        }
        try {
          total += spendToCents(String(spend));
        } catch (error) {
          throw malformed(`insights spend is not a decimal: ${JSON.stringify(spend)}`, error);
        }
      }
      this.logger?.debug?.(
        { ...GRAPH_LOG_FIELDS, operation: 'getCampaignSpendCents', campaignId, spentCents: total },
        'Meta campaign spend read',
      );
      return total;
    });
  }

  private async lookupCampaign(account: string, name: string): Promise<MetaCampaignSummary | null> {
    const answer = await this.attempt('GET', `${account}/campaigns`, {
      query: {
        fields: 'id,name,status',
        filtering: JSON.stringify([{ field: 'name', operator: 'EQUAL', value: name }]),
      },
    });
    const rows = isRecord(answer) && Array.isArray(answer.data) ? (answer.data as unknown[]) : null;
    if (rows === null) {
      throw malformed('campaign search answered without a data array');
    }
    // Re-check the name ourselves: adopting someone else's campaign because a filter was ignored
    // upstream would be worse than not finding ours.
    const matches: MetaCampaignSummary[] = [];
    for (const row of rows) {
      if (!isRecord(row) || row.name !== name) continue;
      if (typeof row.id !== 'string' || !isMetaCampaignStatus(row.status)) {
        throw malformed('campaign search returned a row without id or a known status');
      }
      matches.push({ id: row.id, status: row.status });
    }
    if (matches.length > 1) {
      this.logger?.warn(
        { ...GRAPH_LOG_FIELDS, operation: 'findCampaignByName', name, campaignIds: matches.map((m) => m.id) },
        'More than one Meta campaign carries this name',
      );
    }
    return matches.find((m) => m.status !== 'DELETED' && m.status !== 'ARCHIVED') ?? matches[0] ?? null;
  }

  private async withRetries<T>(
    operation: string,
    attemptOnce: (previous: GraphErrorClassification | null) => Promise<T>,
  ): Promise<T> {
    let previous: GraphErrorClassification | null = null;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await attemptOnce(previous);
      } catch (error) {
        if (!(error instanceof GraphAttemptFailure)) {
          throw error;
        }
        const failure = error.classification;
        const fields = {
          ...GRAPH_LOG_FIELDS,
          operation,
          attempt,
          kind: failure.kind,
          httpStatus: failure.httpStatus,
          graphCode: failure.code,
          graphSubcode: failure.subcode,
          fbtraceId: failure.fbtraceId,
          graphMessage: failure.message,
        };
        const giveUp = (reason: string): MetaAdsError => {
          this.logger?.warn(
            { ...fields, retryAfterMs: failure.retryAfterMs },
            `Meta ${operation} failed: ${reason}`,
          );
          return MetaAdsError.fromClassification(failure, {
            operation,
            attempts: attempt,
            cause: error.original,
          });
        };

        if (failure.kind === 'permanent') {
          throw giveUp('permanent error, not retried');
        }
        if (attempt > this.maxRetries) {
          throw giveUp('retries exhausted');
        }
        if (failure.retryAfterMs !== undefined && failure.retryAfterMs > this.maxRetryAfterMs) {
          throw giveUp(`Meta asks for ${failure.retryAfterMs} ms, longer than this process waits`);
        }
        const waitMs = this.waitBeforeRetry(attempt, failure.retryAfterMs);
        this.logger?.warn({ ...fields, waitMs }, `Meta ${operation} failed (${failure.kind}); retrying`);
        await this.sleep(waitMs);
        previous = failure;
      }
    }
  }

  private waitBeforeRetry(attempt: number, advisedMs: number | undefined): number {
    if (advisedMs !== undefined) {
      return advisedMs + Math.floor(this.random() * Math.min(ADVISED_WAIT_JITTER_MS, advisedMs / 10));
    }
    // Equal jitter: at least half the exponential step, so a retry storm still thins out.
    const step = Math.min(
      this.retryMaxDelayMs,
      this.retryBaseDelayMs * 2 ** (attempt - 1),
      this.maxRetryAfterMs,
    );
    return Math.floor(step / 2 + this.random() * (step / 2));
  }

  private async attempt(
    method: HttpMethod,
    path: string,
    request: { query?: Record<string, string>; body?: Record<string, unknown> },
  ): Promise<unknown> {
    const url = new URL(`${this.baseUrl}/${this.apiVersion}/${path}`);
    for (const [key, value] of Object.entries(request.query ?? {})) {
      url.searchParams.set(key, value);
    }
    url.searchParams.set('appsecret_proof', this.appSecretProof);

    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.accessToken}`,
      Accept: 'application/json',
    };
    if (request.body !== undefined) {
      headers['Content-Type'] = 'application/json';
    }

    let status: number;
    let responseHeaders: Headers;
    let text: string;
    try {
      const response = await fetch(url, {
        method,
        headers,
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = response.status;
      responseHeaders = response.headers;
      text = await response.text();
    } catch (error) {
      throw new GraphAttemptFailure(classifyNetworkError(error, this.timeoutMs), error);
    }

    if (status < 200 || status >= 300) {
      throw new GraphAttemptFailure(classifyGraphError(status, text, responseHeaders));
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw malformed(`HTTP ${status} with a body that is not JSON`, error);
    }
  }
}

/** A 2xx we cannot read is treated like an outage: worth another try, never a verdict on the order. */
function malformed(message: string, original?: unknown): GraphAttemptFailure {
  return new GraphAttemptFailure(
    {
      kind: 'transient',
      httpStatus: null,
      code: null,
      subcode: null,
      type: 'malformed_response',
      message,
      userMessage: null,
      fbtraceId: null,
    },
    original,
  );
}

function campaignPath(campaignId: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(campaignId)) {
    throw new MetaAdsError('meta_rejected', `Malformed Meta campaign id: ${JSON.stringify(campaignId)}`);
  }
  return campaignId;
}

function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`MetaGraphClient ${name} must be a non-negative integer, got ${value}`);
  }
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
