import type { OrderEntity } from './order.entity';
import type { OrderTransitionEntity } from './order-transition.entity';
import type { OrderView } from './orders.types';

/** The SPEC §13 order view; `history` is oldest first, starting with the creation. */
export function toOrderView(order: OrderEntity, history: readonly OrderTransitionEntity[]): OrderView {
  return {
    id: order.id,
    name: order.name,
    objective: order.objective,
    status: order.status,
    waitingReason: order.waitingReason,
    budgetCents: order.budgetCents,
    spentCents: order.spentCents,
    heldCents: order.heldCents,
    campaignId: order.campaignId,
    targeting: order.targeting,
    creative: order.creative,
    startsAt: order.startsAt ? order.startsAt.toISOString() : null,
    endsAt: order.endsAt ? order.endsAt.toISOString() : null,
    failureReason: order.failureReason,
    history: history.map((item) => ({
      from: item.fromStatus,
      to: item.toStatus,
      at: item.at.toISOString(),
      reason: item.reason,
    })),
    createdAt: order.createdAt.toISOString(),
    updatedAt: order.updatedAt.toISOString(),
  };
}
