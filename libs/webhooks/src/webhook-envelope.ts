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

/** A `\u0000` escape that is not itself escaped: preceded by an even run of backslashes. */
const NUL_ESCAPE = /(?<!\\)((?:\\\\)*)\\u0000/g;

/**
 * The JSON text a verified body's payload is stored and published as: the body's own text without
 * a leading byte order mark (JSON.parse refuses one), and with every `\u0000` escape made
 * `\ufffd`, the replacement character. PostgreSQL's jsonb and text cannot hold U+0000, so a
 * correctly signed body with that escape could otherwise never be stored: the provider would be
 * answered 503 on every retry, and the event lost. The stored raw body keeps the exact bytes
 * either way; only the parsed payload (and the ids read from it) carry the replacement.
 */
export function storableJsonText(text: string): string {
  const json = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  return json.includes('\\u0000') ? json.replace(NUL_ESCAPE, '$1\\ufffd') : json;
}
