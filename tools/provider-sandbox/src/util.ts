import { createHash, randomBytes, randomUUID } from 'node:crypto';

export type ProviderName = 'mercadopago' | 'stripe' | 'meta' | 'openai';

export const PROVIDERS: readonly ProviderName[] = ['mercadopago', 'stripe', 'meta', 'openai'];

export function isProviderName(value: unknown): value is ProviderName {
  return typeof value === 'string' && (PROVIDERS as readonly string[]).includes(value);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Bodies and queries arrive as `unknown`; this narrows them without casts. */
export function asRecord(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

export function readString(source: Record<string, unknown>, key: string): string | undefined {
  const value = source[key];
  return typeof value === 'string' ? value : undefined;
}

export function readNonEmptyString(source: Record<string, unknown>, key: string): string | undefined {
  const value = readString(source, key);
  return value === undefined || value.trim() === '' ? undefined : value;
}

export function readBoolean(source: Record<string, unknown>, key: string): boolean | undefined {
  const value = source[key];
  if (typeof value === 'boolean') return value;
  // Form bodies and query strings carry booleans as text.
  if (value === 'true') return true;
  if (value === 'false') return false;
  return undefined;
}

export function readNumber(source: Record<string, unknown>, key: string): number | undefined {
  const value = source[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** Numbers that may arrive as JSON numbers or as form/query text. */
export function readNumeric(source: Record<string, unknown>, key: string): number | undefined {
  const value = source[key];
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim())) return Number(value.trim());
  return undefined;
}

export function randomAlphanumeric(length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i += 1) out += alphabet[bytes[i] % alphabet.length];
  return out;
}

export function randomHex(length: number): string {
  return randomBytes(Math.ceil(length / 2))
    .toString('hex')
    .slice(0, length);
}

export function uuid(): string {
  return randomUUID();
}

/** A stable numeric id (as Graph spells them) derived from any text, so unknown objects answer consistently. */
export function numericIdFrom(seed: string, digits: number): string {
  const hex = createHash('sha256').update(seed).digest('hex');
  let out = '1';
  for (let i = 0; out.length < digits; i += 1) out += String(parseInt(hex[i % hex.length], 16) % 10);
  return out;
}

export function unixSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/**
 * Mercado Pago prints dates as `yyyy-MM-dd'T'HH:mm:ss.SSSZ` in Brasília time (UTC-03:00, no DST
 * since 2019), e.g. `2026-11-25T10:00:00.000-03:00`.
 */
export function formatMercadoPagoDate(date: Date): string {
  const shifted = new Date(date.getTime() - 3 * 60 * 60 * 1000);
  return `${shifted.toISOString().slice(0, 23)}-03:00`;
}

export function formatGraphDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** Graph and Facebook SDKs print times as `2026-11-25T13:00:00+0000`. */
export function formatGraphTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}+0000`;
}

/** Key order must not make two equal bodies look different when comparing idempotent requests. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys(value[key]);
    return out;
  }
  return value;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const match = /^Bearer\s+(\S.*)$/i.exec(value.trim());
  return match ? match[1].trim() : undefined;
}

export function headerValue(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Ids that outlive `reset()` and process restarts: the platform's database keeps the ids it saw,
 * so a restarted sandbox must not hand out a payment id or notification id it already used
 * (the gateway would take a fresh notification for a duplicate). Seeding from the clock keeps
 * them increasing across restarts.
 */
class MonotonicCounter {
  private last: number;

  constructor(seed: number) {
    this.last = seed - 1;
  }

  next(): number {
    this.last += 1;
    return this.last;
  }
}

const startSeconds = Math.floor(Date.now() / 1000);
const mercadoPagoPaymentIds = new MonotonicCounter(
  1_300_000_001 + Math.max(0, startSeconds - 1_700_000_000) * 100,
);
const mercadoPagoNotificationIds = new MonotonicCounter(Date.now() * 10);
const graphObjectIds = new MonotonicCounter(Date.now() * 1000);

export function nextMercadoPagoPaymentId(): number {
  return mercadoPagoPaymentIds.next();
}

export function nextMercadoPagoNotificationId(): number {
  return mercadoPagoNotificationIds.next();
}

/** 18-digit Graph ids, like Meta's campaign ids (`120210000000000001`). */
export function nextGraphObjectId(): string {
  return `12${graphObjectIds.next()}`;
}
