import { Injectable } from '@nestjs/common';
import { EntityManager, In } from 'typeorm';
import { applyOrderEvent, InvalidTransitionError, OrderEvent, OrderStatus } from './order-state';
import { OrderEntity } from './order.entity';
import { OrderTransitionEntity } from './order-transition.entity';
import { OrdersError } from './orders.errors';
import type { OrderTransitionRecord } from './orders.types';

export type OrderPatch = Partial<
  Pick<
    OrderEntity,
    | 'waitingReason'
    | 'heldCents'
    | 'spentCents'
    | 'campaignId'
    | 'metaStatus'
    | 'metaSyncError'
    | 'failureReason'
    | 'launchAttempts'
    | 'launchStartedAt'
    | 'leaseOwner'
    | 'leaseUntil'
  >
>;

/** A history row as written: the record for metrics and logs, the row (id, `at`) for the view. */
export interface WrittenTransition {
  record: OrderTransitionRecord;
  row: OrderTransitionEntity;
}

/** Every column a write may touch; `status` only through `transition`. */
type OrderWrite = OrderPatch & { status?: OrderStatus };

const MAX_REASON_LENGTH = 500;

/**
 * Row-level persistence of orders, shared by the API and the worker sides of the lib. Every
 * status change goes through `transition`, which asks the state table and writes the history
 * row in the same transaction; nothing else writes `status`.
 */
@Injectable()
export class OrderStore {
  /** The new order and its first history row, which is all of its history (no read needed for the view). */
  async insert(tx: EntityManager, order: OrderEntity, reason: string): Promise<WrittenTransition> {
    await tx.insert(OrderEntity, order);
    return this.recordHistory(tx, order, null, order.status, reason);
  }

  /** The tenant's order, locked until the transaction ends; null for another tenant's id. */
  async lockOwned(tx: EntityManager, tenantId: string, id: string): Promise<OrderEntity | null> {
    return tx
      .createQueryBuilder(OrderEntity, 'o')
      .setLock('pessimistic_write')
      .where('o.id = :id AND o.tenant_id = :tenantId', { id, tenantId })
      .getOne();
  }

  /** Worker side: the order by id alone (its events carry the tenant already checked at creation). */
  async lock(tx: EntityManager, id: string): Promise<OrderEntity | null> {
    return tx
      .createQueryBuilder(OrderEntity, 'o')
      .setLock('pessimistic_write')
      .where('o.id = :id', { id })
      .getOne();
  }

  async findOwned(manager: EntityManager, tenantId: string, id: string): Promise<OrderEntity | null> {
    return manager
      .createQueryBuilder(OrderEntity, 'o')
      .where('o.id = :id AND o.tenant_id = :tenantId', { id, tenantId })
      .getOne();
  }

  /**
   * Applies `event` through the state table (409 invalid_transition when it is not allowed),
   * writes the new status with `patch`, and appends the history row. Mutates `order` to match.
   */
  async transition(
    tx: EntityManager,
    order: OrderEntity,
    event: OrderEvent,
    reason: string,
    patch: OrderPatch = {},
  ): Promise<OrderTransitionRecord> {
    let to: OrderStatus;
    try {
      to = applyOrderEvent(order.status, event);
    } catch (error) {
      if (error instanceof InvalidTransitionError) throw OrdersError.fromTransition(error);
      throw error;
    }
    const from = order.status;
    await this.write(tx, order, { ...patch, status: to });
    return (await this.recordHistory(tx, order, from, to, reason)).record;
  }

  /** Writes fields other than status (money, campaign, lease) and bumps updated_at. */
  async update(tx: EntityManager, order: OrderEntity, patch: OrderPatch): Promise<void> {
    await this.write(tx, order, patch);
  }

  private async write(tx: EntityManager, order: OrderEntity, patch: OrderWrite): Promise<void> {
    const updatedAt = new Date();
    await tx.update(OrderEntity, { id: order.id }, { ...patch, updatedAt });
    Object.assign(order, patch, { updatedAt });
  }

  async histories(
    manager: EntityManager,
    orderIds: readonly string[],
  ): Promise<Map<string, OrderTransitionEntity[]>> {
    const byOrder = new Map<string, OrderTransitionEntity[]>(orderIds.map((id) => [id, []]));
    if (orderIds.length === 0) return byOrder;
    const rows = await manager.find(OrderTransitionEntity, {
      where: { orderId: In([...orderIds]) },
      order: { id: 'ASC' },
    });
    for (const row of rows) byOrder.get(row.orderId)?.push(row);
    return byOrder;
  }

  private async recordHistory(
    tx: EntityManager,
    order: OrderEntity,
    from: OrderStatus | null,
    to: OrderStatus,
    reason: string,
  ): Promise<WrittenTransition> {
    const text = reason.length > MAX_REASON_LENGTH ? `${reason.slice(0, MAX_REASON_LENGTH - 1)}…` : reason;
    // `at` is the database's clock (column default): returned here so the row needs no read back.
    const [written] = (await tx.query(
      `INSERT INTO ads.order_transitions (order_id, tenant_id, from_status, to_status, reason)
       VALUES ($1, $2, $3, $4, $5) RETURNING id, at`,
      [order.id, order.tenantId, from, to, text],
    )) as Array<{ id: string; at: Date }>;
    const row = Object.assign(new OrderTransitionEntity(), {
      id: written.id,
      orderId: order.id,
      tenantId: order.tenantId,
      fromStatus: from,
      toStatus: to,
      reason: text,
      at: written.at,
    } satisfies OrderTransitionEntity);
    return { record: { orderId: order.id, tenantId: order.tenantId, from, to, reason: text }, row };
  }
}
