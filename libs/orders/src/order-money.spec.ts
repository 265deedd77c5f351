import { ORDER_STATUSES } from './order-state';
import { desiredMetaStatus, orderReferences, planSpendCapture } from './order-money';

describe('planSpendCapture', () => {
  const running = { budgetCents: 10_000, spentCents: 0, heldCents: 10_000 };

  it('captures the increase over what was already captured', () => {
    expect(planSpendCapture(running, 2_500)).toEqual({
      captureCents: 2_500,
      spentCents: 2_500,
      budgetUsedUp: false,
      overBudgetCents: 0,
    });
    expect(planSpendCapture({ budgetCents: 10_000, spentCents: 2_500, heldCents: 7_500 }, 4_000)).toEqual({
      captureCents: 1_500,
      spentCents: 4_000,
      budgetUsedUp: false,
      overBudgetCents: 0,
    });
  });

  it('ignores a reading lower than or equal to what was captured', () => {
    const order = { budgetCents: 10_000, spentCents: 4_000, heldCents: 6_000 };
    expect(planSpendCapture(order, 3_000)).toEqual({
      captureCents: 0,
      spentCents: 4_000,
      budgetUsedUp: false,
      overBudgetCents: 0,
    });
    expect(planSpendCapture(order, 4_000).captureCents).toBe(0);
    expect(planSpendCapture(order, 0).captureCents).toBe(0);
  });

  it('completes exactly at the budget and never captures beyond the hold', () => {
    expect(planSpendCapture(running, 10_000)).toEqual({
      captureCents: 10_000,
      spentCents: 10_000,
      budgetUsedUp: true,
      overBudgetCents: 0,
    });
    expect(planSpendCapture(running, 12_345)).toEqual({
      captureCents: 10_000,
      spentCents: 10_000,
      budgetUsedUp: true,
      overBudgetCents: 2_345,
    });
  });

  it('after a release (nothing held) captures nothing more', () => {
    const settled = { budgetCents: 10_000, spentCents: 3_000, heldCents: 0 };
    expect(planSpendCapture(settled, 5_000)).toEqual({
      captureCents: 0,
      spentCents: 3_000,
      budgetUsedUp: false,
      overBudgetCents: 2_000,
    });
  });

  it('refuses readings that are not integer cents', () => {
    expect(() => planSpendCapture(running, -1)).toThrow(RangeError);
    expect(() => planSpendCapture(running, 1.5)).toThrow(RangeError);
    expect(() => planSpendCapture(running, Number.NaN)).toThrow(RangeError);
  });

  it('keeps spent + held within the budget for any reading (exhaustive over a grid)', () => {
    for (let spent = 0; spent <= 10_000; spent += 1_250) {
      for (let held = 0; held <= 10_000 - spent; held += 1_250) {
        for (let reported = 0; reported <= 15_000; reported += 625) {
          const plan = planSpendCapture(
            { budgetCents: 10_000, spentCents: spent, heldCents: held },
            reported,
          );
          expect(plan.captureCents).toBeGreaterThanOrEqual(0);
          expect(plan.captureCents).toBeLessThanOrEqual(held);
          expect(plan.spentCents).toBeGreaterThanOrEqual(spent);
          expect(plan.spentCents + (held - plan.captureCents)).toBeLessThanOrEqual(10_000);
        }
      }
    }
  });
});

describe('desiredMetaStatus', () => {
  it('maps every status', () => {
    const mapped = Object.fromEntries(ORDER_STATUSES.map((status) => [status, desiredMetaStatus(status)]));
    expect(mapped).toEqual({
      waiting_payment: null,
      queued: null,
      launching: null,
      active: 'ACTIVE',
      paused: 'PAUSED',
      completed: 'PAUSED',
      stopped: 'ARCHIVED',
      failed: 'ARCHIVED',
    });
  });
});

describe('orderReferences', () => {
  it('names each posting of an order uniquely', () => {
    const id = '3f0e2c1a-1111-4222-8333-444455556666';
    expect(orderReferences.hold(id)).toBe(`order:${id}:hold`);
    expect(orderReferences.release(id)).toBe(`order:${id}:release`);
    expect(orderReferences.spend(id, 2500)).toBe(`order:${id}:spend:2500`);
  });
});
