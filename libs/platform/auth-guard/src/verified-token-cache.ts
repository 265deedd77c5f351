import { hash } from 'node:crypto';
import { AuthContext } from './auth.types';

/** What one successful verification proved, and until when it may be reused. */
export interface VerifiedToken {
  auth: AuthContext;
  /** The `kid` of the key that verified the signature. */
  kid: string;
  /** That key itself: a hit only counts while the JWKS still serves this very key for `kid`. */
  key: unknown;
  /** Clock reading (ms) when jose accepted the token. */
  verifiedAt: number;
  /** min(exp, verifiedAt + max age), in ms: from then on the token goes through jose again. */
  expiresAt: number;
}

export interface VerifiedTokenCacheOptions {
  /** Bound on the number of tokens kept; the least recently used goes first. */
  maxEntries: number;
  /** How long a verification is reused at most, whatever the token's `exp`. */
  maxAgeMs: number;
}

/**
 * The cache key: a token is a bearer credential, so only its SHA-256 is kept in memory. A heap
 * dump of the process therefore holds no usable token that was not already in a live request.
 */
export function tokenDigest(token: string): string {
  // The one-shot form: half the cost of createHash().update().digest() on a request's token.
  return hash('sha256', token, 'base64');
}

/**
 * Verified access tokens of one verifier, so that the app's next request with the same token skips
 * the ES256 signature check (about 13% of queue-api's CPU on the wallet read, docs/performance.md).
 * Access tokens are stateless JWTs that nothing revokes before `exp`, so reusing a verification
 * until `exp` gives the same answer jose would; the max age additionally bounds how long a token
 * outlives its key being withdrawn from the JWKS.
 *
 * A `Map` iterates in insertion order: re-inserting on every hit keeps the least recently used
 * entry first, which is the one dropped when the cache is full.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, VerifiedToken>();

  constructor(readonly options: VerifiedTokenCacheOptions) {}

  get size(): number {
    return this.entries.size;
  }

  /** The entry for `digest` while `now` lies in [verifiedAt, expiresAt); expired ones are dropped. */
  get(digest: string, now: number): VerifiedToken | undefined {
    const entry = this.entries.get(digest);
    if (!entry) return undefined;
    this.entries.delete(digest);
    // A clock that went backwards past the verification could put the token before its `nbf`.
    if (now >= entry.expiresAt || now < entry.verifiedAt) return undefined;
    this.entries.set(digest, entry);
    return entry;
  }

  /**
   * Remembers a token jose has just accepted, with `exp` in seconds as in the token. A token
   * already past its `exp` (accepted within the clock tolerance) is not kept: every later request
   * with it has to hear jose's answer.
   */
  remember(digest: string, auth: AuthContext, kid: string, key: unknown, exp: number, now: number): void {
    const expiresAt = Math.min(exp * 1000, now + this.options.maxAgeMs);
    if (!(expiresAt > now) || this.options.maxEntries <= 0) return;
    this.entries.delete(digest);
    this.entries.set(digest, { auth, kid, key, verifiedAt: now, expiresAt });
    if (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  forget(digest: string): void {
    this.entries.delete(digest);
  }
}
