import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { OrderActionRequested, OrderQueued, OrdersReevaluationRequested } from '@realapp/contracts';
import { LedgerService } from '@realapp/ledger';
import { OutboxService } from '@realapp/messaging';
import { SubscriptionService } from '@realapp/payments';
import { lockInTransaction } from '@realapp/platform';
import type { MetaCampaignStatus } from '@realapp/meta-ads';
import { orderReferences, planSpendCapture, SpendCapture } from './order-money';
import { canApply, isTerminal, OrderStatus } from './order-state';
import { OrderStore } from './order-store';
import { ORDER_WORK_SQL } from './order-work';
import { OrderEntity } from './order.entity';
import { OrderMetrics } from './orders.metrics';
import type { OrderTransitionRecord } from './orders.types';

export type LeaseResult = { kind: 'acquired'; order: OrderEntity } | { kind: 'busy' } | { kind: 'missing' };

export type LaunchRecord =
  /** launching → active with this campaign. */
  | { kind: 'launched'; order: OrderEntity }
  /** The order was stopped while its campaign was being created: the campaign is now known, to be archived. */
  | { kind: 'attached'; order: OrderEntity }
  | { kind: 'unchanged'; order: OrderEntity }
  /** The order already has another campaign: this one is surplus and must be archived. */
  | { kind: 'duplicate'; order: OrderEntity };

/**
 * The worker's side of orders: every database step of re-evaluation, launch, Meta sync, spend
 * capture, completion and settlement, each one short transaction on the locked order row. Meta
 * is never called from here; the worker calls Meta between these steps, outside any transaction.
 */
@Injectable()
export class OrderLifecycleService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly store: OrderStore,
    private readonly ledger: LedgerService,
    private readonly subscriptions: SubscriptionService,
    private readonly outbox: OutboxService,
    private readonly metrics: OrderMetrics,
  ) {}

  /**
   * Which of these tenants have an order waiting for money or a plan: one probe of the partial
   * waiting index per tenant, in one statement (in `manager`'s transaction when given).
   */
  async withWaiting(
    tenantIds: readonly string[],
    manager: EntityManager = this.dataSource.manager,
  ): Promise<Set<string>> {
    if (tenantIds.length === 0) return new Set();
    const rows = (await manager.query(
      `SELECT t.id AS tenant_id FROM unnest($1::uuid[]) AS t(id)
       WHERE EXISTS (SELECT 1 FROM ads.orders WHERE tenant_id = t.id AND status = 'waiting_payment')`,
      [[...new Set(tenantIds)]],
    )) as Array<{ tenant_id: string }>;
    return new Set(rows.map((row) => row.tenant_id));
  }

  /**
   * Money or a plan arrived: the tenant's waiting orders, oldest first, each one the wallet now
   * covers gets its hold and becomes `queued`. Runs in the caller's transaction (the consumer's
   * inbox transaction) under a per-tenant lock, so concurrent events take turns.
   */
  async reevaluate(
    tx: EntityManager,
    tenantId: string,
  ): Promise<{ queued: string[]; transitions: OrderTransitionRecord[] }> {
    await lockInTransaction(tx, `orders:${tenantId}`);
    const waiting = await tx
      .createQueryBuilder(OrderEntity, 'o')
      .setLock('pessimistic_write')
      .where(`o.tenant_id = :tenantId AND o.status = 'waiting_payment'`, { tenantId })
      .orderBy('o.created_at', 'ASC')
      .addOrderBy('o.id', 'ASC')
      .getMany();
    const transitions: OrderTransitionRecord[] = [];
    if (waiting.length === 0) return { queued: [], transitions };

    if (!(await this.subscriptions.hasActivePlan(tx, tenantId))) {
      for (const order of waiting) {
        if (order.waitingReason !== 'missing_plan')
          await this.store.update(tx, order, { waitingReason: 'missing_plan' });
      }
      return { queued: [], transitions };
    }
    let available = await this.ledger.availableCents(tx, tenantId);
    const queued: string[] = [];
    for (const order of waiting) {
      if (order.budgetCents > available) {
        if (order.waitingReason !== 'insufficient_balance')
          await this.store.update(tx, order, { waitingReason: 'insufficient_balance' });
        continue;
      }
      await this.ledger.hold(tx, {
        tenantId,
        amountCents: order.budgetCents,
        reference: orderReferences.hold(order.id),
        metadata: { orderId: order.id },
      });
      available -= order.budgetCents;
      transitions.push(
        await this.store.transition(tx, order, 'fund', 'budget_held', {
          waitingReason: null,
          heldCents: order.budgetCents,
          launchStartedAt: new Date(),
        }),
      );
      await this.outbox.enqueue(tx, OrderQueued, { tenantId, data: { orderId: order.id, tenantId } });
      queued.push(order.id);
    }
    return { queued, transitions };
  }

  /** A refund or chargeback took the balance below zero: every running campaign of the tenant pauses. */
  async pauseForNegativeBalance(
    tx: EntityManager,
    tenantId: string,
  ): Promise<{ paused: string[]; transitions: OrderTransitionRecord[] }> {
    const running = await tx
      .createQueryBuilder(OrderEntity, 'o')
      .setLock('pessimistic_write')
      .where('o.tenant_id = :tenantId', { tenantId })
      .andWhere(`o.status = 'active'`)
      .orderBy('o.created_at', 'ASC')
      .getMany();
    const transitions: OrderTransitionRecord[] = [];
    for (const order of running) {
      if (!canApply(order.status, 'pause')) continue;
      transitions.push(
        await this.store.transition(tx, order, 'pause', 'balance_negative', { metaSyncError: null }),
      );
      await this.outbox.enqueue(tx, OrderActionRequested, {
        tenantId,
        data: { orderId: order.id, tenantId, action: 'pause' },
      });
    }
    return { paused: running.map((order) => order.id), transitions };
  }

  // ---- the worker's lease on an order ----------------------------------------------------------

  /**
   * One worker at a time talks to Meta about an order. The lease is a row field, not a held
   * connection, so a slow Graph call never pins a pool connection; a crashed worker's lease
   * simply expires after `ttlSeconds`. Lease writes leave `updated_at` alone (it is the
   * customer-visible time of the last change).
   */
  async acquireLease(orderId: string, owner: string, ttlSeconds: number): Promise<LeaseResult> {
    // Wrapped in a CTE so the driver answers rows, as for any SELECT.
    const rows = (await this.dataSource.query(
      `WITH taken AS (
         UPDATE ads.orders SET lease_owner = $2, lease_until = now() + make_interval(secs => $3)
         WHERE id = $1 AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until < now())
         RETURNING id)
       SELECT id FROM taken`,
      [orderId, owner, ttlSeconds],
    )) as Array<{ id: string }>;
    const acquired = rows.length === 1;
    const order = await this.dataSource.manager.findOneBy(OrderEntity, { id: orderId });
    if (!order) return { kind: 'missing' };
    return acquired ? { kind: 'acquired', order } : { kind: 'busy' };
  }

  /** Gives the lease back and answers the order as it is now, so the holder can see work that arrived meanwhile. */
  async releaseLease(orderId: string, owner: string): Promise<OrderEntity | null> {
    await this.dataSource.query(
      `UPDATE ads.orders SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2`,
      [orderId, owner],
    );
    return this.dataSource.manager.findOneBy(OrderEntity, { id: orderId });
  }

  // ---- launch ----------------------------------------------------------------------------------

  /**
   * Records the intent to create the campaign and commits it before Meta is called: `queued →
   * launching` the first time, one more attempt after that. An attempt count above one tells the
   * worker a previous attempt may have created the campaign, so it looks it up by name first.
   */
  async beginLaunch(orderId: string): Promise<OrderEntity | null> {
    return this.withOrder(orderId, async (tx, order) => {
      if (canApply(order.status, 'launch')) {
        return [
          await this.store.transition(tx, order, 'launch', 'launch_started', {
            launchAttempts: 1,
            launchStartedAt: new Date(),
          }),
        ];
      }
      if (canApply(order.status, 'launched')) {
        await this.store.update(tx, order, {
          launchAttempts: order.launchAttempts + 1,
          launchStartedAt: new Date(),
        });
      }
      return [];
    });
  }

  /** The campaign exists at Meta (created now, or found by name after a crash). */
  async recordCampaign(
    orderId: string,
    campaignId: string,
    metaStatus: MetaCampaignStatus,
    how: 'created' | 'adopted',
  ): Promise<LaunchRecord | null> {
    let record: LaunchRecord | null = null;
    await this.withOrder(orderId, async (tx, order) => {
      if (order.campaignId !== null) {
        record = { kind: order.campaignId === campaignId ? 'unchanged' : 'duplicate', order };
        return [];
      }
      if (canApply(order.status, 'launched')) {
        const transition = await this.store.transition(tx, order, 'launched', `campaign_${how}`, {
          campaignId,
          metaStatus,
        });
        record = { kind: 'launched', order };
        return [transition];
      }
      // Stopped (or failed) while the campaign was being created: keep it, so it can be archived.
      await this.store.update(tx, order, { campaignId, metaStatus });
      record = { kind: 'attached', order };
      return [];
    });
    return record;
  }

  /** Meta refused the launch for good: `failed` with the reason, and the hold goes back. */
  async fail(orderId: string, reason: string): Promise<OrderEntity | null> {
    return this.withOrder(orderId, async (tx, order) => {
      if (!canApply(order.status, 'fail')) return [];
      const transition = await this.store.transition(tx, order, 'fail', 'meta_rejected', {
        failureReason: reason,
      });
      await this.releaseRemainder(tx, order, 'meta_rejected');
      return [transition];
    });
  }

  // ---- Meta status, spend, completion, settlement -------------------------------------------------

  async recordMetaStatus(
    orderId: string,
    campaignId: string,
    metaStatus: MetaCampaignStatus,
  ): Promise<OrderEntity | null> {
    return this.withOrder(orderId, async (tx, order) => {
      if (order.campaignId === campaignId)
        await this.store.update(tx, order, { metaStatus, metaSyncError: null });
      return [];
    });
  }

  /**
   * Meta refused, for good, the status wanted for `forStatus`: the sweep stops retrying until the
   * customer asks again. Ignored when the order moved on meanwhile (that is a new wish to try).
   */
  async recordMetaSyncError(
    orderId: string,
    forStatus: OrderStatus,
    message: string,
  ): Promise<OrderEntity | null> {
    return this.withOrder(orderId, async (tx, order) => {
      if (order.status === forStatus)
        await this.store.update(tx, order, { metaSyncError: message.slice(0, 500) });
      return [];
    });
  }

  /**
   * Captures the increase of Meta's lifetime spend from the hold (`spend`, reference named by the
   * new cumulative amount, so a repeat of the same reading posts nothing). Lower readings are ignored.
   */
  async captureSpend(
    orderId: string,
    reportedCents: number,
  ): Promise<{ order: OrderEntity; capture: SpendCapture } | null> {
    let outcome: { order: OrderEntity; capture: SpendCapture } | null = null;
    await this.withOrder(orderId, async (tx, order) => {
      const capture = planSpendCapture(order, reportedCents);
      if (capture.captureCents > 0) {
        await this.ledger.spend(tx, {
          tenantId: order.tenantId,
          amountCents: capture.captureCents,
          reference: orderReferences.spend(order.id, capture.spentCents),
          metadata: { orderId: order.id, campaignId: order.campaignId, reportedCents },
        });
        await this.store.update(tx, order, {
          spentCents: capture.spentCents,
          heldCents: order.heldCents - capture.captureCents,
        });
      }
      outcome = { order, capture };
      return [];
    });
    return outcome;
  }

  /** The budget is used up and Meta confirmed the pause: `completed`, anything still held goes back. */
  async complete(orderId: string, campaignId: string): Promise<OrderEntity | null> {
    return this.withOrder(orderId, async (tx, order) => {
      if (order.campaignId !== campaignId || !canApply(order.status, 'complete')) return [];
      const transition = await this.store.transition(tx, order, 'complete', 'budget_used_up', {
        metaStatus: 'PAUSED',
      });
      await this.releaseRemainder(tx, order, 'budget_used_up');
      return [transition];
    });
  }

  /** A finished order gives back what it still holds, once (reference `order:<id>:release`). */
  async settle(orderId: string): Promise<OrderEntity | null> {
    return this.withOrder(orderId, async (tx, order) => {
      if (isTerminal(order.status)) await this.releaseRemainder(tx, order, order.status);
      return [];
    });
  }

  // ---- sweeps ----------------------------------------------------------------------------------

  /** Orders whose campaign may be spending: insights are read for these. */
  async findSpending(limit: number, afterId: string | null): Promise<string[]> {
    const rows = (await this.dataSource.query(
      `SELECT o.id FROM ads.orders o
       WHERE o.status IN ('active', 'paused') AND o.campaign_id IS NOT NULL AND ($2::uuid IS NULL OR o.id > $2::uuid)
       ORDER BY o.id LIMIT $1`,
      [limit, afterId],
    )) as Array<{ id: string }>;
    return rows.map((row) => row.id);
  }

  /** Orders with Meta work or money left over that no worker holds (an event was missed or failed for good). */
  async findUnreconciled(limit: number): Promise<string[]> {
    const rows = (await this.dataSource.query(
      `SELECT o.id FROM ads.orders o
       WHERE (${ORDER_WORK_SQL.metaSyncPending} OR ${ORDER_WORK_SQL.settlementPending})
         AND (o.lease_owner IS NULL OR o.lease_until < now())
       ORDER BY o.updated_at LIMIT $1`,
      [limit],
    )) as Array<{ id: string }>;
    return rows.map((row) => row.id);
  }

  /**
   * Launches asked for longer than `staleSeconds` ago that no worker holds (the worker died, or
   * the message ran out of attempts): `OrderQueued` again. The launch finds its campaign by name,
   * so a repeat never creates a second one.
   */
  async requeueStaleLaunches(staleSeconds: number, limit = 100): Promise<string[]> {
    return this.dataSource.transaction(async (tx) => {
      const rows = (await tx.query(
        `SELECT o.id, o.tenant_id FROM ads.orders o
         WHERE ${ORDER_WORK_SQL.launchPending}
           AND coalesce(o.launch_started_at, o.updated_at) < now() - make_interval(secs => $1)
           AND (o.lease_owner IS NULL OR o.lease_until < now())
         ORDER BY o.launch_started_at NULLS FIRST LIMIT $2
         FOR UPDATE OF o SKIP LOCKED`,
        [staleSeconds, limit],
      )) as Array<{ id: string; tenant_id: string }>;
      for (const row of rows) {
        await tx.query(`UPDATE ads.orders SET launch_started_at = now() WHERE id = $1`, [row.id]);
        await this.outbox.enqueue(tx, OrderQueued, {
          tenantId: row.tenant_id,
          data: { orderId: row.id, tenantId: row.tenant_id },
        });
      }
      return rows.map((row) => row.id);
    });
  }

  // ---- helpers ---------------------------------------------------------------------------------

  private async releaseRemainder(tx: EntityManager, order: OrderEntity, reason: string): Promise<void> {
    if (order.heldCents <= 0) return;
    const reference = orderReferences.release(order.id);
    await this.ledger.releaseHold(tx, {
      tenantId: order.tenantId,
      amountCents: order.heldCents,
      reference,
      metadata: { orderId: order.id, reason, spentCents: order.spentCents },
    });
    await this.store.update(tx, order, { heldCents: 0 });
    // Freed money may cover orders that are waiting for it.
    await this.outbox.enqueue(tx, OrdersReevaluationRequested, {
      tenantId: order.tenantId,
      data: { tenantId: order.tenantId, cause: 'hold_released', reference },
    });
  }

  /** One short transaction on the locked row; transitions are counted once it committed. */
  private async withOrder(
    orderId: string,
    work: (tx: EntityManager, order: OrderEntity) => Promise<OrderTransitionRecord[]>,
  ): Promise<OrderEntity | null> {
    const result = await this.dataSource.transaction(async (tx) => {
      const order = await this.store.lock(tx, orderId);
      if (!order) return null;
      return { order, transitions: await work(tx, order) };
    });
    if (!result) return null;
    this.metrics.recordTransitions(result.transitions);
    return result.order;
  }
}
