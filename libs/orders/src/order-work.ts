// What the worker still owes an order, as pure functions of its row. The event handlers and the
// periodic sweep ask the same question, so an order that an event missed is found by the sweep.
import { desiredMetaStatus } from './order-money';
import { canApply, isTerminal, ORDER_STATUSES, OrderStatus, TERMINAL_STATUSES } from './order-state';
import type { OrderEntity } from './order.entity';

export type OrderWorkState = Pick<
  OrderEntity,
  'status' | 'heldCents' | 'campaignId' | 'metaStatus' | 'metaSyncError'
>;

/** The order has yet to be launched (queued) or its launch has not finished (launching). */
export function launchPending(status: OrderStatus): boolean {
  return canApply(status, 'launch') || canApply(status, 'launched');
}

/** Meta should be told a status it has not confirmed (and has not refused for good). */
export function metaSyncPending(order: OrderWorkState): boolean {
  const desired = desiredMetaStatus(order.status);
  return (
    order.campaignId !== null &&
    order.metaSyncError === null &&
    desired !== null &&
    order.metaStatus !== desired
  );
}

/**
 * A finished order still holds money that must go back to the wallet. Not while Meta refused for
 * good to stop its campaign: the hold is what protects the wallet from a campaign that may still
 * be spending, so that order waits for ops.
 */
export function settlementPending(order: OrderWorkState): boolean {
  return isTerminal(order.status) && order.heldCents > 0 && order.metaSyncError === null;
}

export function orderNeedsWorker(order: OrderWorkState): boolean {
  return launchPending(order.status) || metaSyncPending(order) || settlementPending(order);
}

const quote = (value: string): string => `'${value.replace(/'/g, "''")}'`;
const LAUNCH_PENDING_STATUSES = ORDER_STATUSES.filter(launchPending);
const DESIRED_META_STATUS_SQL = `CASE o.status ${ORDER_STATUSES.map((status) => {
  const desired = desiredMetaStatus(status);
  return `WHEN ${quote(status)} THEN ${desired === null ? 'NULL' : quote(desired)}`;
}).join(' ')} END`;

/** The same questions in SQL (alias `o` = ads.orders), generated from the functions above. */
export const ORDER_WORK_SQL = Object.freeze({
  launchPending: `o.status IN (${LAUNCH_PENDING_STATUSES.map(quote).join(', ')})`,
  metaSyncPending: `(o.campaign_id IS NOT NULL AND o.meta_sync_error IS NULL AND ${DESIRED_META_STATUS_SQL} IS NOT NULL AND o.meta_status IS DISTINCT FROM ${DESIRED_META_STATUS_SQL})`,
  settlementPending: `(o.status IN (${TERMINAL_STATUSES.map(quote).join(', ')}) AND o.held_cents > 0 AND o.meta_sync_error IS NULL)`,
});
