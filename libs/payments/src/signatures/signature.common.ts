import { createHmac, timingSafeEqual } from 'node:crypto';

export type SignatureFailureReason = 'invalid_signature' | 'signature_expired';

export interface SignatureFailure {
  ok: false;
  reason: SignatureFailureReason;
}

export const DEFAULT_SIGNATURE_TOLERANCE_SECONDS = 300;

/** Headers are attacker input: past this length there is nothing legitimate left to parse. */
export const MAX_SIGNATURE_HEADER_LENGTH = 4096;

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

export const invalidSignature = (): SignatureFailure => ({ ok: false, reason: 'invalid_signature' });
export const signatureExpired = (): SignatureFailure => ({ ok: false, reason: 'signature_expired' });

export function hmacSha256(secret: string, payload: string | Buffer): Buffer {
  return createHmac('sha256', secret).update(payload).digest();
}

/**
 * Decodes a claimed hex digest to bytes, or null. `Buffer.from(x, 'hex')` silently stops at the
 * first non-hex character, so the shape is checked first; that also guarantees 32 bytes, the
 * equal length `timingSafeEqual` needs.
 */
export function decodeSha256Hex(candidate: string): Buffer | null {
  return SHA256_HEX.test(candidate) ? Buffer.from(candidate, 'hex') : null;
}

/** Compares digests as bytes in constant time; never compares the hex strings. */
export function digestsEqual(expected: Buffer, candidate: Buffer): boolean {
  return expected.length === candidate.length && timingSafeEqual(expected, candidate);
}

/**
 * A list of live secrets lets a rotation overlap old and new. An empty list is a deployment
 * mistake, not attacker input, so it throws instead of quietly refusing every webhook.
 */
export function assertSecrets(secrets: readonly string[], provider: string): void {
  if (
    !Array.isArray(secrets) ||
    secrets.length === 0 ||
    secrets.some((s) => typeof s !== 'string' || s === '')
  ) {
    throw new TypeError(`${provider} signature verification needs at least one non-empty secret`);
  }
}

/** `k=v` pairs split on commas, whitespace around keys and values ignored, repeated keys kept. */
export function parseSignatureHeader(header: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    pairs.push([part.slice(0, eq).trim(), part.slice(eq + 1).trim()]);
  }
  return pairs;
}

export function usableHeader(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_SIGNATURE_HEADER_LENGTH;
}

export function withinTolerance(timestampMs: number, nowMs: number, toleranceSeconds: number): boolean {
  return Math.abs(nowMs - timestampMs) <= toleranceSeconds * 1000;
}
