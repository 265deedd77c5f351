import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, IsUrl, Matches, Max, Min, MinLength } from 'class-validator';
import { BaseConfig, RequiredInProduction } from '@realapp/platform';
import { IsBillingPlansJson, IsPublicUrl } from '@realapp/payments';

export class QueueApiConfig extends BaseConfig {
  override PORT = 3002;

  @IsString()
  OPS_API_KEY!: string;

  /** Where access tokens' public keys are published (auth-api). */
  @IsUrl({ require_tld: false, protocols: ['http', 'https'] })
  @RequiredInProduction()
  JWKS_URL = 'http://127.0.0.1:3001/.well-known/jwks.json';

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

  /** Expired Idempotency-Key records are deleted this often, by one replica (hourly). */
  @Type(() => Number)
  @IsInt()
  @Min(1000)
  IDEMPOTENCY_CLEANUP_INTERVAL_MS = 3_600_000;

  // ---- WhatsApp channel (@realapp/whatsapp, SPEC §14) ----

  /** The Meta app Embedded Signup runs for (answered to the app, and the code exchange's client_id). */
  @Matches(/^[0-9]{1,32}$/, { message: 'must be a Meta app id (digits)' })
  @RequiredInProduction()
  META_APP_ID = '1000000000000001';

  /** The Embedded Signup configuration the app opens the popup with. */
  @Matches(/^[0-9]{1,32}$/, { message: 'must be a Meta configuration id (digits)' })
  @RequiredInProduction()
  META_CONFIG_ID = '1000000000000002';

  /** Code exchange (client_secret) and appsecret_proof on every Graph call. */
  @IsString()
  @MinLength(1)
  META_APP_SECRET!: string;

  /** The app token debug_token is asked with (token checks). */
  @IsString()
  @MinLength(1)
  META_APP_ACCESS_TOKEN!: string;

  /** The Graph API origin; the provider sandbox in development and tests (SPEC §13). */
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true })
  META_GRAPH_BASE_URL = 'https://graph.facebook.com';

  @Matches(/^v\d+\.\d+$/, { message: 'must look like v26.0' })
  META_GRAPH_API_VERSION = 'v26.0';

  /** 64 hex characters, or a comma list during a key rotation (the first seals, all open; docs/whatsapp.md). */
  @Matches(/^\s*[0-9a-fA-F]{64}(\s*,\s*[0-9a-fA-F]{64})*\s*$/, { message: 'must be 64 hex characters, or a comma list of them' })
  TOKEN_ENCRYPTION_KEY!: string;
}

export const QUEUE_API_SECRETS = [
  'OPS_API_KEY',
  'MERCADO_PAGO_ACCESS_TOKEN',
  'STRIPE_SECRET_KEY',
  'META_APP_SECRET',
  'META_APP_ACCESS_TOKEN',
  'TOKEN_ENCRYPTION_KEY',
] as const;
