import {
  InvalidTransitionError,
  ORDER_EVENTS,
  ORDER_STATUSES,
  OrderEvent,
  OrderStatus,
  TERMINAL_STATUSES,
  UserAction,
  applyOrderEvent,
  canApply,
  isOrderEvent,
  isOrderStatus,
  isTerminal,
  nextStatus,
  userActions,
} from './order-state';

// Written out by hand from SPEC §6, deliberately not derived from the implementation's table:
// a row here that disagrees with order-state.ts is a failing test, not a silent agreement.
const _ = null;
const EXPECTED: Record<OrderStatus, Record<OrderEvent, OrderStatus | null>> = {
  waiting_payment: {
    fund: 'queued',
    launch: _,
    launched: _,
    fail: _,
    pause: _,
    resume: _,
    stop: 'stopped',
    complete: _,
  },
  queued: {
    fund: _,
    launch: 'launching',
    launched: _,
    fail: 'failed',
    pause: _,
    resume: _,
    stop: 'stopped',
    complete: _,
  },
  launching: {
    fund: _,
    launch: _,
    launched: 'active',
    fail: 'failed',
    pause: _,
    resume: _,
    stop: 'stopped',
    complete: _,
  },
  active: {
    fund: _,
    launch: _,
    launched: _,
    fail: _,
    pause: 'paused',
    resume: _,
    stop: 'stopped',
    complete: 'completed',
  },
  paused: {
    fund: _,
    launch: _,
    launched: _,
    fail: _,
    pause: _,
    resume: 'active',
    stop: 'stopped',
    complete: 'completed',
  },
  completed: { fund: _, launch: _, launched: _, fail: _, pause: _, resume: _, stop: _, complete: _ },
  stopped: { fund: _, launch: _, launched: _, fail: _, pause: _, resume: _, stop: _, complete: _ },
  failed: { fund: _, launch: _, launched: _, fail: _, pause: _, resume: _, stop: _, complete: _ },
};

const EXPECTED_USER_ACTIONS: Record<OrderStatus, UserAction[]> = {
  waiting_payment: ['stop'],
  queued: ['stop'],
  launching: ['stop'],
  active: ['pause', 'stop'],
  paused: ['resume', 'stop'],
  completed: [],
  stopped: [],
  failed: [],
};

const pairs = ORDER_STATUSES.flatMap((from) => ORDER_EVENTS.map((event) => [from, event] as const));

describe('order state machine', () => {
  it('covers every status and every event in the expected table', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual([...ORDER_STATUSES].sort());
    for (const status of ORDER_STATUSES) {
      expect(Object.keys(EXPECTED[status]).sort()).toEqual([...ORDER_EVENTS].sort());
    }
    expect(pairs).toHaveLength(64);
  });

  it.each(pairs)('%s + %s matches the expected table', (from, event) => {
    const expected = EXPECTED[from][event];
    expect(nextStatus(from, event)).toBe(expected);
    expect(canApply(from, event)).toBe(expected !== null);

    if (expected === null) {
      let thrown: unknown;
      try {
        applyOrderEvent(from, event);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(InvalidTransitionError);
      expect(thrown).toMatchObject({ code: 'invalid_transition', from, event });
    } else {
      expect(applyOrderEvent(from, event)).toBe(expected);
    }
  });

  it('treats exactly completed, stopped and failed as terminal, and nothing leaves them', () => {
    expect([...TERMINAL_STATUSES].sort()).toEqual(['completed', 'failed', 'stopped']);
    for (const status of ORDER_STATUSES) {
      const terminal = ['completed', 'stopped', 'failed'].includes(status);
      expect(isTerminal(status)).toBe(terminal);
      if (terminal) {
        expect(ORDER_EVENTS.filter((event) => nextStatus(status, event) !== null)).toEqual([]);
      }
    }
  });

  it('lets stop end every non-terminal order', () => {
    for (const status of ORDER_STATUSES.filter((s) => !isTerminal(s))) {
      expect(nextStatus(status, 'stop')).toBe('stopped');
    }
  });

  it.each(ORDER_STATUSES)('offers the right user actions from %s', (status) => {
    expect(userActions(status)).toEqual(EXPECTED_USER_ACTIONS[status]);
  });

  it('refuses resume after stop with a message naming both', () => {
    expect(() => applyOrderEvent('stopped', 'resume')).toThrow('Cannot resume an order that is stopped');
  });

  it('recognises statuses and events coming from the outside world', () => {
    expect(isOrderStatus('paused')).toBe(true);
    expect(isOrderStatus('PAUSED')).toBe(false);
    expect(isOrderStatus(undefined)).toBe(false);
    expect(isOrderEvent('launched')).toBe(true);
    expect(isOrderEvent('restart')).toBe(false);
  });
});
