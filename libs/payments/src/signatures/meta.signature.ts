import {
  assertSecrets,
  decodeSha256Hex,
  digestsEqual,
  hmacSha256,
  invalidSignature,
  SignatureFailure,
  usableHeader,
} from './signature.common';

export interface VerifyMetaSignatureInput {
  /** The `X-Hub-Signature-256` header: `sha256=<hex>`. */
  header: string | null | undefined;
  /** The exact bytes received: Meta signs its own `\uXXXX`-escaped serialization. */
  rawBody: Buffer;
  /** App secrets; more than one while a rotation overlaps. */
  secrets: readonly string[];
}

/** Meta signs no timestamp, so the only failure is `invalid_signature`. */
export type MetaSignatureResult = { ok: true; matchedSecretIndex: number } | SignatureFailure;

const PREFIX = 'sha256=';

export function verifyMetaSignature(input: VerifyMetaSignatureInput): MetaSignatureResult {
  assertSecrets(input.secrets, 'Meta');
  if (!usableHeader(input.header) || !Buffer.isBuffer(input.rawBody)) return invalidSignature();
  const header = input.header.trim();
  if (header.slice(0, PREFIX.length).toLowerCase() !== PREFIX) return invalidSignature();
  const candidate = decodeSha256Hex(header.slice(PREFIX.length));
  if (!candidate) return invalidSignature();

  for (const [matchedSecretIndex, secret] of input.secrets.entries()) {
    if (digestsEqual(hmacSha256(secret, input.rawBody), candidate)) return { ok: true, matchedSecretIndex };
  }
  return invalidSignature();
}

/** Produces a valid `X-Hub-Signature-256` header (tests, benchmarks, the sandbox and the postcheck). */
export function signMeta(input: { secret: string; rawBody: Buffer | string }): string {
  const body = typeof input.rawBody === 'string' ? Buffer.from(input.rawBody, 'utf8') : input.rawBody;
  return `${PREFIX}${hmacSha256(input.secret, body).toString('hex')}`;
}
