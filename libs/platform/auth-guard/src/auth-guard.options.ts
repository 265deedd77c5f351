import { JSONWebKeySet } from 'jose';

export interface AuthGuardOptions {
  /** Must equal the token's `iss` (BaseConfig JWT_ISSUER). */
  issuer: string;
  /** Must be among the token's `aud` (BaseConfig JWT_AUDIENCE). */
  audience: string;
  /** auth-api's `/.well-known/jwks.json`. Exactly one of `jwksUrl` and `jwks`. */
  jwksUrl?: string;
  /** The key set read in-process (auth-api verifies its own tokens without calling itself). */
  jwks?: () => Promise<JSONWebKeySet>;
  /** Default 300000 (the JWKS Cache-Control max-age). */
  jwksMaxAgeMs?: number;
  /** Minimum time between two refreshes triggered by an unknown `kid`. Default 2000. */
  jwksCooldownMs?: number;
  /** Accepted clock skew for `exp`/`nbf`/`iat`, in seconds. Default 30. */
  clockToleranceSeconds?: number;
  /** Verified tokens kept in memory (by SHA-256, least recently used dropped first). Default 10000; 0 turns it off. */
  verifiedTokenCacheSize?: number;
  /** Longest reuse of one verification, whatever the token's `exp`, in ms. Default 60000. */
  verifiedTokenMaxAgeMs?: number;
}

export const AUTH_GUARD_OPTIONS = Symbol('AUTH_GUARD_OPTIONS');
