import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, In, Repository } from 'typeorm';
import { SubscriptionEntity } from './subscription.entity';

export interface NewSubscription {
  id: string;
  tenantId: string;
  planId: string;
  amountCents: number;
  currency: string;
  replacesSubscriptionId: string | null;
  createdAt: Date;
}

/** Every query of `billing.subscriptions`; `lock…` methods need the caller's transaction. */
@Injectable()
export class SubscriptionRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private repo(tx?: EntityManager): Repository<SubscriptionEntity> {
    return (tx ?? this.dataSource.manager).getRepository(SubscriptionEntity);
  }

  async insert(tx: EntityManager, input: NewSubscription): Promise<SubscriptionEntity> {
    const row = this.repo(tx).create({
      ...input,
      provider: 'mercadopago',
      status: 'pending',
      providerPreapprovalId: null,
      providerStatus: null,
      checkoutUrl: null,
      currentPeriodEnd: null,
      cancelAtPeriodEnd: false,
      cancelReason: null,
      failureCode: null,
      updatedAt: input.createdAt,
      activatedAt: null,
      cancelledAt: null,
    });
    await this.repo(tx).insert(row);
    return row;
  }

  async save(tx: EntityManager, row: SubscriptionEntity): Promise<SubscriptionEntity> {
    return this.repo(tx).save(row);
  }

  lockById(tx: EntityManager, id: string): Promise<SubscriptionEntity | null> {
    return this.repo(tx).findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  findById(tx: EntityManager, id: string): Promise<SubscriptionEntity | null> {
    return this.repo(tx).findOne({ where: { id } });
  }

  findByPreapproval(tx: EntityManager, preapprovalId: string): Promise<SubscriptionEntity | null> {
    return this.repo(tx).findOne({
      where: { provider: 'mercadopago', providerPreapprovalId: preapprovalId },
    });
  }

  lockByPreapproval(tx: EntityManager, preapprovalId: string): Promise<SubscriptionEntity | null> {
    return this.repo(tx).findOne({
      where: { provider: 'mercadopago', providerPreapprovalId: preapprovalId },
      lock: { mode: 'pessimistic_write' },
    });
  }

  /** The tenant's active or past-due subscription and its pending one (a plan change), locked. */
  async lockOpen(tx: EntityManager, tenantId: string): Promise<SubscriptionEntity[]> {
    return this.repo(tx).find({
      where: { tenantId, status: In(['pending', 'active', 'past_due']) },
      lock: { mode: 'pessimistic_write' },
    });
  }

  /** Every subscription of the tenant, newest first (a tenant has a handful). */
  listForTenant(tenantId: string, tx?: EntityManager): Promise<SubscriptionEntity[]> {
    return this.repo(tx).find({ where: { tenantId }, order: { createdAt: 'DESC', id: 'DESC' }, take: 50 });
  }

  async hasActivePlan(tx: EntityManager, tenantId: string, now: Date): Promise<boolean> {
    const rows = (await tx.query(
      `SELECT 1 FROM billing.subscriptions
       WHERE tenant_id = $1
         AND (status = 'active' OR (status = 'cancelled' AND cancel_at_period_end AND current_period_end > $2))
       LIMIT 1`,
      [tenantId, now],
    )) as unknown[];
    return rows.length > 0;
  }
}
