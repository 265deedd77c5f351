import { createHash } from 'node:crypto';
import {
  SignatureFailureReason,
  verifyMercadoPagoSignature,
  verifyMetaSignature,
  verifyStripeSignature,
} from '@realapp/payments';
import { storableJsonText } from '@realapp/webhooks';
import { invalidSignature, invalidWebhook, malformedJson, signatureExpired, WebhookRejected } from './webhook-rejection';

/*
 * The provider-specific half of the hot path, pure and synchronous: verify the signature on the
 * exact bytes first, parse only what passed, and pull out what identifies the notification.
 * Anything thrown here is a WebhookRejected; nothing has been stored or published yet.
 */

export type HeaderBag = Readonly<Record<string, string | string[] | undefined>>;

export interface RawWebhook {
  rawBody: Buffer;
  headers: HeaderBag;
  query: Readonly<Record<string, unknown>>;
}

export interface VerifyOptions {
  secrets: readonly string[];
  toleranceSeconds: number;
  nowMs: number;
}

export interface ParsedWebhook {
  providerEventId: string;
  topic: string;
  resourceId: string | null;
  tenantId: string | null;
  payload: Record<string, unknown>;
  /** The verified bytes as text, byte order mark included: decoded once, here, and stored as they are. */
  bodyText: string;
  /** What `payload` was parsed from (`storableJsonText`), stored as the event's payload. */
  payloadText: string;
  /** Meta `messages` changes: the number that decides the tenant (SPEC §14). */
  phoneNumberId: string | null;
  /** Mercado Pago: whether the id verified only lowercased (worth a log line while senders disagree). */
  idVariant?: 'as_received' | 'lowercased';
  /** Which of the live secrets matched (0 = the first): tells ops when the old one stops being used. */
  matchedSecretIndex: number;
}

const MAX_ID_LENGTH = 255;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// The byte order mark is kept, so that the text is exactly the stored bytes; storableJsonText drops it for JSON.parse.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function firstHeader(headers: HeaderBag, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function firstValue(value: unknown): string | undefined {
  if (Array.isArray(value)) return typeof value[0] === 'string' ? value[0] : undefined;
  return typeof value === 'string' ? value : undefined;
}

function rejection(reason: SignatureFailureReason): WebhookRejected {
  return reason === 'signature_expired' ? signatureExpired() : invalidSignature();
}

/**
 * The verified body → its text and its payload, or the right refusal: not UTF-8 or not JSON at all
 * → malformed_json; JSON but not an object → validation_failed. The payload is parsed from
 * `storableJsonText`, so what is read from it (ids, topic) is what will be stored.
 */
export function parseJsonBody(rawBody: Buffer): {
  bodyText: string;
  payloadText: string;
  payload: Record<string, unknown>;
} {
  let bodyText: string;
  let payloadText: string;
  let parsed: unknown;
  try {
    bodyText = utf8.decode(rawBody);
    payloadText = storableJsonText(bodyText);
    parsed = JSON.parse(payloadText);
  } catch {
    throw malformedJson();
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw invalidWebhook([{ field: 'body', message: 'must be a JSON object' }]);
  }
  return { bodyText, payloadText, payload: parsed as Record<string, unknown> };
}

/** Provider ids arrive as JSON numbers (Mercado Pago) or strings; both become bounded strings. */
export function idString(value: unknown): string | null {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  // U+0000 (from a query string; payloads are already free of it) cannot be stored in a text column.
  if (typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH && !value.includes('\u0000'))
    return value;
  return null;
}

function asObject(value: unknown): Record<string, unknown> | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

function required(value: string | null, field: string, message: string): string {
  if (value === null) throw invalidWebhook([{ field, message }]);
  return value;
}

/**
 * Mercado Pago signs only `data.id` (from the query string), `x-request-id` and `ts`, not the
 * body: the body is a hint, which is why the worker fetches the payment before moving money.
 */
export function intakeMercadoPago(raw: RawWebhook, options: VerifyOptions): ParsedWebhook {
  const dataId = firstValue(raw.query['data.id']) ?? null;
  const result = verifyMercadoPagoSignature({
    xSignature: firstHeader(raw.headers, 'x-signature'),
    xRequestId: firstHeader(raw.headers, 'x-request-id') ?? null,
    dataId,
    secrets: options.secrets,
    toleranceSeconds: options.toleranceSeconds,
    nowMs: options.nowMs,
  });
  if (!result.ok) throw rejection(result.reason);
  const { bodyText, payloadText, payload } = parseJsonBody(raw.rawBody);
  const providerEventId = required(idString(payload.id), 'id', 'the notification id is required');
  const topic = required(
    idString(payload.type) ?? idString(firstValue(raw.query.type)) ?? idString(firstValue(raw.query.topic)),
    'type',
    'the notification type is required',
  );
  // The signed query value wins over the unsigned body.
  const resourceId = (dataId !== null ? idString(dataId) : null) ?? idString(asObject(payload.data)?.id);
  return {
    providerEventId,
    topic,
    resourceId,
    tenantId: null,
    payload,
    bodyText,
    payloadText,
    phoneNumberId: null,
    idVariant: result.idVariant,
    matchedSecretIndex: result.matchedSecretIndex,
  };
}

export function intakeStripe(raw: RawWebhook, options: VerifyOptions): ParsedWebhook {
  const result = verifyStripeSignature({
    header: firstHeader(raw.headers, 'stripe-signature'),
    rawBody: raw.rawBody,
    secrets: options.secrets,
    toleranceSeconds: options.toleranceSeconds,
    nowMs: options.nowMs,
  });
  if (!result.ok) throw rejection(result.reason);
  const { bodyText, payloadText, payload } = parseJsonBody(raw.rawBody);
  const providerEventId = required(idString(payload.id), 'id', 'the event id is required');
  const topic = required(idString(payload.type), 'type', 'the event type is required');
  const object = asObject(asObject(payload.data)?.object);
  // The body is signed, so the tenant the top-up's metadata names can label the stored event.
  const tenant = idString(asObject(object?.metadata)?.tenantId);
  return {
    providerEventId,
    topic,
    resourceId: idString(object?.id),
    tenantId: tenant !== null && UUID.test(tenant) ? tenant : null,
    payload,
    bodyText,
    payloadText,
    phoneNumberId: null,
    matchedSecretIndex: result.matchedSecretIndex,
  };
}

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/**
 * Meta has no event id. A delivery is identified by what it carries (message ids, status
 * changes), so a retry, even re-serialized, is recognised; a body with neither (account
 * updates) is identified by the hash of its exact bytes, which Meta keeps across retries.
 */
export function intakeMeta(raw: RawWebhook, options: Pick<VerifyOptions, 'secrets'>): ParsedWebhook {
  const result = verifyMetaSignature({
    header: firstHeader(raw.headers, 'x-hub-signature-256'),
    rawBody: raw.rawBody,
    secrets: options.secrets,
  });
  if (!result.ok) throw rejection(result.reason);
  const { bodyText, payloadText, payload } = parseJsonBody(raw.rawBody);

  const keys: string[] = [];
  let topic: string | null = null;
  let phoneNumberId: string | null = null;
  let resourceId: string | null = null;
  for (const entry of Array.isArray(payload.entry) ? payload.entry : []) {
    const entryObject = asObject(entry);
    for (const change of Array.isArray(entryObject?.changes) ? entryObject.changes : []) {
      const changeObject = asObject(change);
      const value = asObject(changeObject?.value);
      topic ??= idString(changeObject?.field);
      const number = idString(asObject(value?.metadata)?.phone_number_id);
      if (number !== null && phoneNumberId === null) phoneNumberId = number;
      resourceId ??= number ?? idString(asObject(value?.waba_info)?.waba_id) ?? idString(entryObject?.id);
      for (const message of Array.isArray(value?.messages) ? value.messages : []) {
        const id = idString(asObject(message)?.id);
        if (id !== null) keys.push(`message:${id}`);
      }
      for (const status of Array.isArray(value?.statuses) ? value.statuses : []) {
        const statusObject = asObject(status);
        const id = idString(statusObject?.id);
        if (id !== null) keys.push(`status:${id}:${idString(statusObject?.status) ?? ''}`);
      }
    }
  }
  let providerEventId: string;
  if (keys.length === 1 && keys[0].length <= MAX_ID_LENGTH) providerEventId = keys[0];
  else if (keys.length > 0) providerEventId = `batch:${sha256([...keys].sort().join('\n'))}`;
  else providerEventId = `body:${sha256(raw.rawBody)}`;

  return {
    providerEventId,
    topic: topic ?? idString(payload.object) ?? 'unknown',
    resourceId,
    tenantId: null,
    payload,
    bodyText,
    payloadText,
    phoneNumberId,
    matchedSecretIndex: result.matchedSecretIndex,
  };
}
