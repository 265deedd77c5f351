import { WebhookProvider } from '@realapp/contracts';

export const WEBHOOK_EVENT_STATUSES = ['received', 'published', 'processed', 'failed', 'dead'] as const;
export type WebhookEventStatus = (typeof WEBHOOK_EVENT_STATUSES)[number];

export function isWebhookEventStatus(value: unknown): value is WebhookEventStatus {
  return typeof value === 'string' && (WEBHOOK_EVENT_STATUSES as readonly string[]).includes(value);
}

/** Why a Meta message was stored without being handed to a tenant (SPEC §7, §14). */
export const TENANT_NOT_MAPPED = 'tenant_not_mapped_for_phone_number_id';

/** A verified notification, as the gateway hands it to the store. */
export interface IncomingWebhook {
  provider: WebhookProvider;
  providerEventId: string;
  topic: string;
  resourceId: string | null;
  tenantId: string | null;
  /**
   * The exact bytes that were verified, as the intake decoded them with a fatal UTF-8 decoder
   * (byte order mark kept): valid UTF-8 JSON, so `convert_to` gives the bytes back in SQL.
   */
  bodyText: string;
  /**
   * The JSON text the intake parsed: `storableJsonText(bodyText)`. The event's payload is built from
   * it in SQL, so consumers need not parse the body again.
   */
  payloadText: string;
  /** Already stripped of signatures and credentials (see `storableHeaders`). */
  headers: Record<string, string>;
  /**
   * Why the event is stored but not published (nobody could act on it yet); null publishes it.
   * The event is then `dead` with this reason, which ops can see and replay once it is fixable.
   */
  parkedReason: string | null;
}

export interface StoreOutcome {
  /** False when the provider re-sent an event already stored: nothing new was published. */
  stored: boolean;
  published: boolean;
  webhookEventId: string;
}

/** SPEC §13: the ops view of a stored event. */
export interface WebhookEventView {
  id: string;
  provider: WebhookProvider;
  providerEventId: string;
  type: string;
  status: WebhookEventStatus;
  attempts: number;
  lastError: string | null;
  receivedAt: string;
  processedAt: string | null;
}

export interface WebhookEventFilter {
  status?: WebhookEventStatus;
  provider?: WebhookProvider;
  limit: number;
  cursor?: string;
}
