import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, Repository } from 'typeorm';
import { CursorPosition } from '@realapp/platform';
import type { PaymentsProvider } from '../payments.errors';
import { TopupEntity } from './topup.entity';

export interface NewTopup {
  id: string;
  tenantId: string;
  provider: PaymentsProvider;
  amountCents: number;
  currency: string;
  expiresAt: Date | null;
  createdAt: Date;
}

/**
 * Every query of `billing.topups`. Methods named `lock…` take the row lock (SELECT … FOR UPDATE)
 * and must run inside the caller's transaction; tenant-facing reads always filter on the tenant.
 */
@Injectable()
export class TopupRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private repo(tx?: EntityManager): Repository<TopupEntity> {
    return (tx ?? this.dataSource.manager).getRepository(TopupEntity);
  }

  async insert(tx: EntityManager, input: NewTopup): Promise<TopupEntity> {
    const row = this.repo(tx).create({
      ...input,
      status: 'pending',
      providerPaymentId: null,
      providerSessionId: null,
      providerPaymentIntentId: null,
      providerStatus: null,
      providerStatusDetail: null,
      pix: null,
      checkoutUrl: null,
      refundedCents: 0,
      chargedBackCents: 0,
      failureCode: null,
      updatedAt: input.createdAt,
      approvedAt: null,
      closedAt: null,
      refundedAt: null,
      chargedBackAt: null,
      reconciledAt: null,
    });
    await this.repo(tx).insert(row);
    return row;
  }

  async save(tx: EntityManager, row: TopupEntity): Promise<TopupEntity> {
    return this.repo(tx).save(row);
  }

  lockById(tx: EntityManager, id: string, provider?: PaymentsProvider): Promise<TopupEntity | null> {
    return this.repo(tx).findOne({
      where: provider ? { id, provider } : { id },
      lock: { mode: 'pessimistic_write' },
    });
  }

  lockByProviderPayment(
    tx: EntityManager,
    provider: PaymentsProvider,
    providerPaymentId: string,
  ): Promise<TopupEntity | null> {
    return this.repo(tx).findOne({
      where: { provider, providerPaymentId },
      lock: { mode: 'pessimistic_write' },
    });
  }

  lockByStripeSession(tx: EntityManager, sessionId: string): Promise<TopupEntity | null> {
    return this.repo(tx).findOne({
      where: { provider: 'stripe', providerSessionId: sessionId },
      lock: { mode: 'pessimistic_write' },
    });
  }

  lockByStripePaymentIntent(tx: EntityManager, paymentIntentId: string): Promise<TopupEntity | null> {
    return this.repo(tx).findOne({
      where: { provider: 'stripe', providerPaymentIntentId: paymentIntentId },
      lock: { mode: 'pessimistic_write' },
    });
  }

  findById(id: string): Promise<TopupEntity | null> {
    return this.repo().findOne({ where: { id } });
  }

  findForTenant(tenantId: string, id: string): Promise<TopupEntity | null> {
    return this.repo().findOne({ where: { id, tenantId } });
  }

  /** Newest first, keyset on (created_at, id); `limit + 1` rows so the caller knows if there is more. */
  async pageForTenant(tenantId: string, limit: number, after: CursorPosition | null): Promise<TopupEntity[]> {
    const query = this.repo()
      .createQueryBuilder('t')
      .where('t.tenant_id = :tenantId', { tenantId })
      .orderBy('t.created_at', 'DESC')
      .addOrderBy('t.id', 'DESC')
      .limit(limit + 1);
    if (after)
      query.andWhere('(t.created_at, t.id) < (:at::timestamptz, :id::uuid)', { at: after.at, id: after.id });
    return query.getMany();
  }

  /**
   * Takes the next pending top-ups for a reconciliation pass, least recently checked first, and
   * stamps them so the following pass starts with the others (no top-up waits behind a backlog).
   * Rows another transaction is applying right now are skipped, not waited for.
   */
  async claimPendingForReconciliation(limit: number, now: Date): Promise<TopupEntity[]> {
    const rows = (await this.dataSource.query(
      `UPDATE billing.topups t SET reconciled_at = $2
       FROM (SELECT id FROM billing.topups WHERE status = 'pending'
             ORDER BY reconciled_at NULLS FIRST, created_at LIMIT $1 FOR UPDATE SKIP LOCKED) p
       WHERE t.id = p.id
       RETURNING t.id`,
      [limit, now],
    )) as [Array<{ id: string }>, number] | Array<{ id: string }>;
    // pg through TypeORM answers UPDATE … RETURNING as [rows, count].
    const claimed = Array.isArray(rows[0])
      ? (rows[0] as Array<{ id: string }>)
      : (rows as Array<{ id: string }>);
    if (claimed.length === 0) return [];
    const found = await this.repo().findBy(claimed.map((r) => ({ id: r.id })));
    return found.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  }

  async countPending(): Promise<number> {
    return this.repo().count({ where: { status: 'pending' } });
  }
}
