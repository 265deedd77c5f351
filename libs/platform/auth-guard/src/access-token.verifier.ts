import { decodeProtectedHeader, errors, JWTPayload, jwtVerify, ProtectedHeaderParameters } from 'jose';
import { ACCESS_TOKEN_ALG, ACCESS_TOKEN_TYPE, AuthContext, isRole } from './auth.types';
import { AuthGuardError, invalidToken } from './auth.errors';
import { AuthGuardOptions } from './auth-guard.options';
import { JwksCache, remoteJwksLoader } from './jwks-cache';

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

/**
 * Verifies access tokens (SPEC §4, §13): ES256 only, key by `kid` from the issuer's JWKS,
 * `iss`, `aud`, `exp`, `nbf` checked, and the claims the platform relies on (`sub`, `tid`,
 * `role`) well formed. Any failure is 401 `invalid_token`, except a token whose only fault
 * is its expiry: 401 `token_expired`, so the app knows to refresh.
 */
export class AccessTokenVerifier {
  private readonly keys: JwksCache;
  private readonly clockTolerance: number;

  constructor(private readonly options: AuthGuardOptions) {
    const loader = options.jwks ?? (options.jwksUrl ? remoteJwksLoader(options.jwksUrl) : undefined);
    if (!loader || (options.jwks && options.jwksUrl)) {
      throw new Error('AuthGuardModule: give exactly one of jwksUrl and jwks');
    }
    this.keys = new JwksCache(loader, {
      maxAgeMs: options.jwksMaxAgeMs ?? 300_000,
      cooldownMs: options.jwksCooldownMs ?? 2000,
    });
    this.clockTolerance = options.clockToleranceSeconds ?? 30;
  }

  async verify(token: string): Promise<AuthContext> {
    if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) throw invalidToken();
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

    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: [ACCESS_TOKEN_ALG],
        issuer: this.options.issuer,
        audience: this.options.audience,
        typ: ACCESS_TOKEN_TYPE,
        requiredClaims: ['exp', 'iat', 'sub', 'jti'],
        clockTolerance: this.clockTolerance,
      });
      const auth = toAuthContext(payload);
      if (!auth) throw invalidToken();
      return auth;
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
