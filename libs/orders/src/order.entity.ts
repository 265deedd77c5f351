import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintTransformer } from '@realapp/platform';
import type { AdObjective, MetaCampaignStatus } from '@realapp/meta-ads';
import type { OrderStatus } from './order-state';
import type { OrderCreative, OrderTargeting, WaitingReason } from './orders.types';

/** ads.orders (migration 1732400004000). Only this lib writes it. */
@Entity({ schema: 'ads', name: 'orders' })
export class OrderEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('uuid', { name: 'tenant_id' })
  tenantId: string;

  @Column('text')
  name: string;

  @Column('text')
  objective: AdObjective;

  @Column('text')
  status: OrderStatus;

  @Column('text', { name: 'waiting_reason', nullable: true })
  waitingReason: WaitingReason | null;

  @Column('bigint', { name: 'budget_cents', transformer: bigintTransformer })
  budgetCents: number;

  @Column('bigint', { name: 'held_cents', transformer: bigintTransformer })
  heldCents: number;

  @Column('bigint', { name: 'spent_cents', transformer: bigintTransformer })
  spentCents: number;

  @Column('char', { length: 3 })
  currency: string;

  @Column('jsonb')
  targeting: OrderTargeting;

  @Column('jsonb')
  creative: OrderCreative;

  @Column('timestamptz', { name: 'starts_at', nullable: true })
  startsAt: Date | null;

  @Column('timestamptz', { name: 'ends_at', nullable: true })
  endsAt: Date | null;

  @Column('text', { name: 'campaign_id', nullable: true })
  campaignId: string | null;

  @Column('text', { name: 'meta_status', nullable: true })
  metaStatus: MetaCampaignStatus | null;

  /** Meta refused to set the desired status for good; cleared when the customer asks again. */
  @Column('text', { name: 'meta_sync_error', nullable: true })
  metaSyncError: string | null;

  @Column('text', { name: 'failure_reason', nullable: true })
  failureReason: string | null;

  @Column('int', { name: 'launch_attempts' })
  launchAttempts: number;

  @Column('timestamptz', { name: 'launch_started_at', nullable: true })
  launchStartedAt: Date | null;

  @Column('uuid', { name: 'lease_owner', nullable: true })
  leaseOwner: string | null;

  @Column('timestamptz', { name: 'lease_until', nullable: true })
  leaseUntil: Date | null;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt: Date;
}
