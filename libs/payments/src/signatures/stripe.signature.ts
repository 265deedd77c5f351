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

export interface VerifyStripeSignatureInput {
  /** The `Stripe-Signature` header: `t=<unix s>,v1=<hex>[,v1=<hex>…][,v0=<hex>]`. */
  header: string | null | undefined;
  /** The exact bytes received; any re-serialization breaks the signature. */
  rawBody: Buffer;
  secrets: readonly string[];
  toleranceSeconds?: number;
  nowMs?: number;
}

export type StripeSignatureResult =
  { ok: true; matchedSecretIndex: number; timestamp: number } | SignatureFailure;

const T_PATTERN = /^\d{1,16}$/;

function signedPayload(timestamp: string, rawBody: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${timestamp}.`, 'utf8'), rawBody]);
}

export function verifyStripeSignature(input: VerifyStripeSignatureInput): StripeSignatureResult {
  assertSecrets(input.secrets, 'Stripe');
  if (!usableHeader(input.header) || !Buffer.isBuffer(input.rawBody)) return invalidSignature();

  const tValues: string[] = [];
  const candidates: Buffer[] = [];
  // v0 is Stripe's test-mode legacy scheme and is ignored, as Stripe's own libraries do.
  for (const [key, value] of parseSignatureHeader(input.header)) {
    if (key === 't') tValues.push(value);
    if (key === 'v1') {
      const digest = decodeSha256Hex(value);
      if (digest) candidates.push(digest);
    }
  }
  const t = tValues.length === 1 ? tValues[0] : undefined;
  if (t === undefined || !T_PATTERN.test(t) || candidates.length === 0) return invalidSignature();

  const payload = signedPayload(t, input.rawBody);
  for (const [matchedSecretIndex, secret] of input.secrets.entries()) {
    const expected = hmacSha256(secret, payload);
    if (!candidates.some((candidate) => digestsEqual(expected, candidate))) continue;
    const timestamp = Number(t);
    const tolerance = input.toleranceSeconds ?? DEFAULT_SIGNATURE_TOLERANCE_SECONDS;
    if (!withinTolerance(timestamp * 1000, input.nowMs ?? Date.now(), tolerance)) return signatureExpired();
    return { ok: true, matchedSecretIndex, timestamp };
  }
  return invalidSignature();
}

/** Produces a valid `Stripe-Signature` header (tests, benchmarks, the sandbox and the postcheck). */
export function signStripe(input: {
  secret: string;
  rawBody: Buffer | string;
  /** Unix seconds; defaults to now. */
  timestamp?: number;
}): string {
  const t = String(input.timestamp ?? Math.floor(Date.now() / 1000));
  const body = typeof input.rawBody === 'string' ? Buffer.from(input.rawBody, 'utf8') : input.rawBody;
  return `t=${t},v1=${hmacSha256(input.secret, signedPayload(t, body)).toString('hex')}`;
}
