import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintTransformer } from '@realapp/platform';
import type { PaymentsProvider } from '../payments.errors';
import type { TopupStatus } from '../topup-state';

/** The PIX data the app shows: the copy-and-paste BR Code, its QR image and when it lapses. */
export interface PixData {
  copyPasteCode: string;
  qrCodeBase64: string | null;
  expiresAt: string | null;
}

const money = { type: 'bigint' as const, transformer: bigintTransformer };

/** `billing.topups`: one wallet top-up through one provider (SPEC §5, §13). */
@Entity({ schema: 'billing', name: 'topups' })
export class TopupEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'tenant_id' })
  tenantId: string;

  @Column('text')
  provider: PaymentsProvider;

  @Column('text')
  status: TopupStatus;

  @Column({ ...money, name: 'amount_cents' })
  amountCents: number;

  @Column('char', { length: 3 })
  currency: string;

  /** Mercado Pago payment id (PIX). */
  @Column('text', { name: 'provider_payment_id', nullable: true })
  providerPaymentId: string | null;

  /** Stripe Checkout Session id (card). */
  @Column('text', { name: 'provider_session_id', nullable: true })
  providerSessionId: string | null;

  /** Stripe PaymentIntent id: refunds and disputes name it, not the session. */
  @Column('text', { name: 'provider_payment_intent_id', nullable: true })
  providerPaymentIntentId: string | null;

  @Column('text', { name: 'provider_status', nullable: true })
  providerStatus: string | null;

  @Column('text', { name: 'provider_status_detail', nullable: true })
  providerStatusDetail: string | null;

  @Column('jsonb', { nullable: true })
  pix: PixData | null;

  @Column('text', { name: 'checkout_url', nullable: true })
  checkoutUrl: string | null;

  @Column('timestamptz', { name: 'expires_at', nullable: true })
  expiresAt: Date | null;

  /** What the ledger has already debited as refunds for this top-up. */
  @Column({ ...money, name: 'refunded_cents' })
  refundedCents: number;

  @Column({ ...money, name: 'charged_back_cents' })
  chargedBackCents: number;

  @Column('text', { name: 'failure_code', nullable: true })
  failureCode: string | null;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt: Date;

  @Column('timestamptz', { name: 'approved_at', nullable: true })
  approvedAt: Date | null;

  /** When it became rejected, expired or cancelled. */
  @Column('timestamptz', { name: 'closed_at', nullable: true })
  closedAt: Date | null;

  @Column('timestamptz', { name: 'refunded_at', nullable: true })
  refundedAt: Date | null;

  @Column('timestamptz', { name: 'charged_back_at', nullable: true })
  chargedBackAt: Date | null;

  /** Last time a reconciliation pass picked it up. */
  @Column('timestamptz', { name: 'reconciled_at', nullable: true })
  reconciledAt: Date | null;
}
