import { IsIn, IsInt, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { defineEvent } from '../registry';

export class TopupApprovedData {
  @IsUUID()
  topupId: string;

  @IsUUID()
  tenantId: string;

  @IsInt()
  amountCents: number;

  @IsIn(['mercadopago', 'stripe'])
  provider: 'mercadopago' | 'stripe';
}
/**
 * No longer published (a credit asks for `ads.orders.reevaluation_requested` with cause
 * `topup_approved` where an order waits); still defined so that approvals published before the
 * change, left in an outbox or a queue across the deploy, are consumed.
 */
export const TopupApproved = defineEvent('billing.topup.approved', 1, TopupApprovedData);

export class SubscriptionActivatedData {
  @IsUUID()
  tenantId: string;

  @IsUUID()
  subscriptionId: string;

  @IsString()
  @MaxLength(100)
  planId: string;
}
export const SubscriptionActivated = defineEvent(
  'billing.subscription.activated',
  1,
  SubscriptionActivatedData,
);

/** A refund or chargeback took the balance below zero: the tenant's running campaigns must pause. */
export class BalanceNegativeData {
  @IsUUID()
  tenantId: string;

  @IsInt()
  balanceCents: number;

  @IsString()
  @MaxLength(255)
  reference: string;
}
export const BalanceNegative = defineEvent('billing.balance.negative', 1, BalanceNegativeData);

/** `topup_approved`: a credit to a tenant with an order waiting for money (libs/orders CreditReevaluation). */
export const REEVALUATION_CAUSES = [
  'topup_approved',
  'subscription_activated',
  'adjustment',
  'hold_released',
] as const;

/** Money or a plan arrived: the tenant's waiting orders are re-evaluated, oldest first. */
export class OrdersReevaluationRequestedData {
  @IsUUID()
  tenantId: string;

  @IsIn(REEVALUATION_CAUSES)
  cause: (typeof REEVALUATION_CAUSES)[number];

  @IsOptional()
  @IsString()
  @MaxLength(255)
  reference?: string;
}
export const OrdersReevaluationRequested = defineEvent(
  'ads.orders.reevaluation_requested',
  1,
  OrdersReevaluationRequestedData,
);
