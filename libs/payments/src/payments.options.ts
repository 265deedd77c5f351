import { isURL, ValidateBy, ValidationArguments, ValidationOptions } from 'class-validator';
import { BillingPlan, defaultBillingPlans, parseBillingPlans } from './billing-plans';

export const PAYMENTS_OPTIONS = Symbol('PAYMENTS_OPTIONS');

export interface PaymentsModuleOptions {
  mercadoPago: {
    baseUrl: string;
    accessToken: string;
    timeoutMs?: number;
    maxRetries?: number;
  };
  stripe: {
    secretKey: string;
    /** Unset: the real api.stripe.com. */
    apiBaseUrl?: string;
    timeoutMs?: number;
    maxNetworkRetries?: number;
  };
  /**
   * Public origin of the webhook-gateway: Mercado Pago's `notification_url` is built from it.
   * Unset: no `notification_url` is sent and Mercado Pago notifies the account's configured endpoint.
   */
  publicWebhookBaseUrl?: string;
  /** Public origin of the app: Stripe's success/cancel URLs and Mercado Pago's `back_url`. */
  publicAppUrl: string;
  plans: BillingPlan[];
  /** The plan a subscription request without `planId` is for (SPEC §5: MERCADO_PAGO_SUBSCRIPTION_PLAN_ID). */
  defaultPlanId: string;
  /** How long a PIX code stays payable (Mercado Pago accepts 30 min..30 days). */
  pixExpiresInMinutes?: number;
}

/** The configuration fields every app that uses `PaymentsModule` declares (queue-api, codex-worker). */
export interface PaymentsSettings {
  MERCADO_PAGO_BASE_URL: string;
  MERCADO_PAGO_ACCESS_TOKEN: string;
  MERCADO_PAGO_SUBSCRIPTION_PLAN_ID: string;
  STRIPE_SECRET_KEY: string;
  STRIPE_API_BASE_URL?: string;
  PUBLIC_WEBHOOK_BASE_URL?: string;
  PUBLIC_APP_URL: string;
  BILLING_PLANS?: string;
  PIX_EXPIRATION_MINUTES?: number;
}

export function paymentsOptionsFromConfig(config: PaymentsSettings): PaymentsModuleOptions {
  const plans = config.BILLING_PLANS
    ? parseBillingPlans(config.BILLING_PLANS)
    : defaultBillingPlans(config.MERCADO_PAGO_SUBSCRIPTION_PLAN_ID);
  return {
    mercadoPago: { baseUrl: config.MERCADO_PAGO_BASE_URL, accessToken: config.MERCADO_PAGO_ACCESS_TOKEN },
    stripe: {
      secretKey: config.STRIPE_SECRET_KEY,
      ...(config.STRIPE_API_BASE_URL ? { apiBaseUrl: config.STRIPE_API_BASE_URL } : {}),
    },
    ...(config.PUBLIC_WEBHOOK_BASE_URL ? { publicWebhookBaseUrl: config.PUBLIC_WEBHOOK_BASE_URL } : {}),
    publicAppUrl: config.PUBLIC_APP_URL,
    plans,
    defaultPlanId: plans.some((plan) => plan.id === config.MERCADO_PAGO_SUBSCRIPTION_PLAN_ID)
      ? config.MERCADO_PAGO_SUBSCRIPTION_PLAN_ID
      : plans[0].id,
    ...(config.PIX_EXPIRATION_MINUTES ? { pixExpiresInMinutes: config.PIX_EXPIRATION_MINUTES } : {}),
  };
}

export const DEFAULT_PIX_EXPIRES_IN_MINUTES = 60;

export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}

/**
 * Access tokens carry no e-mail (SPEC §4) and Mercado Pago requires a payer e-mail: a per-tenant
 * address on the app's own domain identifies the tenant in Mercado Pago's dashboard without
 * handing a person's address to the provider.
 */
export function defaultPayerEmail(
  options: Pick<PaymentsModuleOptions, 'publicAppUrl'>,
  tenantId: string,
): string {
  return `billing+${tenantId}@${new URL(options.publicAppUrl).hostname}`;
}

/**
 * For app config classes: an http(s) URL, and https outside development and tests, so a
 * production deployment cannot hand providers a localhost or plain-text return address.
 */
export function IsPublicUrl(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isPublicUrl',
      validator: {
        validate: (value: unknown, args?: ValidationArguments) => {
          if (
            typeof value !== 'string' ||
            !isURL(value, { require_tld: false, protocols: ['http', 'https'], require_protocol: true })
          ) {
            return false;
          }
          const production = (args?.object as { NODE_ENV?: string } | undefined)?.NODE_ENV === 'production';
          return !production || value.startsWith('https://');
        },
        defaultMessage: () => 'must be an http(s) URL (https in production)',
      },
    },
    options,
  );
}
