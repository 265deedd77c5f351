import type { PaymentsProvider } from './payments.errors';
import type { PixData, TopupEntity } from './persistence/topup.entity';
import type { TopupStatus } from './topup-state';

/** SPEC §13 top-up view. `pix` only on PIX top-ups, `checkoutUrl` only on card ones. */
export interface TopupView {
  id: string;
  status: TopupStatus;
  amountCents: number;
  currency: string;
  provider: PaymentsProvider;
  /** Mercado Pago payment id (PIX); null for card top-ups. */
  providerPaymentId: string | null;
  /** Stripe Checkout Session id (`cs_…`); null for PIX top-ups. */
  providerSessionId: string | null;
  pix?: PixData;
  checkoutUrl?: string;
  createdAt: string;
  updatedAt: string;
}

export function toTopupView(row: TopupEntity): TopupView {
  return {
    id: row.id,
    status: row.status,
    amountCents: row.amountCents,
    currency: row.currency,
    provider: row.provider,
    providerPaymentId: row.providerPaymentId,
    providerSessionId: row.providerSessionId,
    ...(row.pix ? { pix: row.pix } : {}),
    ...(row.checkoutUrl ? { checkoutUrl: row.checkoutUrl } : {}),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** What a reconciliation pass needs to look a pending top-up up at its provider. */
export interface PendingTopup {
  id: string;
  tenantId: string;
  provider: PaymentsProvider;
  amountCents: number;
  providerPaymentId: string | null;
  providerSessionId: string | null;
  createdAt: Date;
  expiresAt: Date | null;
}

export function toPendingTopup(row: TopupEntity): PendingTopup {
  return {
    id: row.id,
    tenantId: row.tenantId,
    provider: row.provider,
    amountCents: row.amountCents,
    providerPaymentId: row.providerPaymentId,
    providerSessionId: row.providerSessionId,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
  };
}
