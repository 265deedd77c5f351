/** What `npm run postcheck -- …` accepts. */
export interface PostcheckOptions {
  /** queue-api, or the API gateway (one origin for everything). */
  baseUrl: string;
  /** auth-api (sign-up); defaults to baseUrl (right for the gateway). */
  authUrl: string;
  /** webhook-gateway; defaults to baseUrl (right for the gateway). */
  webhookUrl: string;
  /** The provider sandbox's control API, which approves the PIX payment and the subscription. */
  sandboxUrl: string;
  /** Signs the simulated Mercado Pago notification (the gateway's MERCADO_PAGO_WEBHOOK_SECRET). */
  mercadoPagoWebhookSecret: string;
  topupCents: number;
  /** How long to wait for each asynchronous effect (approval, activation, launch). */
  timeoutMs: number;
  /** Print every HTTP call. */
  verbose: boolean;
}

export const DEFAULT_SANDBOX_URL = 'http://127.0.0.1:3090';
/** SPEC §13's development value; deployments pass theirs (flag or MERCADO_PAGO_WEBHOOK_SECRET). */
export const DEV_MERCADO_PAGO_WEBHOOK_SECRET = 'dev-mercadopago-webhook-secret';
/** The smallest top-up (SPEC §5): the check moves as little money as it can. */
export const MIN_TOPUP_CENTS = 3000;

export const USAGE = `Usage: npm run postcheck -- --base-url <url> [options]

Runs the five go-live checks of SPEC §11 against a deployment, printing each step with ✓ or ✗.
Exits 0 when every check passes, 1 when one fails, 2 on a usage error.

  --base-url <url>                      queue-api, or the API gateway (required)
  --auth-url <url>                      auth-api (default: --base-url)
  --webhook-url <url>                   webhook-gateway (default: --base-url)
  --sandbox-url <url>                   provider sandbox control API (default: $SANDBOX_URL or ${DEFAULT_SANDBOX_URL})
  --mercadopago-webhook-secret <secret> signs the simulated notification (default: $MERCADO_PAGO_WEBHOOK_SECRET or the development value)
  --topup-cents <n>                     amount of the test top-up (default: ${MIN_TOPUP_CENTS}, the minimum)
  --timeout-ms <n>                      wait for each asynchronous effect at most this long (default: 60000)
  --verbose                             print every HTTP call
  --help                                this text`;

export class UsageError extends Error {}

function url(flag: string, value: string): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new UsageError(`${flag} must be an http(s) URL (got "${value}")`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new UsageError(`${flag} must be an http(s) URL (got "${value}")`);
  return value.replace(/\/+$/, '');
}

function integer(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} must be an integer from ${min} to ${max} (got "${value}")`);
  }
  return n;
}

/** Parses argv (without node and the script); `null` means `--help` was asked for. */
export function parseArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): PostcheckOptions | null {
  const values = new Map<string, string>();
  let verbose = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return null;
    if (arg === '--verbose') {
      verbose = true;
      continue;
    }
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
    if (!KNOWN.has(flag)) throw new UsageError(`unknown option ${flag}`);
    const value = inline ?? argv[++i];
    if (value === undefined || (inline === undefined && value.startsWith('--')))
      throw new UsageError(`${flag} needs a value`);
    values.set(flag, value);
  }
  const base = values.get('--base-url');
  if (!base) throw new UsageError('--base-url is required');
  const baseUrl = url('--base-url', base);
  const secret =
    values.get('--mercadopago-webhook-secret') ??
    env.MERCADO_PAGO_WEBHOOK_SECRET ??
    DEV_MERCADO_PAGO_WEBHOOK_SECRET;
  if (secret.length === 0) throw new UsageError('--mercadopago-webhook-secret must not be empty');
  return {
    baseUrl,
    authUrl: url('--auth-url', values.get('--auth-url') ?? baseUrl),
    webhookUrl: url('--webhook-url', values.get('--webhook-url') ?? baseUrl),
    sandboxUrl: url('--sandbox-url', values.get('--sandbox-url') ?? env.SANDBOX_URL ?? DEFAULT_SANDBOX_URL),
    // During a rotation the gateway accepts several secrets; any one of them signs.
    mercadoPagoWebhookSecret: secret.split(',')[0].trim(),
    topupCents: integer(
      '--topup-cents',
      values.get('--topup-cents') ?? String(MIN_TOPUP_CENTS),
      MIN_TOPUP_CENTS,
      100_000_000,
    ),
    timeoutMs: integer('--timeout-ms', values.get('--timeout-ms') ?? '60000', 1000, 600_000),
    verbose,
  };
}

const KNOWN = new Set([
  '--base-url',
  '--auth-url',
  '--webhook-url',
  '--sandbox-url',
  '--mercadopago-webhook-secret',
  '--topup-cents',
  '--timeout-ms',
]);
