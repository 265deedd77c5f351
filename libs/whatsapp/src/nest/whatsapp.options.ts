/**
 * What the WhatsApp module needs from its host app's configuration. Each app maps its own
 * validated config class onto this (see `whatsAppOptionsFromConfig`), so the lib never reads
 * the environment.
 */
export interface WhatsAppModuleOptions {
  meta: {
    /** META_APP_ID: the app the Embedded Signup runs for (sent back to the app, used as client_id). */
    appId: string;
    /** META_CONFIG_ID: the Embedded Signup configuration. */
    configId: string;
    /** META_APP_SECRET: code exchange (client_secret) and appsecret_proof. */
    appSecret: string;
    /** META_APP_ACCESS_TOKEN: the app token debug_token is called with. */
    appAccessToken: string;
    /** META_GRAPH_BASE_URL: https://graph.facebook.com, or the provider sandbox. */
    graphBaseUrl: string;
    /** META_GRAPH_API_VERSION, e.g. v26.0. */
    graphApiVersion: string;
    /** Per Graph attempt; defaults to 10 s. */
    graphTimeoutMs?: number;
    /** Retries after the first attempt for throttled and transient failures; defaults to 3. */
    graphMaxRetries?: number;
    /** First backoff step between Graph retries; defaults to 250 ms. */
    graphRetryBaseDelayMs?: number;
  };
  /** TOKEN_ENCRYPTION_KEY: 64 hex characters, or a comma list during a rotation (the first seals). */
  tokenEncryptionKeys: string;
  /** REDIS_URL: conversation state cache and AI guardrail counters. */
  redisUrl: string;
  /** Optional AI replies (SPEC §14); off without `apiKey`. */
  ai: {
    apiKey?: string;
    baseUrl: string;
    model: string;
    timeoutSeconds: number;
    maxPerTenantPerDay: number;
    maxPerSenderPerMinute: number;
  };
}

export const WHATSAPP_OPTIONS = Symbol('WHATSAPP_OPTIONS');

/** The configuration fields both apps declare, read by their UPPER_SNAKE names. */
export interface WhatsAppConfigFields {
  META_APP_ID: string;
  META_CONFIG_ID: string;
  /** Optional in apps that only need it for other features; the module refuses to start without it. */
  META_APP_SECRET?: string;
  META_APP_ACCESS_TOKEN: string;
  META_GRAPH_BASE_URL: string;
  META_GRAPH_API_VERSION: string;
  TOKEN_ENCRYPTION_KEY: string;
  REDIS_URL: string;
  OPENAI_API_KEY?: string;
  OPENAI_BASE_URL?: string;
  OPENAI_MODEL?: string;
  OPENAI_TIMEOUT_SECONDS?: number;
  OPENAI_MAX_CALLS_PER_TENANT_PER_DAY?: number;
  OPENAI_MAX_CALLS_PER_SENDER_PER_MINUTE?: number;
  META_GRAPH_TIMEOUT_MS?: number;
}

export function whatsAppOptionsFromConfig(config: WhatsAppConfigFields): WhatsAppModuleOptions {
  return {
    meta: {
      appId: config.META_APP_ID,
      configId: config.META_CONFIG_ID,
      appSecret: config.META_APP_SECRET ?? '',
      appAccessToken: config.META_APP_ACCESS_TOKEN,
      graphBaseUrl: config.META_GRAPH_BASE_URL,
      graphApiVersion: config.META_GRAPH_API_VERSION,
      graphTimeoutMs: config.META_GRAPH_TIMEOUT_MS,
    },
    tokenEncryptionKeys: config.TOKEN_ENCRYPTION_KEY,
    redisUrl: config.REDIS_URL,
    ai: {
      apiKey: config.OPENAI_API_KEY && config.OPENAI_API_KEY.length > 0 ? config.OPENAI_API_KEY : undefined,
      baseUrl: config.OPENAI_BASE_URL ?? 'https://api.openai.com/v1',
      model: config.OPENAI_MODEL ?? 'gpt-4o-mini',
      timeoutSeconds: config.OPENAI_TIMEOUT_SECONDS ?? 20,
      maxPerTenantPerDay: config.OPENAI_MAX_CALLS_PER_TENANT_PER_DAY ?? 500,
      maxPerSenderPerMinute: config.OPENAI_MAX_CALLS_PER_SENDER_PER_MINUTE ?? 6,
    },
  };
}
