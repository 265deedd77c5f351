import { decodeProtectedHeader, errors, JWTPayload, jwtVerify, ProtectedHeaderParameters } from 'jose';
import { ACCESS_TOKEN_ALG, ACCESS_TOKEN_TYPE, AuthContext, isRole } from './auth.types';
import { AuthGuardError, invalidToken } from './auth.errors';
import { AuthGuardOptions } from './auth-guard.options';
import { JwksCache, remoteJwksLoader } from './jwks-cache';
import { tokenDigest, VerifiedTokenCache } from './verified-token-cache';

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_TOKEN_LENGTH = 4096;
const KID = /^[A-Za-z0-9._-]{1,128}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/**
 * Header parameters that point the verifier at a key chosen by whoever made the token. We only
 * ever verify with keys from our own JWKS, and a token of ours never carries them, so their
 * presence alone marks a forgery attempt.
 */
const KEY_INJECTION_HEADERS = ['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256', 'crit', 'b64'];

/** What the verifier takes from its surroundings besides its options (tests replace the clock). */
export interface AccessTokenVerifierRuntime {
  /** The clock, in ms since the epoch; jose reads the same clock for `exp` and `nbf`. */
  now?: () => number;
  /** Told of every lookup in the verified-token cache (a metric in the services). */
  onCacheLookup?: (hit: boolean) => void;
}

/**
 * Verifies access tokens (SPEC §4, §13): ES256 only, key by `kid` from the issuer's JWKS,
 * `iss`, `aud`, `exp`, `nbf` checked, and the claims the platform relies on (`sub`, `tid`,
 * `role`) well formed. Any failure is 401 `invalid_token`, except a token whose only fault
 * is its expiry: 401 `token_expired`, so the app knows to refresh.
 *
 * A token that passed is remembered (VerifiedTokenCache) until min(exp, 60 s later) and answered
 * from memory while its key is still the one the JWKS serves for its `kid`; anything else, and
 * every refusal, goes through the full check each time.
 */
export class AccessTokenVerifier {
  private readonly keys: JwksCache;
  private readonly clockTolerance: number;
  private readonly verified: VerifiedTokenCache | null;
  private readonly now: () => number;
  private readonly onCacheLookup: (hit: boolean) => void;

  constructor(
    private readonly options: AuthGuardOptions,
    runtime: AccessTokenVerifierRuntime = {},
  ) {
    const loader = options.jwks ?? (options.jwksUrl ? remoteJwksLoader(options.jwksUrl) : undefined);
    if (!loader || (options.jwks && options.jwksUrl)) {
      throw new Error('AuthGuardModule: give exactly one of jwksUrl and jwks');
    }
    this.keys = new JwksCache(loader, {
      maxAgeMs: options.jwksMaxAgeMs ?? 300_000,
      cooldownMs: options.jwksCooldownMs ?? 2000,
    });
    this.clockTolerance = options.clockToleranceSeconds ?? 30;
    const cacheSize = options.verifiedTokenCacheSize ?? 10_000;
    this.verified =
      cacheSize > 0
        ? new VerifiedTokenCache({ maxEntries: cacheSize, maxAgeMs: options.verifiedTokenMaxAgeMs ?? 60_000 })
        : null;
    this.now = runtime.now ?? Date.now;
    this.onCacheLookup = runtime.onCacheLookup ?? (() => undefined);
  }

  async verify(token: string): Promise<AuthContext> {
    if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) throw invalidToken();
    if (!this.verified) return this.verifyWithJose(token);
    const digest = tokenDigest(token);
    const known = this.lookUp(digest);
    this.onCacheLookup(known !== undefined);
    return known ?? this.verifyWithJose(token, digest);
  }

  /**
   * The caller of `token` when it was verified recently and nothing has changed since (its `exp`
   * and the 60 s cap not reached, its key still published); undefined means "call verify()".
   * Synchronous, so that the guard can skip the whole passport round for the app's next request.
   */
  remembered(token: string): AuthContext | undefined {
    if (!this.verified || token.length > MAX_TOKEN_LENGTH) return undefined;
    const known = this.lookUp(tokenDigest(token));
    // A miss is counted by the verify() that follows.
    if (known) this.onCacheLookup(true);
    return known;
  }

  private lookUp(digest: string): AuthContext | undefined {
    const cached = this.verified?.get(digest, this.now());
    if (!cached) return undefined;
    if (this.keys.peek(cached.kid) !== cached.key) {
      this.verified?.forget(digest);
      return undefined;
    }
    // A copy per request, as jose's path gives: no request can alter what the next one sees.
    return { userId: cached.auth.userId, tenantId: cached.auth.tenantId, role: cached.auth.role };
  }

  private async verifyWithJose(token: string, digest?: string): Promise<AuthContext> {
    let header: ProtectedHeaderParameters;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw invalidToken();
    }
    // Refused before any key lookup: `alg: none`, HS256 "signed" with our public key, forged kids.
    if (header.alg !== ACCESS_TOKEN_ALG) throw invalidToken('The access token is not signed with ES256.');
    if (KEY_INJECTION_HEADERS.some((name) => name in header)) throw invalidToken();
    if (typeof header.kid !== 'string' || !KID.test(header.kid)) throw invalidToken();

    const key = await this.keys.keyFor(header.kid);
    if (!key) throw invalidToken('The access token was signed with an unknown key.');

    // Read after the key lookup, which may have waited for the JWKS.
    const now = this.now();
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: [ACCESS_TOKEN_ALG],
        issuer: this.options.issuer,
        audience: this.options.audience,
        typ: ACCESS_TOKEN_TYPE,
        requiredClaims: ['exp', 'iat', 'sub', 'jti'],
        clockTolerance: this.clockTolerance,
        currentDate: new Date(now),
      });
      const auth = toAuthContext(payload);
      if (!auth) throw invalidToken();
      if (digest !== undefined && typeof payload.exp === 'number') {
        this.verified?.remember(digest, auth, header.kid, key, payload.exp, now);
      }
      return { ...auth };
    } catch (error) {
      if (error instanceof AuthGuardError) throw error;
      // jose checks typ, iss, aud and nbf before exp, so a JWTExpired means those were right.
      if (error instanceof errors.JWTExpired && error.claim === 'exp' && toAuthContext(error.payload)) {
        throw new AuthGuardError('token_expired', 'The access token expired; refresh it.');
      }
      throw invalidToken();
    }
  }
}

function toAuthContext(payload: JWTPayload): AuthContext | null {
  const { sub, tid, role, jti } = payload as JWTPayload & { tid?: unknown; role?: unknown };
  if (typeof sub !== 'string' || !UUID.test(sub)) return null;
  if (typeof tid !== 'string' || !UUID.test(tid)) return null;
  if (typeof jti !== 'string' || jti.length === 0) return null;
  if (!isRole(role)) return null;
  return { userId: sub, tenantId: tid, role };
}
