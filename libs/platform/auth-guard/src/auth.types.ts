/** Tenant roles (SPEC §4). */
export const ROLES = ['owner', 'admin', 'member'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** Who is calling: put on `request.auth` by BearerAuthGuard (the idempotency interceptor reads it too). */
export interface AuthContext {
  userId: string;
  tenantId: string;
  role: Role;
}

/** The only signature algorithm access tokens may use. */
export const ACCESS_TOKEN_ALG = 'ES256';

/**
 * The JWT `typ` header of access tokens (RFC 9068). Checking it keeps any other JWT the issuer might
 * sign one day from being replayed as an access token.
 */
export const ACCESS_TOKEN_TYPE = 'at+jwt';

/** The claims auth-api puts in every access token (SPEC §4). */
export interface AccessTokenClaims {
  iss: string;
  aud: string;
  sub: string;
  tid: string;
  role: Role;
  exp: number;
  iat: number;
  jti: string;
}
