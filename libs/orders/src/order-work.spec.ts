import {
  launchPending,
  metaSyncPending,
  ORDER_WORK_SQL,
  orderNeedsWorker,
  settlementPending,
} from './order-work';
import { ORDER_STATUSES, OrderStatus } from './order-state';
import type { OrderWorkState } from './order-work';

const order = (overrides: Partial<OrderWorkState> = {}): OrderWorkState => ({
  status: 'active',
  heldCents: 5000,
  campaignId: 'c1',
  metaStatus: 'ACTIVE',
  metaSyncError: null,
  ...overrides,
});

describe('what the worker still owes an order', () => {
  it('launch is pending exactly while queued or launching', () => {
    const pending = ORDER_STATUSES.filter(launchPending);
    expect(pending).toEqual<OrderStatus[]>(['queued', 'launching']);
  });

  it('Meta sync is pending when the campaign status differs from what the order wants', () => {
    expect(metaSyncPending(order())).toBe(false);
    expect(metaSyncPending(order({ status: 'paused' }))).toBe(true);
    expect(metaSyncPending(order({ status: 'paused', metaStatus: 'PAUSED' }))).toBe(false);
    expect(metaSyncPending(order({ status: 'stopped', metaStatus: 'PAUSED' }))).toBe(true);
    expect(metaSyncPending(order({ status: 'stopped', metaStatus: 'ARCHIVED' }))).toBe(false);
    expect(metaSyncPending(order({ status: 'completed', metaStatus: 'PAUSED' }))).toBe(false);
    // No campaign, nothing to tell Meta; a permanent refusal waits for a new wish.
    expect(metaSyncPending(order({ status: 'paused', campaignId: null, metaStatus: null }))).toBe(false);
    expect(metaSyncPending(order({ status: 'paused', metaSyncError: 'meta_rejected: gone' }))).toBe(false);
  });

  it('settlement is pending for a finished order that still holds money, unless Meta refused to stop its campaign', () => {
    expect(settlementPending(order({ status: 'stopped', metaStatus: 'ARCHIVED' }))).toBe(true);
    expect(settlementPending(order({ status: 'failed', campaignId: null, metaStatus: null }))).toBe(true);
    expect(settlementPending(order({ status: 'stopped', heldCents: 0 }))).toBe(false);
    expect(settlementPending(order({ status: 'paused' }))).toBe(false);
    expect(settlementPending(order({ status: 'stopped', metaSyncError: 'meta_rejected: token' }))).toBe(
      false,
    );
  });

  it('needs the worker when any of the three is pending', () => {
    expect(orderNeedsWorker(order())).toBe(false);
    expect(orderNeedsWorker(order({ status: 'queued', campaignId: null, metaStatus: null }))).toBe(true);
    expect(
      orderNeedsWorker(
        order({ status: 'waiting_payment', heldCents: 0, campaignId: null, metaStatus: null }),
      ),
    ).toBe(false);
    expect(orderNeedsWorker(order({ status: 'completed', heldCents: 0, metaStatus: 'PAUSED' }))).toBe(false);
  });

  it('says the same in SQL, generated from the same table', () => {
    expect(ORDER_WORK_SQL.launchPending).toBe(`o.status IN ('queued', 'launching')`);
    expect(ORDER_WORK_SQL.settlementPending).toBe(
      `(o.status IN ('completed', 'stopped', 'failed') AND o.held_cents > 0 AND o.meta_sync_error IS NULL)`,
    );
    expect(ORDER_WORK_SQL.metaSyncPending).toContain(`WHEN 'active' THEN 'ACTIVE'`);
    expect(ORDER_WORK_SQL.metaSyncPending).toContain(`WHEN 'stopped' THEN 'ARCHIVED'`);
    expect(ORDER_WORK_SQL.metaSyncPending).toContain(`WHEN 'queued' THEN NULL`);
  });
});
