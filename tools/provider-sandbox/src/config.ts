/**
 * The only place the sandbox reads the environment. Everything else receives explicit
 * options, so tests can start any number of sandboxes in-process with their own settings.
 */

export const SANDBOX_DEFAULTS = {
  port: 3090,
  host: '127.0.0.1',
  webhookBaseUrl: 'http://127.0.0.1:3003',
  mercadoPagoWebhookSecret: 'dev-mercadopago-webhook-secret',
  stripeWebhookSecret: 'whsec_dev_stripe_webhook_secret',
  metaAppSecret: 'dev-meta-app-secret',
} as const;

export interface SandboxConfig {
  port: number;
  host: string;
  /** Where the sandbox's own links (checkout pages, init_point, ticket_url) point; defaults to http://host:port. */
  publicUrl: string | undefined;
  webhookBaseUrl: string;
  mercadoPagoWebhookSecret: string;
  stripeWebhookSecret: string;
  metaAppSecret: string;
}

export class SandboxConfigError extends Error {}

export function loadSandboxConfig(env: NodeJS.ProcessEnv = process.env): SandboxConfig {
  const problems: string[] = [];

  const rawPort = nonEmpty(env['SANDBOX_PORT']);
  let port: number = SANDBOX_DEFAULTS.port;
  if (rawPort !== undefined) {
    const parsed = Number(rawPort);
    if (!/^\d+$/.test(rawPort) || !Number.isInteger(parsed) || parsed < 0 || parsed > 65535) {
      problems.push(`SANDBOX_PORT must be an integer 0..65535 (got "${rawPort}")`);
    } else {
      port = parsed;
    }
  }

  const webhookBaseUrl = trimSlash(
    nonEmpty(env['SANDBOX_WEBHOOK_BASE_URL']) ?? SANDBOX_DEFAULTS.webhookBaseUrl,
  );
  if (!isHttpUrl(webhookBaseUrl)) {
    problems.push(`SANDBOX_WEBHOOK_BASE_URL must be an http(s) URL (got "${webhookBaseUrl}")`);
  }

  const publicUrl = nonEmpty(env['SANDBOX_PUBLIC_URL']);
  if (publicUrl !== undefined && !isHttpUrl(publicUrl)) {
    problems.push(`SANDBOX_PUBLIC_URL must be an http(s) URL (got "${publicUrl}")`);
  }

  if (problems.length > 0) {
    throw new SandboxConfigError(`provider-sandbox configuration is invalid: ${problems.join('; ')}`);
  }

  return {
    port,
    host: nonEmpty(env['SANDBOX_HOST']) ?? SANDBOX_DEFAULTS.host,
    publicUrl: publicUrl === undefined ? undefined : trimSlash(publicUrl),
    webhookBaseUrl,
    mercadoPagoWebhookSecret:
      nonEmpty(env['MERCADO_PAGO_WEBHOOK_SECRET']) ?? SANDBOX_DEFAULTS.mercadoPagoWebhookSecret,
    stripeWebhookSecret: nonEmpty(env['STRIPE_WEBHOOK_SECRET']) ?? SANDBOX_DEFAULTS.stripeWebhookSecret,
    metaAppSecret: nonEmpty(env['META_APP_SECRET']) ?? SANDBOX_DEFAULTS.metaAppSecret,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
