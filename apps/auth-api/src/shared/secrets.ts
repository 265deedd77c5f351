import { createHash, randomBytes } from 'node:crypto';

/** An opaque bearer secret (refresh token, invite token): 32 random bytes, base64url. */
export function newOpaqueToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * What the database keeps of an opaque token. The tokens carry 256 bits of entropy, so a plain
 * SHA-256 is enough: nothing to brute-force, and a lookup by digest stays one index probe.
 */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Opaque tokens we issue are exactly 43 base64url characters; anything else is not ours. */
export function looksLikeOpaqueToken(token: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(token);
}
