import { MercadoPagoPreapprovalStatus } from './mercadopago/mercadopago.types';
import { PaymentsError } from './payments.errors';
import {
  canTransition,
  isSubscriptionStatus,
  isTerminal,
  mapMercadoPagoPreapprovalStatus,
  planTransition,
  SUBSCRIPTION_STATUSES,
  SubscriptionStatus,
  transition,
} from './subscription-state';

/** Written out by hand, cell by cell. Rows are `from`, columns are `to`. */
const COLUMNS = ['none', 'pending', 'active', 'past_due', 'cancelled'] as const;
// prettier-ignore
const EXPECTED: Record<SubscriptionStatus, readonly (0 | 1)[]> = {
  //          none pending active past_due cancelled
  none:      [0,   1,      0,     0,       0],
  pending:   [0,   0,      1,     0,       1],
  active:    [0,   0,      0,     1,       1],
  past_due:  [0,   0,      1,     0,       1],
  cancelled: [0,   1,      0,     0,       0],
};

const ALL_PAIRS = SUBSCRIPTION_STATUSES.flatMap((from) =>
  SUBSCRIPTION_STATUSES.map((to) => [from, to] as const),
);

describe('subscription state machine', () => {
  it('knows exactly the statuses of SPEC §5', () => {
    expect([...SUBSCRIPTION_STATUSES]).toEqual([...COLUMNS]);
    expect(ALL_PAIRS).toHaveLength(25);
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

  it('has no terminal status: a cancelled tenant may subscribe again', () => {
    expect(SUBSCRIPTION_STATUSES.filter((status) => isTerminal(status))).toEqual([]);
  });

  it('recognises its statuses', () => {
    expect(isSubscriptionStatus('past_due')).toBe(true);
    expect(isSubscriptionStatus('authorized')).toBe(false);
  });

  describe('planTransition', () => {
    it.each<[SubscriptionStatus, SubscriptionStatus | null, ReturnType<typeof planTransition>]>([
      ['pending', null, { kind: 'none', reason: 'no_target' }],
      ['active', 'active', { kind: 'none', reason: 'already_there' }],
      ['pending', 'active', { kind: 'apply', steps: ['active'] }],
      ['active', 'past_due', { kind: 'apply', steps: ['past_due'] }],
      ['past_due', 'active', { kind: 'apply', steps: ['active'] }],
      ['active', 'cancelled', { kind: 'apply', steps: ['cancelled'] }],
      // Authorized then paused before we heard of either.
      ['pending', 'past_due', { kind: 'apply', steps: ['active', 'past_due'] }],
      ['active', 'pending', { kind: 'stale', from: 'active', to: 'pending' }],
      // A notification never starts or restarts a subscription; only the tenant's request does.
      ['cancelled', 'active', { kind: 'stale', from: 'cancelled', to: 'active' }],
      ['cancelled', 'pending', { kind: 'stale', from: 'cancelled', to: 'pending' }],
      ['none', 'pending', { kind: 'stale', from: 'none', to: 'pending' }],
      ['none', 'active', { kind: 'stale', from: 'none', to: 'active' }],
    ])('%s with target %s', (current, target, expected) => {
      expect(planTransition(current, target)).toEqual(expected);
    });
  });

  describe('mapMercadoPagoPreapprovalStatus', () => {
    it.each<[MercadoPagoPreapprovalStatus, SubscriptionStatus]>([
      ['pending', 'pending'],
      ['authorized', 'active'],
      ['paused', 'past_due'],
      ['cancelled', 'cancelled'],
    ])('%s → %s', (status, expected) => {
      expect(mapMercadoPagoPreapprovalStatus(status)).toBe(expected);
    });
  });
});
