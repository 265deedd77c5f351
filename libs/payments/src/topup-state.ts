import { MercadoPagoPaymentStatus } from './mercadopago/mercadopago.types';
import { assertUnreachable } from './payments.errors';
import { defineStateMachine, TransitionPlan, TransitionTable } from './state-machine';
import { StripeCheckoutPaymentStatus, StripeCheckoutSessionStatus } from './stripe/stripe.types';

export const TOPUP_STATUSES = [
  'pending',
  'approved',
  'rejected',
  'expired',
  'cancelled',
  'refunded',
  'charged_back',
] as const;
export type TopupStatus = (typeof TOPUP_STATUSES)[number];

/** SPEC §5: a top-up settles once; only an approved one can later be taken back. */
export const TOPUP_TRANSITIONS: TransitionTable<TopupStatus> = Object.freeze({
  pending: ['approved', 'rejected', 'expired', 'cancelled'],
  approved: ['refunded', 'charged_back'],
  rejected: [],
  expired: [],
  cancelled: [],
  refunded: [],
  charged_back: [],
});

const machine = defineStateMachine('top-up', TOPUP_STATUSES, TOPUP_TRANSITIONS);

export function isTopupStatus(value: unknown): value is TopupStatus {
  return machine.isStatus(value);
}

export function canTransition(from: TopupStatus, to: TopupStatus): boolean {
  return machine.canTransition(from, to);
}

/** Returns `to`, or throws `PaymentsError('invalid_transition')`. */
export function transition(from: TopupStatus, to: TopupStatus): TopupStatus {
  return machine.transition(from, to);
}

export function isTerminal(status: TopupStatus): boolean {
  return machine.isTerminal(status);
}

/** The legal steps from `from` to `to` (excluding `from`), or null when `to` is unreachable. */
export function pathTo(from: TopupStatus, to: TopupStatus): readonly TopupStatus[] | null {
  return machine.pathTo(from, to);
}

/**
 * What to do with the status a provider now reports for a top-up: nothing, these steps, or
 * ignore it as stale. Providers deliver out of order and reconciliation may see a payment after
 * several changes (pending → refunded means approved → refunded: credit, then debit).
 */
export function planTransition(
  current: TopupStatus,
  target: TopupStatus | null,
): TransitionPlan<TopupStatus> {
  return machine.plan(current, target);
}

/**
 * Mercado Pago payment status → the top-up status it implies, or null for "no change".
 *
 * - `pending`, `in_process`, `authorized`: money not settled yet → pending (a PIX is never
 *   `authorized`, but a card payment can be, and authorized is not captured).
 * - `approved` → approved, including `partially_refunded`: a partial refund is an amount
 *   (`transactionAmountRefundedCents`), not a status, and the top-up stays approved.
 * - `cancelled` with detail `expired` → expired (the PIX code lapsed unpaid); other cancellations → cancelled.
 * - `rejected`, `refunded`, `charged_back` → the same names.
 * - `in_mediation` → null: a dispute is open on an approved payment; it ends as approved again,
 *   refunded or charged_back, and the top-up keeps its status until then.
 */
export function mapMercadoPagoPaymentStatus(
  status: MercadoPagoPaymentStatus,
  statusDetail: string | null | undefined,
): TopupStatus | null {
  switch (status) {
    case 'pending':
    case 'in_process':
    case 'authorized':
      return 'pending';
    case 'approved':
      return 'approved';
    case 'rejected':
      return 'rejected';
    case 'cancelled':
      return statusDetail === 'expired' ? 'expired' : 'cancelled';
    case 'refunded':
      return 'refunded';
    case 'charged_back':
      return 'charged_back';
    case 'in_mediation':
      return null;
    default:
      return assertUnreachable(status, 'Unknown Mercado Pago payment status');
  }
}

/**
 * Stripe Checkout Session status → top-up status, or null for "no change".
 *
 * - `complete` + `paid` → approved (the only state that credits, as Stripe advises);
 * - `complete` + `unpaid` → pending: an asynchronous method (boleto, PIX via Stripe) is still
 *   running; its outcome arrives as `async_payment_succeeded` / `_failed` (see `mapStripeEvent`);
 * - `complete` + `no_payment_required` → null: a zero-amount top-up cannot exist, so this is left
 *   for a human rather than credited or refused automatically;
 * - `open` → pending; `expired` → expired; a null status → null.
 */
export function mapStripeCheckoutSessionStatus(
  status: StripeCheckoutSessionStatus | null,
  paymentStatus: StripeCheckoutPaymentStatus,
): TopupStatus | null {
  switch (status) {
    case null:
      return null;
    case 'open':
      return 'pending';
    case 'expired':
      return 'expired';
    case 'complete':
      switch (paymentStatus) {
        case 'paid':
          return 'approved';
        case 'unpaid':
          return 'pending';
        case 'no_payment_required':
          return null;
        default:
          return assertUnreachable(paymentStatus, 'Unknown Stripe payment status');
      }
    default:
      return assertUnreachable(status, 'Unknown Stripe checkout session status');
  }
}

export const STRIPE_TOPUP_EVENT_TYPES = [
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'checkout.session.async_payment_failed',
  'checkout.session.expired',
  'charge.refunded',
  'charge.dispute.created',
] as const;
export type StripeTopupEventType = (typeof STRIPE_TOPUP_EVENT_TYPES)[number];

export function isStripeTopupEventType(value: unknown): value is StripeTopupEventType {
  return typeof value === 'string' && (STRIPE_TOPUP_EVENT_TYPES as readonly string[]).includes(value);
}

/**
 * Stripe webhook event → top-up status, or null for "no change".
 *
 * - `checkout.session.completed`: as `mapStripeCheckoutSessionStatus('complete', paymentStatus)`;
 * - `async_payment_succeeded` → approved; `async_payment_failed` → rejected; `expired` → expired;
 * - `charge.refunded` → refunded only when the whole charge was refunded; a partial refund is an
 *   amount and leaves the top-up approved (null);
 * - `charge.dispute.created` → charged_back: Stripe withdraws the disputed funds when the dispute
 *   opens. A dispute later won returns them; that is an ops `adjustment`, since charged_back is terminal.
 */
export function mapStripeEvent(
  type: StripeTopupEventType,
  details: { paymentStatus?: StripeCheckoutPaymentStatus; fullyRefunded?: boolean } = {},
): TopupStatus | null {
  switch (type) {
    case 'checkout.session.completed':
      return details.paymentStatus === undefined
        ? null
        : mapStripeCheckoutSessionStatus('complete', details.paymentStatus);
    case 'checkout.session.async_payment_succeeded':
      return 'approved';
    case 'checkout.session.async_payment_failed':
      return 'rejected';
    case 'checkout.session.expired':
      return 'expired';
    case 'charge.refunded':
      return details.fullyRefunded === true ? 'refunded' : null;
    case 'charge.dispute.created':
      return 'charged_back';
    default:
      return assertUnreachable(type, 'Unknown Stripe event type');
  }
}
