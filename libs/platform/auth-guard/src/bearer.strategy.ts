import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy as CustomStrategy } from 'passport-custom';
import { AccessTokenVerifier } from './access-token.verifier';
import { invalidToken } from './auth.errors';
import { AuthContext } from './auth.types';

export const BEARER_STRATEGY = 'realapp-bearer';

/** Where BearerAuthGuard leaves its verifier for the strategy (see BearerStrategy). */
export const VERIFIER_SLOT = Symbol('realapp.accessTokenVerifier');

export interface VerifierCarrier {
  [VERIFIER_SLOT]?: AccessTokenVerifier;
}

const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

/** The token of an `Authorization: Bearer` header, or null when the header is missing or malformed. */
export function parseBearer(authorization: unknown): string | null {
  if (typeof authorization !== 'string') return null;
  const match = BEARER.exec(authorization);
  return match ? match[1] : null;
}

export function bearerToken(authorization: unknown): string {
  const token = parseBearer(authorization);
  if (token === null) throw invalidToken('Send Authorization: Bearer <access token>.');
  return token;
}

/**
 * The passport strategy behind BearerAuthGuard. Passport keeps strategies in one process-wide
 * registry by name, so a strategy holding its own verifier would be shared by every Nest app in
 * the process (tests run several, each with its own JWKS). It is therefore stateless: the guard
 * of each app hands it that app's verifier on the request.
 */
@Injectable()
export class BearerStrategy extends PassportStrategy(CustomStrategy, BEARER_STRATEGY) {
  async validate(request: { headers: Record<string, unknown> } & VerifierCarrier): Promise<AuthContext> {
    const verifier = request[VERIFIER_SLOT];
    if (!verifier) throw new Error('BearerStrategy used without BearerAuthGuard');
    return verifier.verify(bearerToken(request.headers.authorization));
  }
}
