/** Every payment status Mercado Pago documents. */
export const MERCADO_PAGO_PAYMENT_STATUSES = [
  'pending',
  'approved',
  'authorized',
  'in_process',
  'in_mediation',
  'rejected',
  'cancelled',
  'refunded',
  'charged_back',
] as const;
export type MercadoPagoPaymentStatus = (typeof MERCADO_PAGO_PAYMENT_STATUSES)[number];

export const MERCADO_PAGO_PREAPPROVAL_STATUSES = ['pending', 'authorized', 'paused', 'cancelled'] as const;
export type MercadoPagoPreapprovalStatus = (typeof MERCADO_PAGO_PREAPPROVAL_STATUSES)[number];

export function isMercadoPagoPaymentStatus(value: unknown): value is MercadoPagoPaymentStatus {
  return typeof value === 'string' && (MERCADO_PAGO_PAYMENT_STATUSES as readonly string[]).includes(value);
}

export function isMercadoPagoPreapprovalStatus(value: unknown): value is MercadoPagoPreapprovalStatus {
  return (
    typeof value === 'string' && (MERCADO_PAGO_PREAPPROVAL_STATUSES as readonly string[]).includes(value)
  );
}

export interface MercadoPagoPayment {
  /** Mercado Pago sends a JSON number; kept as a string so it never meets float limits downstream. */
  id: string;
  status: MercadoPagoPaymentStatus;
  statusDetail: string | null;
  amountCents: number;
  currencyId: string | null;
  externalReference: string | null;
  dateOfExpiration: Date | null;
  /** The PIX copy-and-paste (BR Code). */
  qrCode: string | null;
  qrCodeBase64: string | null;
  ticketUrl: string | null;
  /** Partial refunds leave the status `approved`; the refunded amount is only visible here. */
  transactionAmountRefundedCents: number;
}

export interface MercadoPagoPreapproval {
  id: string;
  status: MercadoPagoPreapprovalStatus;
  /** Where the buyer authorizes; carries the pre-approval id as `preapproval_id`. */
  initPoint: string | null;
  externalReference: string | null;
  amountCents: number | null;
  nextPaymentDate: Date | null;
}

export interface CreatePixPaymentInput {
  amountCents: number;
  description: string;
  payerEmail: string;
  externalReference: string;
  notificationUrl?: string;
  /** Mercado Pago accepts 30 min..30 days ahead and defaults to 24 h. */
  expiresAt?: Date;
  idempotencyKey: string;
}

export interface CreatePreapprovalInput {
  reason: string;
  externalReference: string;
  payerEmail: string;
  backUrl: string;
  amountCents: number;
  frequency?: number;
  frequencyType?: 'days' | 'months';
  idempotencyKey: string;
}

export interface UpdatePreapprovalInput {
  status: Exclude<MercadoPagoPreapprovalStatus, 'pending'>;
}

export interface MercadoPagoLogger {
  warn(obj: object, msg: string): void;
}

export interface MercadoPagoClientOptions {
  /** Provider base URL, e.g. https://api.mercadopago.com, or the sandbox http://127.0.0.1:3090. */
  baseUrl: string;
  accessToken: string;
  /** Per attempt, not for the whole call with its retries. */
  timeoutMs?: number;
  /** Retries after the first attempt; 3 means up to 4 requests. */
  maxRetries?: number;
  logger?: MercadoPagoLogger;
  /** Backoff cap grows as base × 2^attempt up to max; each delay is uniform in [0, cap]. */
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  /**
   * A Retry-After longer than this ends the call with `provider_unavailable` (carrying
   * `retryAfterMs`) instead of waiting: the caller's own queue is the better place to wait that long.
   */
  maxRetryAfterMs?: number;
  /** Injectable for tests. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}
