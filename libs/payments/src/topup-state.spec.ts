import { MERCADO_PAGO_PAYMENT_STATUSES, MercadoPagoPaymentStatus } from './mercadopago/mercadopago.types';
import { PaymentsError } from './payments.errors';
import { StripeCheckoutPaymentStatus, StripeCheckoutSessionStatus } from './stripe/stripe.types';
import {
  canTransition,
  isTerminal,
  isTopupStatus,
  mapMercadoPagoPaymentStatus,
  mapStripeCheckoutSessionStatus,
  mapStripeEvent,
  pathTo,
  planTransition,
  STRIPE_TOPUP_EVENT_TYPES,
  StripeTopupEventType,
  TOPUP_STATUSES,
  TopupStatus,
  transition,
} from './topup-state';

/**
 * Written out by hand, cell by cell, so that any change to the table in topup-state.ts must be
 * made twice, on purpose. Rows are `from`, columns are `to`.
 */
const COLUMNS = [
  'pending',
  'approved',
  'rejected',
  'expired',
  'cancelled',
  'refunded',
  'charged_back',
] as const;
// prettier-ignore
const EXPECTED: Record<TopupStatus, readonly (0 | 1)[]> = {
  //             pending approved rejected expired cancelled refunded charged_back
  pending:      [0,      1,       1,       1,      1,        0,       0],
  approved:     [0,      0,       0,       0,      0,        1,       1],
  rejected:     [0,      0,       0,       0,      0,        0,       0],
  expired:      [0,      0,       0,       0,      0,        0,       0],
  cancelled:    [0,      0,       0,       0,      0,        0,       0],
  refunded:     [0,      0,       0,       0,      0,        0,       0],
  charged_back: [0,      0,       0,       0,      0,        0,       0],
};

const ALL_PAIRS = TOPUP_STATUSES.flatMap((from) => TOPUP_STATUSES.map((to) => [from, to] as const));

describe('top-up state machine', () => {
  it('knows exactly the statuses of SPEC §5', () => {
    expect([...TOPUP_STATUSES]).toEqual([...COLUMNS]);
    expect(ALL_PAIRS).toHaveLength(49);
  });

  it.each(ALL_PAIRS)('%s → %s matches the hand-written table', (from, to) => {
    const allowed = EXPECTED[from][COLUMNS.indexOf(to)] === 1;
    expect(canTransition(from, to)).toBe(allowed);
    if (allowed) {
      expect(transition(from, to)).toBe(to);
    } else {
      let thrown: unknown;
      try {
        transition(from, to);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(PaymentsError);
      expect(thrown).toMatchObject({ code: 'invalid_transition', status: 409, extra: { from, to } });
    }
  });

  it('marks terminal statuses', () => {
    expect(TOPUP_STATUSES.filter((status) => isTerminal(status))).toEqual([
      'rejected',
      'expired',
      'cancelled',
      'refunded',
      'charged_back',
    ]);
  });

  it('refuses statuses it does not know (e.g. a bad database value)', () => {
    const bogus = 'paid' as TopupStatus;
    expect(isTopupStatus('paid')).toBe(false);
    expect(isTopupStatus('approved')).toBe(true);
    expect(canTransition(bogus, 'approved')).toBe(false);
    expect(canTransition('pending', bogus)).toBe(false);
    expect(() => transition(bogus, 'approved')).toThrow(PaymentsError);
    expect(pathTo(bogus, 'approved')).toBeNull();
  });

  describe('planTransition', () => {
    it.each<[TopupStatus, TopupStatus | null, ReturnType<typeof planTransition>]>([
      ['pending', null, { kind: 'none', reason: 'no_target' }],
      ['pending', 'pending', { kind: 'none', reason: 'already_there' }],
      ['approved', 'approved', { kind: 'none', reason: 'already_there' }],
      ['pending', 'approved', { kind: 'apply', steps: ['approved'] }],
      ['pending', 'expired', { kind: 'apply', steps: ['expired'] }],
      // A missed approval still produces the credit before the refund's debit.
      ['pending', 'refunded', { kind: 'apply', steps: ['approved', 'refunded'] }],
      ['pending', 'charged_back', { kind: 'apply', steps: ['approved', 'charged_back'] }],
      ['approved', 'refunded', { kind: 'apply', steps: ['refunded'] }],
      // Out-of-order deliveries are stale, never a step back.
      ['approved', 'pending', { kind: 'stale', from: 'approved', to: 'pending' }],
      ['refunded', 'approved', { kind: 'stale', from: 'refunded', to: 'approved' }],
      ['expired', 'approved', { kind: 'stale', from: 'expired', to: 'approved' }],
      ['refunded', 'charged_back', { kind: 'stale', from: 'refunded', to: 'charged_back' }],
    ])('%s with target %s', (current, target, expected) => {
      expect(planTransition(current, target)).toEqual(expected);
    });

    it('only ever plans legal steps', () => {
      for (const [from, to] of ALL_PAIRS) {
        const plan = planTransition(from, to);
        if (plan.kind !== 'apply') continue;
        let current: TopupStatus = from;
        for (const step of plan.steps) current = transition(current, step);
        expect(current).toBe(to);
      }
    });
  });

  describe('mapMercadoPagoPaymentStatus', () => {
    it.each<[MercadoPagoPaymentStatus, string | null, TopupStatus | null]>([
      ['pending', 'pending_waiting_transfer', 'pending'],
      ['in_process', 'pending_review_manual', 'pending'],
      ['authorized', null, 'pending'],
      ['approved', 'accredited', 'approved'],
      ['approved', 'partially_refunded', 'approved'],
      ['rejected', 'cc_rejected_other_reason', 'rejected'],
      ['cancelled', 'expired', 'expired'],
      ['cancelled', 'by_collector', 'cancelled'],
      ['cancelled', null, 'cancelled'],
      ['refunded', 'refunded', 'refunded'],
      ['charged_back', 'settled', 'charged_back'],
      ['in_mediation', null, null],
    ])('%s / %s → %s', (status, detail, expected) => {
      expect(mapMercadoPagoPaymentStatus(status, detail)).toBe(expected);
    });

    it('covers every documented Mercado Pago status', () => {
      for (const status of MERCADO_PAGO_PAYMENT_STATUSES) {
        expect(() => mapMercadoPagoPaymentStatus(status, null)).not.toThrow();
      }
    });
  });

  describe('mapStripeCheckoutSessionStatus', () => {
    it.each<[StripeCheckoutSessionStatus | null, StripeCheckoutPaymentStatus, TopupStatus | null]>([
      ['open', 'unpaid', 'pending'],
      ['complete', 'paid', 'approved'],
      ['complete', 'unpaid', 'pending'],
      ['complete', 'no_payment_required', null],
      ['expired', 'unpaid', 'expired'],
      [null, 'unpaid', null],
    ])('%s / %s → %s', (status, paymentStatus, expected) => {
      expect(mapStripeCheckoutSessionStatus(status, paymentStatus)).toBe(expected);
    });
  });

  describe('mapStripeEvent', () => {
    it.each<[StripeTopupEventType, Parameters<typeof mapStripeEvent>[1], TopupStatus | null]>([
      ['checkout.session.completed', { paymentStatus: 'paid' }, 'approved'],
      ['checkout.session.completed', { paymentStatus: 'unpaid' }, 'pending'],
      ['checkout.session.completed', {}, null],
      ['checkout.session.async_payment_succeeded', {}, 'approved'],
      ['checkout.session.async_payment_failed', {}, 'rejected'],
      ['checkout.session.expired', {}, 'expired'],
      ['charge.refunded', { fullyRefunded: true }, 'refunded'],
      ['charge.refunded', { fullyRefunded: false }, null],
      ['charge.dispute.created', {}, 'charged_back'],
    ])('%s %j → %s', (type, details, expected) => {
      expect(mapStripeEvent(type, details)).toBe(expected);
    });

    it('covers every event type it declares', () => {
      for (const type of STRIPE_TOPUP_EVENT_TYPES) expect(() => mapStripeEvent(type)).not.toThrow();
    });
  });
});
