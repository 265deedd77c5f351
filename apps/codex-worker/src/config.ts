import { Transform, Type } from 'class-transformer';
import {
  IsBoolean,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  MinLength,
  Validate,
  ValidateIf,
  ValidationArguments,
  ValidatorConstraint,
  ValidatorConstraintInterface,
} from 'class-validator';
import { hostname } from 'node:os';
import { BaseConfig, ProductionDefault, RequiredInProduction, toBoolean } from '@realapp/platform';
import { IsBillingPlansJson, IsPublicUrl } from '@realapp/payments';

/** The sandbox's ad account: fine on a laptop, refused with real ads in production. */
export const DEVELOPMENT_AD_ACCOUNT_ID = 'act_1000000000000001';

@ValidatorConstraint({ name: 'metaAdAccountId' })
class AdAccountIdRule implements ValidatorConstraintInterface {
  validate(value: unknown, args: ValidationArguments): boolean {
    const config = args.object as { NODE_ENV?: string; REAL_ADS_ENABLED?: boolean };
    if (typeof value !== 'string' || !/^(act_)?\d{1,30}$/.test(value)) return false;
    return !(
      config.NODE_ENV === 'production' &&
      config.REAL_ADS_ENABLED === true &&
      value === DEVELOPMENT_AD_ACCOUNT_ID
    );
  }

  defaultMessage(): string {
    return 'must be a Meta ad account id (act_<digits>), and set explicitly in production with REAL_ADS_ENABLED';
  }
}

export class CodexWorkerConfig extends BaseConfig {
  override PORT = 3004;

  /** Names this replica in heartbeats (SPEC §8); defaults to host and pid so replicas differ. */
  @IsString()
  @Matches(/^[A-Za-z0-9._:-]{1,100}$/)
  WORKER_ID = `${hostname()}-${process.pid}`;

  /** Pending top-ups are checked with their provider this often, by one replica (SPEC §8). */
  @Type(() => Number)
  @IsInt()
  @Min(1000)
  TOPUP_RECONCILIATION_INTERVAL_MS = 60000;

  /** Work untouched for longer than this when a worker starts is put back in the queue (SPEC §8). */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  MVP_RUNNING_STALE_SECONDS = 300;

  /** How often this replica writes its heartbeat; ops calls a worker unhealthy after 60 s of silence. */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(30000)
  HEARTBEAT_INTERVAL_MS = 5000;

  /** Reported with the heartbeat so ops sees which build each replica runs (deploys set the image tag). */
  @IsString()
  @Matches(/^[A-Za-z0-9._:+-]{1,64}$/)
  APP_VERSION = 'dev';

  /**
   * Off by default outside production: Meta calls go to the built-in simulator (SPEC §8). On by
   * default in production, so a forgotten variable cannot quietly run real campaigns on a simulator.
   */
  @Transform(toBoolean)
  @IsBoolean()
  @ProductionDefault('true')
  REAL_ADS_ENABLED: boolean = false;

  /** The Graph API origin; the provider sandbox in development and tests (SPEC §13). */
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  META_GRAPH_BASE_URL = 'https://graph.facebook.com';

  @Matches(/^v\d+\.\d+$/, { message: 'must look like v26.0' })
  META_GRAPH_API_VERSION = 'v26.0';

  /** System-user token of the ad account; only needed with real ads. */
  @ValidateIf((config: CodexWorkerConfig) => config.REAL_ADS_ENABLED)
  @IsString()
  @MinLength(1)
  META_ACCESS_TOKEN?: string;

  /** Signs Graph calls (appsecret_proof) for ads and for the WhatsApp channel, which runs either way. */
  @IsString()
  @MinLength(1)
  META_APP_SECRET!: string;

  /** The ad account campaigns are created in (with or without `act_`). */
  @Validate(AdAccountIdRule)
  META_AD_ACCOUNT_ID = DEVELOPMENT_AD_ACCOUNT_ID;

  /** Campaign spend is read from Meta insights this often, by one replica (SPEC §13). */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  META_INSIGHTS_INTERVAL_MS = 15000;

  /** Per attempt of a Graph call. */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(120000)
  META_GRAPH_TIMEOUT_MS = 10000;

  /**
   * The longest rate-limit wait Meta may impose inside one message; beyond it the message is
   * retried later by the broker instead of holding a consumer asleep.
   */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(3600000)
  META_MAX_RETRY_AFTER_MS = 60000;

  // ---- payments (@realapp/payments): Mercado Pago, Stripe and the plans ----

  /** Mercado Pago's API; the provider sandbox in development and tests. */
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  MERCADO_PAGO_BASE_URL = 'https://api.mercadopago.com';

  @IsString()
  @MinLength(1)
  MERCADO_PAGO_ACCESS_TOKEN!: string;

  /** The Basic plan's id; subscriptions are for it unless the app names another plan (SPEC §5). */
  @Matches(/^[A-Za-z0-9._-]{1,100}$/)
  @RequiredInProduction()
  MERCADO_PAGO_SUBSCRIPTION_PLAN_ID = 'plan_basic';

  @IsString()
  @MinLength(1)
  STRIPE_SECRET_KEY!: string;

  /** Unset in production (the SDK's api.stripe.com); the sandbox's origin in development and tests. */
  @IsOptional()
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  STRIPE_API_BASE_URL?: string;

  /** The webhook-gateway's public origin, for Mercado Pago's notification_url (unset: the account's endpoint). */
  @IsOptional()
  @IsPublicUrl()
  PUBLIC_WEBHOOK_BASE_URL?: string;

  /** The app's public origin: Stripe Checkout returns the buyer here, as does Mercado Pago's back_url. */
  @IsPublicUrl()
  PUBLIC_APP_URL = 'http://127.0.0.1:8080';

  /** Optional JSON list of plans `[{id, name, priceCents, interval: "month"}]`; default Basic and Pro. */
  @IsOptional()
  @IsBillingPlansJson()
  BILLING_PLANS?: string;

  /** How long a PIX code can be paid (Mercado Pago: 30 min..30 days). */
  @Type(() => Number)
  @IsInt()
  @Min(30)
  @Max(43200)
  PIX_EXPIRATION_MINUTES = 60;

  // ---- WhatsApp channel (@realapp/whatsapp, SPEC §14) ----

  /** The Meta app Embedded Signup runs for. */
  @Matches(/^[0-9]{1,32}$/, { message: 'must be a Meta app id (digits)' })
  @RequiredInProduction()
  META_APP_ID = '1000000000000001';

  @Matches(/^[0-9]{1,32}$/, { message: 'must be a Meta configuration id (digits)' })
  @RequiredInProduction()
  META_CONFIG_ID = '1000000000000002';

  /** The app token debug_token is asked with (the 02:00 token health job). */
  @IsString()
  @MinLength(1)
  META_APP_ACCESS_TOKEN!: string;

  /** 64 hex characters, or a comma list during a key rotation (the first seals, all open; docs/whatsapp.md). */
  @Matches(/^\s*[0-9a-fA-F]{64}(\s*,\s*[0-9a-fA-F]{64})*\s*$/, { message: 'must be 64 hex characters, or a comma list of them' })
  TOKEN_ENCRYPTION_KEY!: string;

  /** Optional AI replies; without it they are off and the flow's fallback answers (SPEC §14). */
  @IsOptional()
  @IsString()
  OPENAI_API_KEY?: string;

  /** The OpenAI chat-completions origin; the provider sandbox in development and tests. */
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  OPENAI_BASE_URL = 'https://api.openai.com/v1';

  @IsString()
  @MinLength(1)
  OPENAI_MODEL = 'gpt-4o-mini';

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(120)
  OPENAI_TIMEOUT_SECONDS = 20;

  @Type(() => Number)
  @IsInt()
  @Min(0)
  OPENAI_MAX_CALLS_PER_TENANT_PER_DAY = 500;

  @Type(() => Number)
  @IsInt()
  @Min(0)
  OPENAI_MAX_CALLS_PER_SENDER_PER_MINUTE = 6;

  /** The daily token health job (UTC cron, one replica). */
  @Matches(/^\S+(\s+\S+){4,5}$/, { message: 'must be a cron expression' })
  WHATSAPP_TOKEN_CHECK_CRON = '0 2 * * *';

  /** The nightly cleanup of idle conversation state (UTC cron, one replica). */
  @Matches(/^\S+(\s+\S+){4,5}$/, { message: 'must be a cron expression' })
  WHATSAPP_CLEANUP_CRON = '0 0 * * *';

  /** How often one replica picks up replies a crash or an outage left unfinished. */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  WHATSAPP_REPLY_SWEEP_INTERVAL_MS = 30000;
}

export const CODEX_WORKER_SECRETS = [
  'META_ACCESS_TOKEN',
  'META_APP_SECRET',
  'MERCADO_PAGO_ACCESS_TOKEN',
  'STRIPE_SECRET_KEY',
  'META_APP_ACCESS_TOKEN',
  'TOKEN_ENCRYPTION_KEY',
  'OPENAI_API_KEY',
] as const;
