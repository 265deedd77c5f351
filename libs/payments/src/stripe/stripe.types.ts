export type StripeCheckoutSessionStatus = 'open' | 'complete' | 'expired';
export type StripeCheckoutPaymentStatus = 'paid' | 'unpaid' | 'no_payment_required';

export interface StripeCheckoutSession {
  id: string;
  url: string | null;
  status: StripeCheckoutSessionStatus | null;
  paymentStatus: StripeCheckoutPaymentStatus;
  paymentIntentId: string | null;
  amountTotal: number | null;
  currency: string | null;
  clientReferenceId: string | null;
  metadata: Record<string, string>;
}

export interface CreateTopupCheckoutSessionInput {
  topupId: string;
  tenantId: string;
  amountCents: number;
  /** ISO 4217, lower case as Stripe writes it. */
  currency?: string;
  successUrl: string;
  cancelUrl: string;
  idempotencyKey: string;
  /** What the buyer sees on the Checkout page and the receipt. */
  productName?: string;
  /** Stripe accepts 30 min..24 h ahead and defaults to 24 h. */
  expiresAt?: Date;
}

export interface StripeGatewayOptions {
  secretKey: string;
  /** e.g. http://127.0.0.1:3090 for the sandbox; omitted means the real api.stripe.com. */
  apiBaseUrl?: string;
  timeoutMs?: number;
  maxNetworkRetries?: number;
}
