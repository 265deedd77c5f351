export {
  assertUnreachable,
  isPaymentsError,
  isRetryablePaymentsErrorCode,
  PaymentsError,
  paymentsErrorStatus,
} from './payments.errors';
export type { PaymentsErrorCode, PaymentsErrorExtra, PaymentsProvider } from './payments.errors';

export { centsToDecimalString, fromCents, MAX_EXACT_REAIS_CENTS, toCents } from './money';
export { backoffDelayMs, parseRetryAfterMs } from './retry';

export { formatMercadoPagoDate, MercadoPagoClient } from './mercadopago/mercadopago.client';
export {
  isMercadoPagoPaymentStatus,
  isMercadoPagoPreapprovalStatus,
  MERCADO_PAGO_PAYMENT_STATUSES,
  MERCADO_PAGO_PREAPPROVAL_STATUSES,
} from './mercadopago/mercadopago.types';
export type {
  CreatePixPaymentInput,
  CreatePreapprovalInput,
  MercadoPagoClientOptions,
  MercadoPagoLogger,
  MercadoPagoPayment,
  MercadoPagoPaymentStatus,
  MercadoPagoPreapproval,
  MercadoPagoPreapprovalStatus,
  UpdatePreapprovalInput,
} from './mercadopago/mercadopago.types';

export { StripeGateway, stripeConnectionFromBaseUrl } from './stripe/stripe.gateway';
export type {
  CreateTopupCheckoutSessionInput,
  StripeCheckoutPaymentStatus,
  StripeCheckoutSession,
  StripeCheckoutSessionStatus,
  StripeGatewayOptions,
} from './stripe/stripe.types';

export { DEFAULT_SIGNATURE_TOLERANCE_SECONDS } from './signatures/signature.common';
export type { SignatureFailure, SignatureFailureReason } from './signatures/signature.common';
export {
  buildMercadoPagoManifest,
  signMercadoPago,
  verifyMercadoPagoSignature,
} from './signatures/mercadopago.signature';
export type {
  MercadoPagoIdVariant,
  MercadoPagoSignatureResult,
  VerifyMercadoPagoSignatureInput,
} from './signatures/mercadopago.signature';
export { signStripe, verifyStripeSignature } from './signatures/stripe.signature';
export type { StripeSignatureResult, VerifyStripeSignatureInput } from './signatures/stripe.signature';
export { signMeta, verifyMetaSignature } from './signatures/meta.signature';
export type { MetaSignatureResult, VerifyMetaSignatureInput } from './signatures/meta.signature';

export type { StateMachine, TransitionPlan, TransitionTable } from './state-machine';

/** `TopupState.canTransition(from, to)`, `TopupState.transition(from, to)`, mappers from provider statuses. */
export * as TopupState from './topup-state';
export {
  isStripeTopupEventType,
  isTopupStatus,
  mapMercadoPagoPaymentStatus,
  mapStripeCheckoutSessionStatus,
  mapStripeEvent,
  STRIPE_TOPUP_EVENT_TYPES,
  TOPUP_STATUSES,
  TOPUP_TRANSITIONS,
} from './topup-state';
export type { StripeTopupEventType, TopupStatus } from './topup-state';

/** `SubscriptionState.canTransition(from, to)`, `SubscriptionState.transition(from, to)`. */
export * as SubscriptionState from './subscription-state';
export {
  isSubscriptionStatus,
  mapMercadoPagoPreapprovalStatus,
  SUBSCRIPTION_STATUSES,
  SUBSCRIPTION_TRANSITIONS,
} from './subscription-state';
export type { SubscriptionStatus } from './subscription-state';

// ---- persistence and Nest layer (top-ups, subscriptions, plans) ----
export { CREDIT_FOLLOW_UP } from './credit-follow-up';
export type { AppliedCredit, CreditFollowUp } from './credit-follow-up';
export { PaymentsModule } from './payments.module';
export {
  DEFAULT_PIX_EXPIRES_IN_MINUTES,
  defaultPayerEmail,
  IsPublicUrl,
  PAYMENTS_OPTIONS,
  paymentsOptionsFromConfig,
} from './payments.options';
export type { PaymentsModuleOptions, PaymentsSettings } from './payments.options';
export {
  BILLING_CURRENCY,
  billingPlansProblems,
  defaultBillingPlans,
  IsBillingPlansJson,
  MAX_TOPUP_CENTS,
  MIN_TOPUP_CENTS,
  parseBillingPlans,
  PLAN_INTERVALS,
  RECOMMENDED_TOPUP_CENTS,
} from './billing-plans';
export type { BillingConfigView, BillingPlan, PlanInterval } from './billing-plans';
export { assertTopupAmount, isUuid, TopupService } from './topup.service';
export type {
  StripeCheckoutEventType,
  StripeDisputeInput,
  StripeRefundInput,
  TopupApplyOutcome,
  TopupApplyResult,
} from './topup.service';
export { toTopupView } from './topup.view';
export type { PendingTopup, TopupView } from './topup.view';
export { SubscriptionService } from './subscription.service';
export type {
  SubscribeResult,
  SubscriptionApplyOutcome,
  SubscriptionApplyResult,
  SubscriptionView,
} from './subscription.service';
export { toHttpError } from './provider-failure';
export { TopupEntity } from './persistence/topup.entity';
export type { PixData } from './persistence/topup.entity';
export { SubscriptionEntity } from './persistence/subscription.entity';
