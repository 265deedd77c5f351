import type { AdObjective } from '@realapp/meta-ads';
import type { OrderStatus } from './order-state';

export const WAITING_REASONS = ['missing_plan', 'insufficient_balance'] as const;
export type WaitingReason = (typeof WAITING_REASONS)[number];

export const GENDERS = ['male', 'female'] as const;
export type Gender = (typeof GENDERS)[number];

export interface OrderTargeting {
  /** ISO 3166-1 alpha-2, upper case, 1..25. */
  countries: string[];
  ageMin: number;
  ageMax: number;
  genders?: Gender[];
}

export interface OrderCreative {
  headline: string;
  body: string;
  imageUrl: string;
  linkUrl: string;
}

/** What the API validated (SPEC §13 "Orders"); the service re-checks only what spans fields. */
export interface CreateOrderInput {
  name: string;
  objective: AdObjective;
  budgetCents: number;
  startsAt?: string;
  endsAt?: string;
  targeting: OrderTargeting;
  creative: OrderCreative;
}

export interface OrderHistoryItem {
  from: OrderStatus | null;
  to: OrderStatus;
  at: string;
  reason: string;
}

/** The order view of SPEC §13, the same in every answer that carries an order. */
export interface OrderView {
  id: string;
  name: string;
  objective: AdObjective;
  status: OrderStatus;
  waitingReason: WaitingReason | null;
  budgetCents: number;
  spentCents: number;
  heldCents: number;
  campaignId: string | null;
  targeting: OrderTargeting;
  creative: OrderCreative;
  startsAt: string | null;
  endsAt: string | null;
  failureReason: string | null;
  history: OrderHistoryItem[];
  createdAt: string;
  updatedAt: string;
}

/** One committed status change, for metrics and logs after the transaction that made it. */
export interface OrderTransitionRecord {
  orderId: string;
  tenantId: string;
  from: OrderStatus | null;
  to: OrderStatus;
  reason: string;
}
