import { ValidateBy, ValidationOptions } from 'class-validator';

/** SPEC §5: the smallest top-up (R$ 30) and the one the app suggests (R$ 90). */
export const MIN_TOPUP_CENTS = 3000;
export const RECOMMENDED_TOPUP_CENTS = 9000;
/** SPEC §13: a top-up request's amount is 1..100000000 cents; above is a 400, not a 422. */
export const MAX_TOPUP_CENTS = 100_000_000;
export const BILLING_CURRENCY = 'BRL';

export const PLAN_INTERVALS = ['month'] as const;
export type PlanInterval = (typeof PLAN_INTERVALS)[number];

export interface BillingPlan {
  id: string;
  name: string;
  priceCents: number;
  interval: PlanInterval;
}

/** `GET /v1/billing/config`. */
export interface BillingConfigView {
  currency: string;
  minTopupCents: number;
  recommendedTopupCents: number;
  plans: BillingPlan[];
}

/**
 * The plans when BILLING_PLANS is not set: Basic (R$ 99/month) under the id Mercado Pago knows
 * as MERCADO_PAGO_SUBSCRIPTION_PLAN_ID, and Pro (R$ 199/month).
 */
export function defaultBillingPlans(basicPlanId: string): BillingPlan[] {
  return [
    { id: basicPlanId, name: 'Basic', priceCents: 9900, interval: 'month' },
    { id: 'plan_pro', name: 'Pro', priceCents: 19900, interval: 'month' },
  ];
}

const PLAN_ID = /^[A-Za-z0-9._-]{1,100}$/;

/** Problems with a BILLING_PLANS value (a JSON array of plans); empty when it is usable. */
export function billingPlansProblems(value: unknown): string[] {
  let parsed: unknown;
  try {
    parsed = typeof value === 'string' ? JSON.parse(value) : value;
  } catch {
    return ['is not JSON'];
  }
  if (!Array.isArray(parsed) || parsed.length === 0) return ['must be a non-empty JSON array of plans'];
  const problems: string[] = [];
  const ids = new Set<string>();
  parsed.forEach((plan: unknown, i) => {
    const p = (plan ?? {}) as Record<string, unknown>;
    if (typeof p.id !== 'string' || !PLAN_ID.test(p.id))
      problems.push(`[${i}].id must be 1..100 of [A-Za-z0-9._-]`);
    else if (ids.has(p.id)) problems.push(`[${i}].id ${p.id} is repeated`);
    else ids.add(p.id);
    if (typeof p.name !== 'string' || p.name.length === 0 || p.name.length > 100)
      problems.push(`[${i}].name must be 1..100 characters`);
    if (
      typeof p.priceCents !== 'number' ||
      !Number.isSafeInteger(p.priceCents) ||
      p.priceCents < 100 ||
      p.priceCents > MAX_TOPUP_CENTS
    ) {
      problems.push(`[${i}].priceCents must be an integer 100..${MAX_TOPUP_CENTS}`);
    }
    if (!(PLAN_INTERVALS as readonly unknown[]).includes(p.interval))
      problems.push(`[${i}].interval must be one of ${PLAN_INTERVALS.join(', ')}`);
  });
  return problems;
}

export function parseBillingPlans(value: string): BillingPlan[] {
  const problems = billingPlansProblems(value);
  if (problems.length) throw new TypeError(`BILLING_PLANS: ${problems.join('; ')}`);
  return (JSON.parse(value) as BillingPlan[]).map(({ id, name, priceCents, interval }) => ({
    id,
    name,
    priceCents,
    interval,
  }));
}

/** For app config classes: BILLING_PLANS must be a valid JSON list of plans. */
export function IsBillingPlansJson(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isBillingPlansJson',
      validator: {
        validate: (value: unknown) => billingPlansProblems(value).length === 0,
        defaultMessage: (args) =>
          `must be a JSON array of {id, name, priceCents, interval}: ${billingPlansProblems(args?.value).join('; ')}`,
      },
    },
    options,
  );
}
