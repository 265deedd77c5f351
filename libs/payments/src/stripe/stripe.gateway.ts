import Stripe from 'stripe';
import { PaymentsError } from '../payments.errors';
import {
  CreateTopupCheckoutSessionInput,
  StripeCheckoutPaymentStatus,
  StripeCheckoutSession,
  StripeCheckoutSessionStatus,
  StripeGatewayOptions,
} from './stripe.types';

type StripeConnection = Pick<Stripe.StripeConfig, 'host' | 'port' | 'protocol'>;

/** The SDK takes host, port and protocol separately; config speaks in one URL. */
export function stripeConnectionFromBaseUrl(apiBaseUrl: string): StripeConnection {
  let url: URL;
  try {
    url = new URL(apiBaseUrl);
  } catch {
    throw new TypeError(`Stripe apiBaseUrl is not a URL: ${apiBaseUrl}`);
  }
  const protocol = url.protocol.replace(/:$/, '');
  if (protocol !== 'http' && protocol !== 'https') {
    throw new TypeError(`Stripe apiBaseUrl must be http(s), got ${url.protocol}`);
  }
  if (url.pathname !== '/' && url.pathname !== '') {
    // The SDK always requests /v1/... from the host root; a path prefix would be silently dropped.
    throw new TypeError('Stripe apiBaseUrl cannot carry a path');
  }
  return {
    host: url.hostname,
    port: url.port !== '' ? Number(url.port) : protocol === 'https' ? 443 : 80,
    protocol,
  };
}

function isStripeError(error: unknown): error is Stripe.errors.StripeError {
  return error instanceof Stripe.errors.StripeError;
}

/**
 * The SDK has already spent its own network retries (connection errors, 409, 5xx) by the time an
 * error reaches us; what is left is classified for our callers.
 */
export function toPaymentsError(error: unknown): unknown {
  if (!isStripeError(error)) return error;
  const providerStatus = error.statusCode;
  const extra = { provider: 'stripe' as const, providerStatus, providerMessage: error.message };
  if (
    error instanceof Stripe.errors.StripeConnectionError ||
    providerStatus === undefined ||
    providerStatus >= 500 ||
    providerStatus === 429
  ) {
    const retryAfter = Number(error.headers?.['retry-after']);
    return new PaymentsError(
      'provider_unavailable',
      `Stripe is unavailable: ${error.message}`,
      {
        ...extra,
        retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
      },
      { cause: error },
    );
  }
  if (providerStatus === 404) {
    return new PaymentsError('provider_not_found', `Stripe has no such object: ${error.message}`, extra, {
      cause: error,
    });
  }
  return new PaymentsError('provider_rejected', `Stripe rejected the request: ${error.message}`, extra, {
    cause: error,
  });
}

const SESSION_STATUSES: readonly string[] = [
  'open',
  'complete',
  'expired',
] satisfies StripeCheckoutSessionStatus[];
const PAYMENT_STATUSES: readonly string[] = [
  'paid',
  'unpaid',
  'no_payment_required',
] satisfies StripeCheckoutPaymentStatus[];

function invalidSession(detail: string): PaymentsError {
  return new PaymentsError('provider_invalid_response', `Stripe answered an unexpected session: ${detail}`, {
    provider: 'stripe',
  });
}

export function toStripeCheckoutSession(session: Stripe.Checkout.Session): StripeCheckoutSession {
  if (typeof session.id !== 'string' || session.id.length === 0) throw invalidSession('no id');
  if (session.status !== null && !SESSION_STATUSES.includes(session.status)) {
    throw invalidSession(`unknown status ${session.status}`);
  }
  if (!PAYMENT_STATUSES.includes(session.payment_status)) {
    throw invalidSession(`unknown payment_status ${session.payment_status}`);
  }
  const paymentIntent = session.payment_intent;
  return {
    id: session.id,
    url: session.url ?? null,
    status: session.status as StripeCheckoutSessionStatus | null,
    paymentStatus: session.payment_status as StripeCheckoutPaymentStatus,
    paymentIntentId: typeof paymentIntent === 'string' ? paymentIntent : (paymentIntent?.id ?? null),
    amountTotal: session.amount_total ?? null,
    currency: session.currency ?? null,
    clientReferenceId: session.client_reference_id ?? null,
    metadata: { ...(session.metadata ?? {}) },
  };
}

/** Card top-ups through Stripe Checkout, over the official SDK. */
export class StripeGateway {
  private readonly stripe: Stripe;

  constructor(options: StripeGatewayOptions) {
    if (!options.secretKey) throw new TypeError('StripeGateway needs a secretKey');
    this.stripe = new Stripe(options.secretKey, {
      // Pinned to the version this SDK release was generated against, so its types match the wire.
      apiVersion: Stripe.API_VERSION,
      timeout: options.timeoutMs ?? 10_000,
      maxNetworkRetries: options.maxNetworkRetries ?? 2,
      ...(options.apiBaseUrl ? stripeConnectionFromBaseUrl(options.apiBaseUrl) : {}),
    });
  }

  async createTopupCheckoutSession(input: CreateTopupCheckoutSessionInput): Promise<StripeCheckoutSession> {
    if (!Number.isSafeInteger(input.amountCents) || input.amountCents <= 0) {
      throw new PaymentsError(
        'invalid_amount',
        `Amount ${String(input.amountCents)} is not a positive number of cents.`,
      );
    }
    // Session metadata is not copied to the PaymentIntent; refunds and disputes only see the latter.
    const metadata = { topupId: input.topupId, tenantId: input.tenantId };
    const params: Stripe.Checkout.SessionCreateParams = {
      mode: 'payment',
      line_items: [
        {
          price_data: {
            currency: input.currency ?? 'brl',
            unit_amount: input.amountCents,
            product_data: { name: input.productName ?? 'Saldo de tráfego' },
          },
          quantity: 1,
        },
      ],
      client_reference_id: input.topupId,
      metadata,
      payment_intent_data: { metadata },
      success_url: input.successUrl,
      cancel_url: input.cancelUrl,
    };
    if (input.expiresAt !== undefined) params.expires_at = Math.floor(input.expiresAt.getTime() / 1000);
    try {
      const session = await this.stripe.checkout.sessions.create(params, {
        idempotencyKey: input.idempotencyKey,
      });
      return toStripeCheckoutSession(session);
    } catch (error) {
      throw toPaymentsError(error);
    }
  }

  async getCheckoutSession(id: string): Promise<StripeCheckoutSession> {
    try {
      const session = await this.stripe.checkout.sessions.retrieve(id);
      return toStripeCheckoutSession(session);
    } catch (error) {
      throw toPaymentsError(error);
    }
  }
}
