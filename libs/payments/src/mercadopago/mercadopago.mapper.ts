import { toCents } from '../money';
import { PaymentsError } from '../payments.errors';
import {
  isMercadoPagoPaymentStatus,
  isMercadoPagoPreapprovalStatus,
  MercadoPagoPayment,
  MercadoPagoPreapproval,
} from './mercadopago.types';

type JsonObject = Record<string, unknown>;

function invalid(detail: string): PaymentsError {
  return new PaymentsError(
    'provider_invalid_response',
    `Mercado Pago answered an unexpected body: ${detail}`,
    {
      provider: 'mercadopago',
    },
  );
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objectAt(parent: JsonObject, key: string): JsonObject | null {
  const value = parent[key];
  return isObject(value) ? value : null;
}

function optionalString(parent: JsonObject | null, key: string): string | null {
  const value = parent?.[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw invalid(`${key} is not a string`);
  return value;
}

function optionalDate(parent: JsonObject | null, key: string): Date | null {
  const text = optionalString(parent, key);
  if (text === null || text === '') return null;
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) throw invalid(`${key} is not a date`);
  return date;
}

function optionalCents(parent: JsonObject | null, key: string): number | null {
  const value = parent?.[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' && typeof value !== 'string') throw invalid(`${key} is not an amount`);
  try {
    return toCents(value);
  } catch {
    throw invalid(`${key} is not an amount in cents`);
  }
}

/**
 * Payment ids are JSON numbers; one past 2^53 would already have been rounded by JSON.parse and
 * point at someone else's payment, so it is refused rather than used.
 */
function requiredId(body: JsonObject): string {
  const id = body['id'];
  if (typeof id === 'number' && Number.isSafeInteger(id) && id > 0) return String(id);
  if (typeof id === 'string' && id.length > 0) return id;
  throw invalid('id is missing or not exact');
}

export function parseMercadoPagoPayment(body: unknown): MercadoPagoPayment {
  if (!isObject(body)) throw invalid('payment is not an object');
  const status = body['status'];
  if (!isMercadoPagoPaymentStatus(status)) throw invalid(`unknown payment status ${JSON.stringify(status)}`);
  const amountCents = optionalCents(body, 'transaction_amount');
  if (amountCents === null) throw invalid('transaction_amount is missing');
  const transactionData = objectAt(objectAt(body, 'point_of_interaction') ?? {}, 'transaction_data');
  return {
    id: requiredId(body),
    status,
    statusDetail: optionalString(body, 'status_detail'),
    amountCents,
    currencyId: optionalString(body, 'currency_id'),
    externalReference: optionalString(body, 'external_reference'),
    dateOfExpiration: optionalDate(body, 'date_of_expiration'),
    qrCode: optionalString(transactionData, 'qr_code'),
    qrCodeBase64: optionalString(transactionData, 'qr_code_base64'),
    ticketUrl: optionalString(transactionData, 'ticket_url'),
    transactionAmountRefundedCents: optionalCents(body, 'transaction_amount_refunded') ?? 0,
  };
}

export function parseMercadoPagoPaymentSearch(body: unknown): MercadoPagoPayment[] {
  if (!isObject(body) || !Array.isArray(body['results'])) throw invalid('search has no results array');
  return body['results'].map(parseMercadoPagoPayment);
}

export function parseMercadoPagoPreapproval(body: unknown): MercadoPagoPreapproval {
  if (!isObject(body)) throw invalid('pre-approval is not an object');
  const status = body['status'];
  if (!isMercadoPagoPreapprovalStatus(status)) {
    throw invalid(`unknown pre-approval status ${JSON.stringify(status)}`);
  }
  return {
    id: requiredId(body),
    status,
    initPoint: optionalString(body, 'init_point'),
    externalReference: optionalString(body, 'external_reference'),
    amountCents: optionalCents(objectAt(body, 'auto_recurring'), 'transaction_amount'),
    nextPaymentDate: optionalDate(body, 'next_payment_date'),
  };
}

/** The provider's human message from an error body, short enough for a log line. */
export function mercadoPagoErrorMessage(text: string): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return text.trim().length > 0 ? text.trim().slice(0, 300) : undefined;
  }
  if (!isObject(body)) return undefined;
  const cause = Array.isArray(body['cause']) ? body['cause'][0] : undefined;
  const candidates = [body['message'], body['error'], isObject(cause) ? cause['description'] : undefined];
  const message = candidates.find((value): value is string => typeof value === 'string' && value.length > 0);
  return message?.slice(0, 300);
}
