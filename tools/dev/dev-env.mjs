// The development values of SPEC §13 and the local stack's wiring: every provider points at the
// provider sandbox, and the sandbox's notifications go to the local webhook-gateway.
export const SANDBOX_URL = 'http://127.0.0.1:3090';

export function devEnv(overrides = {}) {
  const env = {
    NODE_ENV: 'development',
    DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/realapp',
    AMQP_URL: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    DEBUG_LOG_DIR: process.env.DEBUG_LOG_DIR ?? '',
    OPS_API_KEY: 'dev-ops-api-key',
    SUPER_ADMIN_API_KEY: 'dev-super-admin-api-key',
    WORKER_API_KEY: 'dev-worker-api-key',
    MERCADO_PAGO_WEBHOOK_SECRET: 'dev-mercadopago-webhook-secret',
    STRIPE_WEBHOOK_SECRET: 'whsec_dev_stripe_webhook_secret',
    META_APP_SECRET: 'dev-meta-app-secret',
    META_WEBHOOK_VERIFY_TOKEN: 'dev-meta-verify-token',
    MERCADO_PAGO_BASE_URL: SANDBOX_URL,
    STRIPE_API_BASE_URL: SANDBOX_URL,
    META_GRAPH_BASE_URL: SANDBOX_URL,
    OPENAI_BASE_URL: `${SANDBOX_URL}/v1`,
    REAL_ADS_ENABLED: 'true',
    JWKS_URL: 'http://127.0.0.1:3001/.well-known/jwks.json',
    PUBLIC_WEBHOOK_BASE_URL: 'http://127.0.0.1:3003',
    SANDBOX_PORT: '3090',
    SANDBOX_WEBHOOK_BASE_URL: 'http://127.0.0.1:3003',
    ...overrides,
  };
  for (const key of Object.keys(env)) if (env[key] === '') delete env[key];
  return env;
}
