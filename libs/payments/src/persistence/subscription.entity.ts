import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintTransformer } from '@realapp/platform';
import type { SubscriptionStatus } from '../subscription-state';

export type StoredSubscriptionStatus = Exclude<SubscriptionStatus, 'none'>;

export type SubscriptionCancelReason =
  'tenant_request' | 'replaced' | 'provider' | 'abandoned' | 'provider_error';

/** `billing.subscriptions`: one Mercado Pago pre-approval of one plan for one tenant. */
@Entity({ schema: 'billing', name: 'subscriptions' })
export class SubscriptionEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'tenant_id' })
  tenantId: string;

  @Column('text', { name: 'plan_id' })
  planId: string;

  @Column('text')
  provider: 'mercadopago';

  @Column('text')
  status: StoredSubscriptionStatus;

  @Column({ type: 'bigint', transformer: bigintTransformer, name: 'amount_cents' })
  amountCents: number;

  @Column('char', { length: 3 })
  currency: string;

  @Column('text', { name: 'provider_preapproval_id', nullable: true })
  providerPreapprovalId: string | null;

  @Column('text', { name: 'provider_status', nullable: true })
  providerStatus: string | null;

  /** Mercado Pago's `init_point`, where the buyer authorizes the pre-approval. */
  @Column('text', { name: 'checkout_url', nullable: true })
  checkoutUrl: string | null;

  @Column('timestamptz', { name: 'current_period_end', nullable: true })
  currentPeriodEnd: Date | null;

  /** Cancelled by the tenant (or the provider) after paying for the current period: the plan lasts until its end. */
  @Column('boolean', { name: 'cancel_at_period_end' })
  cancelAtPeriodEnd: boolean;

  @Column('text', { name: 'cancel_reason', nullable: true })
  cancelReason: SubscriptionCancelReason | null;

  /** The subscription a plan change will replace once this one is authorized. */
  @Column('uuid', { name: 'replaces_subscription_id', nullable: true })
  replacesSubscriptionId: string | null;

  @Column('text', { name: 'failure_code', nullable: true })
  failureCode: string | null;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt: Date;

  @Column('timestamptz', { name: 'activated_at', nullable: true })
  activatedAt: Date | null;

  @Column('timestamptz', { name: 'cancelled_at', nullable: true })
  cancelledAt: Date | null;
}
