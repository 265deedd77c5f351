import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { ENTRY_KINDS, EntryKind } from '@realapp/ledger';
import {
  MAX_TOPUP_CENTS,
  MIN_TOPUP_CENTS,
  PLAN_INTERVALS,
  PlanInterval,
  SUBSCRIPTION_STATUSES,
  SubscriptionStatus,
  TOPUP_STATUSES,
  TopupStatus,
} from '@realapp/payments';

// ---- requests ------------------------------------------------------------------------------

/** `{amountCents}`: a JSON integer, never a string (the pipe does not coerce), 1..100000000. */
export class TopupRequestDto {
  @ApiProperty({
    description: `Integer cents (centavos), 1..${MAX_TOPUP_CENTS}; under ${MIN_TOPUP_CENTS} → 422 amount_below_minimum.`,
    type: 'integer',
    minimum: 1,
    maximum: MAX_TOPUP_CENTS,
    example: 9000,
  })
  @IsInt()
  @Min(1)
  @Max(MAX_TOPUP_CENTS)
  amountCents: number;
}

export class SubscribeRequestDto {
  @ApiPropertyOptional({
    description:
      'A plan id from GET /v1/billing/config; the default plan (MERCADO_PAGO_SUBSCRIPTION_PLAN_ID) when absent.',
    example: 'plan_basic',
  })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9._-]{1,100}$/, { message: 'planId must be a plan id from GET /v1/billing/config' })
  planId?: string;
}

// ---- responses (OpenAPI) -------------------------------------------------------------------

export class PlanDto {
  @ApiProperty({ example: 'plan_basic' })
  id: string;

  @ApiProperty({ example: 'Basic' })
  name: string;

  @ApiProperty({ type: 'integer', example: 9900 })
  priceCents: number;

  @ApiProperty({ enum: PLAN_INTERVALS, example: 'month' })
  interval: PlanInterval;
}

export class BillingConfigDto {
  @ApiProperty({ example: 'BRL' })
  currency: string;

  @ApiProperty({ type: 'integer', example: MIN_TOPUP_CENTS })
  minTopupCents: number;

  @ApiProperty({ type: 'integer', example: 9000 })
  recommendedTopupCents: number;

  @ApiProperty({ type: [PlanDto] })
  plans: PlanDto[];
}

export class PixDto {
  @ApiProperty({ description: 'The PIX copy-and-paste code (EMV BR Code).' })
  copyPasteCode: string;

  @ApiProperty({ description: 'PNG of the QR code, base64.', nullable: true, type: String })
  qrCodeBase64: string | null;

  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  expiresAt: string | null;
}

export class TopupDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ enum: TOPUP_STATUSES, example: 'pending' })
  status: TopupStatus;

  @ApiProperty({ type: 'integer', example: 9000 })
  amountCents: number;

  @ApiProperty({ example: 'BRL' })
  currency: string;

  @ApiProperty({ enum: ['mercadopago', 'stripe'] })
  provider: 'mercadopago' | 'stripe';

  @ApiProperty({ description: 'Mercado Pago payment id (PIX top-ups).', nullable: true, type: String })
  providerPaymentId: string | null;

  @ApiProperty({
    description: 'Stripe Checkout Session id, cs_… (card top-ups).',
    nullable: true,
    type: String,
  })
  providerSessionId: string | null;

  @ApiPropertyOptional({ type: PixDto, description: 'PIX top-ups only.' })
  pix?: PixDto;

  @ApiPropertyOptional({ description: 'Card top-ups only: Stripe Checkout.' })
  checkoutUrl?: string;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt: string;
}

export class TopupPageDto {
  @ApiProperty({ type: [TopupDto] })
  items: TopupDto[];

  @ApiProperty({ nullable: true, type: String })
  nextCursor: string | null;
}

export class WalletDto {
  @ApiProperty({
    type: 'integer',
    description: 'Σ of every ledger entry; negative after a refund or chargeback of spent money.',
  })
  balanceCents: number;

  @ApiProperty({ type: 'integer', description: 'Reserved for running orders.' })
  heldCents: number;

  @ApiProperty({ type: 'integer', description: 'balance − held.' })
  availableCents: number;

  @ApiProperty({ example: 'BRL' })
  currency: string;

  @ApiProperty({
    format: 'date-time',
    nullable: true,
    type: String,
    description: 'null before the first entry.',
  })
  updatedAt: string | null;
}

export class LedgerEntryDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ enum: ENTRY_KINDS })
  kind: EntryKind;

  @ApiProperty({
    type: 'integer',
    description: 'Signed effect on the balance (0 for hold and hold_release).',
  })
  amountCents: number;

  @ApiProperty({
    type: 'integer',
    description:
      'Signed effect on the held amount: how much a hold reserved (+) or a release/spend gave back (−).',
  })
  heldDeltaCents: number;

  @ApiProperty({ type: 'integer' })
  balanceAfterCents: number;

  @ApiProperty({ description: 'Unique idempotency reference, e.g. mercadopago:<paymentId>:topup.' })
  reference: string;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;
}

export class LedgerPageDto {
  @ApiProperty({ type: [LedgerEntryDto] })
  items: LedgerEntryDto[];

  @ApiProperty({ nullable: true, type: String })
  nextCursor: string | null;
}

export class PendingSubscriptionDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty()
  planId: string;

  @ApiProperty({ nullable: true, type: String })
  checkoutUrl: string | null;
}

export class SubscriptionDto {
  @ApiProperty({ enum: SUBSCRIPTION_STATUSES, description: '`none` when the tenant never subscribed.' })
  status: SubscriptionStatus;

  @ApiProperty({ nullable: true, type: String })
  planId: string | null;

  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  currentPeriodEnd: string | null;

  @ApiProperty({ description: 'Cancelled, with the plan kept until currentPeriodEnd.' })
  cancelAtPeriodEnd: boolean;

  @ApiProperty({
    type: PendingSubscriptionDto,
    nullable: true,
    description: 'A plan change awaiting authorization.',
  })
  pending: PendingSubscriptionDto | null;
}

export class SubscribeResponseDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ enum: ['pending'] })
  status: 'pending';

  @ApiProperty()
  planId: string;

  @ApiProperty({ description: "Mercado Pago's init_point (carries preapproval_id)." })
  checkoutUrl: string;
}
