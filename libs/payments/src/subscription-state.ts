import { MercadoPagoPreapprovalStatus } from './mercadopago/mercadopago.types';
import { assertUnreachable } from './payments.errors';
import { defineStateMachine, TransitionPlan, TransitionTable } from './state-machine';

export const SUBSCRIPTION_STATUSES = ['none', 'pending', 'active', 'past_due', 'cancelled'] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

/**
 * A tenant's subscription (SPEC §5), `none` before the first one.
 * - pending → active when the buyer authorizes at `init_point`, → cancelled when abandoned;
 * - active ⇄ past_due as Mercado Pago pauses and resumes collection;
 * - cancelled → pending: subscribing again starts a new pre-approval (Mercado Pago's own
 *   cancelled pre-approvals never come back, so there is no cancelled → active).
 * A plan change is not a transition here: the old pre-approval stays active until the new one is.
 */
export const SUBSCRIPTION_TRANSITIONS: TransitionTable<SubscriptionStatus> = Object.freeze({
  none: ['pending'],
  pending: ['active', 'cancelled'],
  active: ['past_due', 'cancelled'],
  past_due: ['active', 'cancelled'],
  cancelled: ['pending'],
});

/**
 * `planTransition` never starts a subscription: none → pending and cancelled → pending are taken
 * only when the tenant subscribes, never because a notification (possibly about an old, cancelled
 * pre-approval) says `pending` or `authorized`.
 */
const PLAN_TRANSITIONS: TransitionTable<SubscriptionStatus> = Object.freeze({
  ...SUBSCRIPTION_TRANSITIONS,
  none: [],
  cancelled: [],
});

const machine = defineStateMachine('subscription', SUBSCRIPTION_STATUSES, SUBSCRIPTION_TRANSITIONS, {
  planTable: PLAN_TRANSITIONS,
});

export function isSubscriptionStatus(value: unknown): value is SubscriptionStatus {
  return machine.isStatus(value);
}

export function canTransition(from: SubscriptionStatus, to: SubscriptionStatus): boolean {
  return machine.canTransition(from, to);
}

/** Returns `to`, or throws `PaymentsError('invalid_transition')`. */
export function transition(from: SubscriptionStatus, to: SubscriptionStatus): SubscriptionStatus {
  return machine.transition(from, to);
}

export function isTerminal(status: SubscriptionStatus): boolean {
  return machine.isTerminal(status);
}

export function pathTo(
  from: SubscriptionStatus,
  to: SubscriptionStatus,
): readonly SubscriptionStatus[] | null {
  return machine.pathTo(from, to);
}

/**
 * See `TransitionPlan`: nothing, these steps, or a stale report to ignore. Call it only for the
 * tenant's current pre-approval (match the pre-approval id first).
 */
export function planTransition(
  current: SubscriptionStatus,
  target: SubscriptionStatus | null,
): TransitionPlan<SubscriptionStatus> {
  return machine.plan(current, target);
}

/** Mercado Pago pre-approval status → subscription status. */
export function mapMercadoPagoPreapprovalStatus(status: MercadoPagoPreapprovalStatus): SubscriptionStatus {
  switch (status) {
    case 'pending':
      return 'pending';
    case 'authorized':
      return 'active';
    case 'paused':
      return 'past_due';
    case 'cancelled':
      return 'cancelled';
    default:
      return assertUnreachable(status, 'Unknown Mercado Pago pre-approval status');
  }
}
