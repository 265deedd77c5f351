import { PaymentsError } from './payments.errors';

/** For each status, the statuses it may move to directly. A status with `[]` is terminal. */
export type TransitionTable<S extends string> = Readonly<Record<S, readonly S[]>>;

/**
 * What a caller should do with a status a provider reported:
 * - `none`: nothing to do (no status implied, or already there);
 * - `apply`: walk these steps in order (more than one when an intermediate notification was missed,
 *   e.g. pending → approved → refunded, so the ledger still records the credit before the debit);
 * - `stale`: the target is behind or beside the current status (out-of-order delivery): ignore it.
 */
export type TransitionPlan<S extends string> =
  | { kind: 'none'; reason: 'no_target' | 'already_there' }
  | { kind: 'apply'; steps: readonly S[] }
  | { kind: 'stale'; from: S; to: S };

export interface StateMachine<S extends string> {
  readonly name: string;
  readonly statuses: readonly S[];
  readonly table: TransitionTable<S>;
  isStatus(value: unknown): value is S;
  canTransition(from: S, to: S): boolean;
  transition(from: S, to: S): S;
  isTerminal(status: S): boolean;
  pathTo(from: S, to: S): readonly S[] | null;
  plan(current: S, target: S | null): TransitionPlan<S>;
}

export interface StateMachineOptions<S extends string> {
  /**
   * The edges `plan` may follow when it acts on a provider's report. Defaults to the whole table;
   * narrower when some edges must only ever be taken on purpose (e.g. starting a new subscription).
   */
  planTable?: TransitionTable<S>;
}

export function defineStateMachine<S extends string>(
  name: string,
  statuses: readonly S[],
  table: TransitionTable<S>,
  options: StateMachineOptions<S> = {},
): StateMachine<S> {
  const known = new Set<string>(statuses);
  const isStatus = (value: unknown): value is S => typeof value === 'string' && known.has(value);
  // Statuses read back from a database are only typed, not proven: unknown ones allow nothing.
  const nextIn = (tbl: TransitionTable<S>, from: S): readonly S[] => (isStatus(from) ? tbl[from] : []);
  const canTransition = (from: S, to: S): boolean => nextIn(table, from).includes(to);

  const findPath = (tbl: TransitionTable<S>, from: S, to: S): readonly S[] | null => {
    if (!isStatus(from) || !isStatus(to) || from === to) return null;
    const previous = new Map<S, S>();
    const queue: S[] = [from];
    for (let current = queue.shift(); current !== undefined; current = queue.shift()) {
      for (const next of nextIn(tbl, current)) {
        if (next === from || previous.has(next)) continue;
        previous.set(next, current);
        if (next === to) {
          const steps: S[] = [];
          for (let step: S | undefined = to; step !== undefined && step !== from; step = previous.get(step)) {
            steps.unshift(step);
          }
          return steps;
        }
        queue.push(next);
      }
    }
    return null;
  };
  const planTable = options.planTable ?? table;

  return Object.freeze({
    name,
    statuses,
    table,
    isStatus,
    canTransition,
    transition(from: S, to: S): S {
      if (!canTransition(from, to)) {
        throw new PaymentsError('invalid_transition', `A ${name} cannot move from ${from} to ${to}.`, {
          machine: name,
          from,
          to,
        });
      }
      return to;
    },
    isTerminal: (status: S): boolean => nextIn(table, status).length === 0,
    pathTo: (from: S, to: S): readonly S[] | null => findPath(table, from, to),
    plan(current: S, target: S | null): TransitionPlan<S> {
      if (target === null) return { kind: 'none', reason: 'no_target' };
      if (current === target) return { kind: 'none', reason: 'already_there' };
      const steps = findPath(planTable, current, target);
      return steps ? { kind: 'apply', steps } : { kind: 'stale', from: current, to: target };
    },
  });
}
