import {
  assertSecrets,
  decodeSha256Hex,
  DEFAULT_SIGNATURE_TOLERANCE_SECONDS,
  digestsEqual,
  hmacSha256,
  invalidSignature,
  parseSignatureHeader,
  SignatureFailure,
  signatureExpired,
  usableHeader,
  withinTolerance,
} from './signature.common';

export type MercadoPagoIdVariant = 'as_received' | 'lowercased';

export interface VerifyMercadoPagoSignatureInput {
  /** The `x-signature` header: `ts=<ts>,v1=<hex>`. */
  xSignature: string | null | undefined;
  /** The `x-request-id` header; absent drops `request-id:…;` from the manifest. */
  xRequestId?: string | null;
  /** `data.id` from the notification's query string (not the body); absent drops `id:…;`. */
  dataId?: string | null;
  secrets: readonly string[];
  toleranceSeconds?: number;
  nowMs?: number;
}

export type MercadoPagoSignatureResult =
  | {
      ok: true;
      matchedSecretIndex: number;
      /** Which spelling of the id verified; worth logging while senders disagree on lowercasing. */
      idVariant: MercadoPagoIdVariant;
      /** The signed timestamp, normalised to milliseconds. */
      timestampMs: number;
    }
  | SignatureFailure;

const TS_PATTERN = /^\d{1,16}$/;

function present(value: string | null | undefined): value is string {
  return typeof value === 'string' && value.length > 0;
}

/** `id:<dataId>;request-id:<xRequestId>;ts:<ts>;`, each absent part dropped whole. */
export function buildMercadoPagoManifest(parts: {
  dataId?: string | null;
  xRequestId?: string | null;
  ts: string;
}): string {
  let manifest = '';
  if (present(parts.dataId)) manifest += `id:${parts.dataId};`;
  if (present(parts.xRequestId)) manifest += `request-id:${parts.xRequestId};`;
  return `${manifest}ts:${parts.ts};`;
}

/** Mercado Pago's `ts` comes in seconds or milliseconds; 13+ digits can only be milliseconds. */
export function mercadoPagoTimestampMs(ts: string): number {
  return ts.length >= 13 ? Number(ts) : Number(ts) * 1000;
}

export function verifyMercadoPagoSignature(
  input: VerifyMercadoPagoSignatureInput,
): MercadoPagoSignatureResult {
  assertSecrets(input.secrets, 'Mercado Pago');
  if (!usableHeader(input.xSignature)) return invalidSignature();

  const tsValues: string[] = [];
  const candidates: Buffer[] = [];
  for (const [key, value] of parseSignatureHeader(input.xSignature)) {
    if (key === 'ts') tsValues.push(value);
    if (key === 'v1') {
      const digest = decodeSha256Hex(value);
      if (digest) candidates.push(digest);
    }
  }
  const ts = tsValues.length === 1 ? tsValues[0] : undefined;
  if (ts === undefined || !TS_PATTERN.test(ts) || candidates.length === 0) return invalidSignature();

  const xRequestId = typeof input.xRequestId === 'string' ? input.xRequestId : null;
  const dataId = typeof input.dataId === 'string' ? input.dataId : null;
  const variants: Array<[MercadoPagoIdVariant, string | null]> = [['as_received', dataId]];
  if (dataId !== null && dataId.toLowerCase() !== dataId) variants.push(['lowercased', dataId.toLowerCase()]);

  for (const [idVariant, id] of variants) {
    const manifest = buildMercadoPagoManifest({ dataId: id, xRequestId, ts });
    for (const [matchedSecretIndex, secret] of input.secrets.entries()) {
      const expected = hmacSha256(secret, manifest);
      if (!candidates.some((candidate) => digestsEqual(expected, candidate))) continue;
      // Checked only after the signature holds, so a forger learns nothing from the answer.
      const timestampMs = mercadoPagoTimestampMs(ts);
      const tolerance = input.toleranceSeconds ?? DEFAULT_SIGNATURE_TOLERANCE_SECONDS;
      if (!withinTolerance(timestampMs, input.nowMs ?? Date.now(), tolerance)) return signatureExpired();
      return { ok: true, matchedSecretIndex, idVariant, timestampMs };
    }
  }
  return invalidSignature();
}

/** Produces a valid `x-signature` header (tests, benchmarks, the sandbox and the postcheck). */
export function signMercadoPago(input: {
  secret: string;
  dataId?: string | null;
  xRequestId?: string | null;
  /** Sent as given; defaults to now in unix seconds. */
  ts?: string | number;
}): string {
  const ts = String(input.ts ?? Math.floor(Date.now() / 1000));
  const manifest = buildMercadoPagoManifest({ dataId: input.dataId, xRequestId: input.xRequestId, ts });
  return `ts=${ts},v1=${hmacSha256(input.secret, manifest).toString('hex')}`;
}
