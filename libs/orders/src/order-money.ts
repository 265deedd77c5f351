// The arithmetic of an order's money, kept pure so every edge (late readings, over-delivery,
// a stop after partial spend) is unit-tested without a database.
import type { MetaCampaignStatus } from '@realapp/meta-ads';
import type { OrderStatus } from './order-state';

/** Ledger references of an order: each posting has exactly one, so a repeat changes nothing. */
export const orderReferences = Object.freeze({
  hold: (orderId: string): string => `order:${orderId}:hold`,
  /** An order gives its hold back once, whatever ended it (stop, failure, completion). */
  release: (orderId: string): string => `order:${orderId}:release`,
  /** Named by the cumulative spend it brings the order to: one capture per amount Meta reports. */
  spend: (orderId: string, cumulativeCents: number): string => `order:${orderId}:spend:${cumulativeCents}`,
});

export interface OrderMoney {
  budgetCents: number;
  spentCents: number;
  heldCents: number;
}

export interface SpendCapture {
  /** What to move from the hold to spend now (0: nothing new). */
  captureCents: number;
  /** spentCents after the capture. */
  spentCents: number;
  /** The budget is used up: the campaign must stop spending and the order completes. */
  budgetUsedUp: boolean;
  /** Reported spend beyond the budget, which the hold cannot cover (logged, never captured). */
  overBudgetCents: number;
}

/**
 * Meta reports lifetime spend. Only an increase over what was captured is new; a lower reading
 * (Meta restating, a replica reading a stale insight) is ignored because spend never decreases.
 * Capture is capped by what the order still holds: the hold is the most the tenant authorised.
 */
export function planSpendCapture(order: OrderMoney, reportedCents: number): SpendCapture {
  if (!Number.isSafeInteger(reportedCents) || reportedCents < 0) {
    throw new RangeError(
      `reported spend must be a non-negative integer of cents, got ${String(reportedCents)}`,
    );
  }
  const ceiling = order.spentCents + order.heldCents;
  const target = Math.min(Math.max(reportedCents, order.spentCents), ceiling);
  const captureCents = target - order.spentCents;
  return {
    captureCents,
    spentCents: target,
    budgetUsedUp: target >= order.budgetCents,
    overBudgetCents: Math.max(0, reportedCents - ceiling),
  };
}

/**
 * The status the order's campaign should have at Meta, or null while there is none to set.
 * A stopped or failed order's campaign is archived: Meta then refuses to run it again, which is
 * what terminal means. A completed one is paused, as SPEC §6 says.
 */
export function desiredMetaStatus(status: OrderStatus): MetaCampaignStatus | null {
  switch (status) {
    case 'waiting_payment':
    case 'queued':
    case 'launching':
      return null;
    case 'active':
      return 'ACTIVE';
    case 'paused':
    case 'completed':
      return 'PAUSED';
    case 'stopped':
    case 'failed':
      return 'ARCHIVED';
    default:
      return assertUnreachable(status);
  }
}

function assertUnreachable(value: never): never {
  throw new Error(`Unhandled order status: ${String(value)}`);
}
