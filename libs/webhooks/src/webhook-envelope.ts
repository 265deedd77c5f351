import {
  EventDefinition,
  EventEnvelope,
  MercadoPagoWebhookReceived,
  MetaWebhookReceived,
  StripeWebhookReceived,
  WebhookProvider,
  WebhookReceivedData,
} from '@realapp/contracts';
import { uuidV7 } from './uuid-v7';

export function webhookEventDefinition(provider: WebhookProvider): EventDefinition<WebhookReceivedData> {
  switch (provider) {
    case 'mercadopago':
      return MercadoPagoWebhookReceived;
    case 'stripe':
      return StripeWebhookReceived;
    case 'meta':
      return MetaWebhookReceived;
  }
}

export interface WebhookEnvelopeInput {
  webhookEventId: string;
  provider: WebhookProvider;
  providerEventId: string;
  topic: string;
  resourceId: string | null;
  tenantId: string | null;
  payload: Record<string, unknown>;
  correlationId: string;
}

/**
 * The `webhook.<provider>.received` envelope, built without class-validator: this runs once per
 * webhook on the gateway's hot path. Its shape is pinned by a unit test against the registry's
 * own validation, and the worker validates every envelope on receipt anyway.
 */
export function buildWebhookEnvelope(input: WebhookEnvelopeInput, now: Date = new Date()): EventEnvelope<WebhookReceivedData> {
  const definition = webhookEventDefinition(input.provider);
  const data: WebhookReceivedData = {
    webhookEventId: input.webhookEventId,
    provider: input.provider,
    providerEventId: input.providerEventId,
    topic: input.topic,
    payload: input.payload,
  };
  if (input.resourceId !== null) data.resourceId = input.resourceId;
  return {
    // Time-ordered, as the gateway's own ids are (message ids that sort by arrival).
    id: uuidV7(now.getTime()),
    type: definition.type,
    version: definition.version,
    occurredAt: now.toISOString(),
    correlationId: input.correlationId,
    causationId: null,
    tenantId: input.tenantId,
    data,
  };
}
