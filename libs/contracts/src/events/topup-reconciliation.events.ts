import { IsIn, IsInt, Min } from 'class-validator';
import { defineEvent } from '../registry';

export const RECONCILIATION_TRIGGERS = ['ops'] as const;

/**
 * Ops asked for a top-up reconciliation pass now (POST /v1/ops/billing/topups/reconcile, SPEC §9)
 * instead of waiting for the next interval. One worker replica runs it (advisory lock).
 */
export class TopupReconciliationRequestedData {
  @IsIn(RECONCILIATION_TRIGGERS)
  trigger: (typeof RECONCILIATION_TRIGGERS)[number];

  /** Pending top-ups counted when the request was accepted (what the 202 answered). */
  @IsInt()
  @Min(0)
  pending: number;
}
export const TopupReconciliationRequested = defineEvent(
  'billing.reconciliation_requested',
  1,
  TopupReconciliationRequestedData,
);
