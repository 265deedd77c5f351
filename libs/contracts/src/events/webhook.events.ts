import { IsIn, IsObject, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { defineEvent } from '../registry';

export const WEBHOOK_PROVIDERS = ['mercadopago', 'stripe', 'meta'] as const;
export type WebhookProvider = (typeof WEBHOOK_PROVIDERS)[number];

/** A verified provider notification, stored by the webhook-gateway and handed to the worker. */
export class WebhookReceivedData {
  @IsUUID()
  webhookEventId: string;

  @IsIn(WEBHOOK_PROVIDERS)
  provider: WebhookProvider;

  @IsString()
  @MaxLength(255)
  providerEventId: string;

  /** Provider-specific topic: `payment`, `subscription_preapproval`, `checkout.session.completed`, `messages`… */
  @IsString()
  @MaxLength(255)
  topic: string;

  /** The provider resource the notification is about (payment id, pre-approval id, session id). */
  @IsOptional()
  @IsString()
  @MaxLength(255)
  resourceId?: string;

  /** The parsed body, as the provider sent it. */
  @IsObject()
  payload: Record<string, unknown>;
}

export const MercadoPagoWebhookReceived = defineEvent('webhook.mercadopago.received', 1, WebhookReceivedData);
export const StripeWebhookReceived = defineEvent('webhook.stripe.received', 1, WebhookReceivedData);
export const MetaWebhookReceived = defineEvent('webhook.meta.received', 1, WebhookReceivedData);
