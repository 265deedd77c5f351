import { createHmac } from 'node:crypto';

function hmacSha256Hex(secret: string, payload: string | Buffer): string {
  return createHmac('sha256', secret).update(payload).digest('hex');
}

/** The manifest Mercado Pago signs; `data.id` comes from the notification's query string. */
export function mercadoPagoManifest(dataId: string, requestId: string, ts: string): string {
  return `id:${dataId};request-id:${requestId};ts:${ts};`;
}

/** Value of the `x-signature` header: `ts=<unix s>,v1=<hex>`. */
export function mercadoPagoSignatureHeader(
  secret: string,
  dataId: string,
  requestId: string,
  ts: string,
): string {
  return `ts=${ts},v1=${hmacSha256Hex(secret, mercadoPagoManifest(dataId, requestId, ts))}`;
}

/** Value of the `Stripe-Signature` header: `t=<unix s>,v1=<hex of HMAC("<t>.<raw body>")>`. */
export function stripeSignatureHeader(secret: string, rawBody: string, t: number): string {
  return `t=${t},v1=${hmacSha256Hex(secret, `${t}.${rawBody}`)}`;
}

/** Value of `X-Hub-Signature-256`: computed over the exact bytes sent, never a re-serialization. */
export function metaSignature256Header(appSecret: string, rawBody: string | Buffer): string {
  return `sha256=${hmacSha256Hex(appSecret, rawBody)}`;
}

/** Meta still sends the legacy SHA-1 header next to the SHA-256 one. */
export function metaSignatureSha1Header(appSecret: string, rawBody: string | Buffer): string {
  return `sha1=${createHmac('sha1', appSecret).update(rawBody).digest('hex')}`;
}

/**
 * Meta serializes webhook payloads the way PHP's json_encode does: non-ASCII as `\uXXXX` and `/` as
 * `\/`. Sending the same bytes lets tests catch a gateway that re-serializes before verifying.
 */
export function metaJsonStringify(value: unknown): string {
  return JSON.stringify(value)
    .replace(/\//g, '\\/')
    .replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
