import { Type } from 'class-transformer';
import { IsInt, IsString, Matches, Max, Min } from 'class-validator';
import { BaseConfig } from '@realapp/platform';

/** A comma-separated list of non-empty secrets: two are live while a rotation overlaps. */
const SECRET_LIST = /^[^,\s]+(\s*,\s*[^,\s]+)*$/;
const SECRET_LIST_MESSAGE = 'must be one secret or a comma-separated list of secrets (rotation)';

export class WebhookGatewayConfig extends BaseConfig {
  override PORT = 3003;

  @IsString()
  OPS_API_KEY!: string;

  @Matches(SECRET_LIST, { message: SECRET_LIST_MESSAGE })
  MERCADO_PAGO_WEBHOOK_SECRET!: string;

  @Matches(SECRET_LIST, { message: SECRET_LIST_MESSAGE })
  STRIPE_WEBHOOK_SECRET!: string;

  @Matches(SECRET_LIST, { message: SECRET_LIST_MESSAGE })
  META_APP_SECRET!: string;

  @IsString()
  META_WEBHOOK_VERIFY_TOKEN!: string;

  /** A signed timestamp further than this from now is a replay (SPEC §7). */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(3600)
  WEBHOOK_SIGNATURE_TOLERANCE_SECONDS = 300;
}

export const WEBHOOK_GATEWAY_SECRETS = [
  'OPS_API_KEY',
  'MERCADO_PAGO_WEBHOOK_SECRET',
  'STRIPE_WEBHOOK_SECRET',
  'META_APP_SECRET',
  'META_WEBHOOK_VERIFY_TOKEN',
] as const;
