// The order lifecycle (SPEC §6) as one table. Services ask this file whether a move is legal;
// they never compare status strings themselves, so a new status or event is a change here only.

export const ORDER_STATUSES = [
  'waiting_payment',
  'queued',
  'launching',
  'active',
  'paused',
  'completed',
  'stopped',
  'failed',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const ORDER_EVENTS = [
  'fund',
  'launch',
  'launched',
  'fail',
  'pause',
  'resume',
  'stop',
  'complete',
] as const;
export type OrderEvent = (typeof ORDER_EVENTS)[number];

export const TERMINAL_STATUSES: readonly OrderStatus[] = Object.freeze(['completed', 'stopped', 'failed']);

/** The events a customer may send from the app; the others belong to the worker and the ledger. */
export const USER_ACTIONS = ['pause', 'resume', 'stop'] as const;
export type UserAction = (typeof USER_ACTIONS)[number];

type TransitionTable = Readonly<Record<OrderStatus, Readonly<Partial<Record<OrderEvent, OrderStatus>>>>>;

// Terminal rows are empty on purpose: nothing leaves completed/stopped/failed, so a late
// "launched" or a resume after stop is refused instead of reviving a closed order.
const TRANSITIONS: TransitionTable = Object.freeze({
  waiting_payment: { fund: 'queued', stop: 'stopped' },
  queued: { launch: 'launching', fail: 'failed', stop: 'stopped' },
  launching: { launched: 'active', fail: 'failed', stop: 'stopped' },
  active: { pause: 'paused', complete: 'completed', stop: 'stopped' },
  paused: { resume: 'active', complete: 'completed', stop: 'stopped' },
  completed: {},
  stopped: {},
  failed: {},
});

export class InvalidTransitionError extends Error {
  readonly code = 'invalid_transition' as const;

  constructor(
    readonly from: OrderStatus,
    readonly event: OrderEvent,
  ) {
    super(`Cannot ${event} an order that is ${from}`);
    this.name = 'InvalidTransitionError';
  }
}

export function isOrderStatus(value: unknown): value is OrderStatus {
  return typeof value === 'string' && (ORDER_STATUSES as readonly string[]).includes(value);
}

export function isOrderEvent(value: unknown): value is OrderEvent {
  return typeof value === 'string' && (ORDER_EVENTS as readonly string[]).includes(value);
}

export function isTerminal(status: OrderStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** The status after `event`, or null when the event is not allowed from `from`. */
export function nextStatus(from: OrderStatus, event: OrderEvent): OrderStatus | null {
  return TRANSITIONS[from][event] ?? null;
}

export function canApply(from: OrderStatus, event: OrderEvent): boolean {
  return nextStatus(from, event) !== null;
}

export function applyOrderEvent(from: OrderStatus, event: OrderEvent): OrderStatus {
  const to = nextStatus(from, event);
  if (to === null) {
    throw new InvalidTransitionError(from, event);
  }
  return to;
}

/** Which of pause/resume/stop the app may offer for an order in `status`, in a stable order. */
export function userActions(status: OrderStatus): readonly UserAction[] {
  return USER_ACTIONS.filter((action) => canApply(status, action));
}
