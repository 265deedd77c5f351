/*
 * Meta's `whatsapp_business_account` webhook (PROVIDERS.md, WhatsApp): the raw shapes as Meta
 * sends them, and the flat records this lib works with. Raw types mark everything optional
 * because Meta adds and omits fields freely; the parser is what turns them into facts.
 */

// ---- Raw shapes (what arrives, signed, at the webhook-gateway) ----

export interface WhatsAppWebhookBody {
  object: 'whatsapp_business_account';
  entry: WhatsAppWebhookEntry[];
}

export interface WhatsAppWebhookEntry {
  /** The WABA id for `messages`; the business portfolio id for `account_update`. */
  id: string;
  time?: number;
  changes: WhatsAppWebhookChange[];
}

export type WhatsAppWebhookChange =
  | { field: 'messages'; value: WhatsAppMessagesValue }
  | { field: 'account_update'; value: WhatsAppAccountUpdateValue };

export interface WhatsAppMessagesValue {
  messaging_product: 'whatsapp';
  metadata: { display_phone_number: string; phone_number_id: string };
  contacts?: { wa_id: string; profile?: { name?: string } }[];
  messages?: WhatsAppRawMessage[];
  statuses?: WhatsAppRawStatus[];
}

export interface WhatsAppRawMessage {
  from: string;
  id: string;
  /** Unix seconds, as a string. */
  timestamp: string;
  type: string;
  text?: { body: string };
  button?: { payload?: string; text?: string };
  interactive?: {
    type: 'button_reply' | 'list_reply';
    button_reply?: { id: string; title: string };
    list_reply?: { id: string; title: string; description?: string };
  };
}

export interface WhatsAppRawStatus {
  id: string;
  status: 'sent' | 'delivered' | 'read' | 'failed';
  timestamp: string;
  recipient_id: string;
  errors?: { code: number; title?: string; message?: string; error_data?: { details?: string } }[];
}

export interface WhatsAppAccountUpdateValue {
  event: string;
  waba_info?: { waba_id: string; owner_business_id: string; partner_app_id?: string };
}

// ---- Parsed records ----

export interface WhatsAppInboundMessage {
  /** `entry.id` of a `messages` change. */
  wabaId: string;
  /** What inbound messages are routed by (SPEC §14). */
  phoneNumberId: string;
  displayPhoneNumber: string | null;
  from: string;
  /** `wamid…`: the key that makes a second delivery of the same message a no-op. */
  messageId: string;
  /** As Meta sent it: unix seconds in a string. */
  timestamp: string;
  /** `timestamp` as ISO-8601 UTC, or null when it is not a number. */
  sentAt: string | null;
  /**
   * What the customer wrote: `text.body`, or the title of a tapped reply button or list row
   * (which is what a flow keyword would match); null for media and other types.
   */
  text: string | null;
  type: string;
  /** The sender's WhatsApp profile name, when Meta sends the contact. */
  profileName: string | null;
}

export interface WhatsAppStatusError {
  code: number | null;
  title: string | null;
  message: string | null;
}

export interface WhatsAppStatusUpdate {
  wabaId: string;
  phoneNumberId: string;
  displayPhoneNumber: string | null;
  /** The `wamid…` of the message we sent. */
  messageId: string;
  status: 'sent' | 'delivered' | 'read' | 'failed' | (string & {});
  recipientId: string | null;
  timestamp: string;
  sentAt: string | null;
  errors: WhatsAppStatusError[];
}

export interface WhatsAppPartnerEvent {
  /** `PARTNER_ADDED`, `PARTNER_APP_INSTALLED`, `PARTNER_REMOVED`, … (all kept; callers filter). */
  event: string;
  /** `value.waba_info.waba_id`: correlation is by WABA, never by `entry.id`. */
  wabaId: string;
  /** Null when Meta omits it; partner-event case 2 (SPEC §14) then cannot apply. */
  ownerBusinessId: string | null;
  partnerAppId?: string;
  /** `entry.id` (the business portfolio), for logs only. */
  entryId: string | null;
  /** `entry.time`, unix seconds. */
  time: number | null;
}

export interface ParsedWhatsAppNotification {
  messages: WhatsAppInboundMessage[];
  statuses: WhatsAppStatusUpdate[];
  partnerEvents: WhatsAppPartnerEvent[];
}

// ---- Parser ----

type UnknownRecord = Record<string, unknown>;

const isRecord = (value: unknown): value is UnknownRecord =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** Ids are strings in Meta's payloads; a safe integer is accepted too, since some tools send numbers. */
function asId(value: unknown): string | null {
  if (typeof value === 'string') return value.length > 0 ? value : null;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  return null;
}

const asString = (value: unknown): string | null => (typeof value === 'string' ? value : null);

function toIso(timestamp: string): string | null {
  if (!/^\d{1,12}$/.test(timestamp)) return null;
  return new Date(Number(timestamp) * 1000).toISOString();
}

/**
 * Reads a Meta `whatsapp_business_account` notification into flat records. Tolerant by design:
 * anything that does not have the expected shape is skipped, never thrown about, so one odd
 * entry cannot stop the rest of a batch. A body for another `object` gives empty lists.
 */
export function parseWhatsAppNotification(body: unknown): ParsedWhatsAppNotification {
  const parsed: ParsedWhatsAppNotification = { messages: [], statuses: [], partnerEvents: [] };
  if (!isRecord(body) || body['object'] !== 'whatsapp_business_account') return parsed;

  for (const entry of asArray(body['entry'])) {
    if (!isRecord(entry)) continue;
    const entryId = asId(entry['id']);
    const time = typeof entry['time'] === 'number' && Number.isFinite(entry['time']) ? entry['time'] : null;
    for (const change of asArray(entry['changes'])) {
      if (!isRecord(change) || !isRecord(change['value'])) continue;
      const value = change['value'];
      switch (change['field']) {
        case 'messages':
          if (entryId !== null) readMessagesValue(entryId, value, parsed);
          break;
        case 'account_update': {
          const event = readPartnerEvent(value, entryId, time);
          if (event !== null) parsed.partnerEvents.push(event);
          break;
        }
        default:
          break;
      }
    }
  }
  return parsed;
}

function readMessagesValue(wabaId: string, value: UnknownRecord, out: ParsedWhatsAppNotification): void {
  const metadata = isRecord(value['metadata']) ? value['metadata'] : {};
  const phoneNumberId = asId(metadata['phone_number_id']);
  if (phoneNumberId === null) return;
  const displayPhoneNumber = asString(metadata['display_phone_number']);

  const profileNames = new Map<string, string>();
  for (const contact of asArray(value['contacts'])) {
    if (!isRecord(contact)) continue;
    const waId = asId(contact['wa_id']);
    const name = isRecord(contact['profile']) ? asString(contact['profile']['name']) : null;
    if (waId !== null && name !== null) profileNames.set(waId, name);
  }

  for (const message of asArray(value['messages'])) {
    if (!isRecord(message)) continue;
    const from = asId(message['from']);
    const messageId = asString(message['id']);
    const timestamp = asId(message['timestamp']);
    if (from === null || messageId === null || messageId === '' || timestamp === null) continue;
    const type = asString(message['type']) ?? 'unknown';
    out.messages.push({
      wabaId,
      phoneNumberId,
      displayPhoneNumber,
      from,
      messageId,
      timestamp,
      sentAt: toIso(timestamp),
      text: textOf(message, type),
      type,
      profileName: profileNames.get(from) ?? null,
    });
  }

  for (const status of asArray(value['statuses'])) {
    if (!isRecord(status)) continue;
    const messageId = asString(status['id']);
    const state = asString(status['status']);
    const timestamp = asId(status['timestamp']);
    if (messageId === null || messageId === '' || state === null || timestamp === null) continue;
    out.statuses.push({
      wabaId,
      phoneNumberId,
      displayPhoneNumber,
      messageId,
      status: state,
      recipientId: asId(status['recipient_id']),
      timestamp,
      sentAt: toIso(timestamp),
      errors: asArray(status['errors'])
        .filter(isRecord)
        .map((error) => ({
          code: typeof error['code'] === 'number' ? error['code'] : null,
          title: asString(error['title']),
          message: asString(error['message']),
        })),
    });
  }
}

function textOf(message: UnknownRecord, type: string): string | null {
  const part = message[type];
  if (!isRecord(part)) return null;
  switch (type) {
    case 'text':
      return asString(part['body']);
    case 'button':
      return asString(part['text']);
    case 'interactive': {
      const reply = part['button_reply'] ?? part['list_reply'];
      return isRecord(reply) ? asString(reply['title']) : null;
    }
    default:
      return null;
  }
}

function readPartnerEvent(
  value: UnknownRecord,
  entryId: string | null,
  time: number | null,
): WhatsAppPartnerEvent | null {
  const event = asString(value['event']);
  const info = value['waba_info'];
  if (event === null || event === '' || !isRecord(info)) return null;
  const wabaId = asId(info['waba_id']);
  if (wabaId === null) return null;
  const partnerAppId = asId(info['partner_app_id']);
  return {
    event,
    wabaId,
    ownerBusinessId: asId(info['owner_business_id']),
    ...(partnerAppId === null ? {} : { partnerAppId }),
    entryId,
    time,
  };
}
