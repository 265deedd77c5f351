import { ExecutionContext, Injectable } from '@nestjs/common';
import { AuthGuard, AuthGuardAuthenticateOptions } from '@nestjs/passport';
import { AccessTokenVerifier } from './access-token.verifier';
import { invalidToken } from './auth.errors';
import { AuthContext } from './auth.types';
import { BEARER_STRATEGY, BearerStrategy, VERIFIER_SLOT, VerifierCarrier } from './bearer.strategy';

export interface AuthenticatedRequest {
  auth?: AuthContext;
}

/**
 * Verifies `Authorization: Bearer <access token>` and puts `{userId, tenantId, role}` on
 * `request.auth`. Running it twice on one request (class and method decorators) verifies once.
 */
@Injectable()
export class BearerAuthGuard extends AuthGuard(BEARER_STRATEGY) {
  constructor(
    private readonly verifier: AccessTokenVerifier,
    // Injected so that the strategy is registered with passport before the first request.
    _strategy: BearerStrategy,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthenticatedRequest & VerifierCarrier>();
    if (request.auth) return true;
    request[VERIFIER_SLOT] = this.verifier;
    return (await super.canActivate(context)) as boolean;
  }

  override getAuthenticateOptions(): AuthGuardAuthenticateOptions {
    return { property: 'auth', session: false };
  }

  override handleRequest<TUser = AuthContext>(error: unknown, user: unknown): TUser {
    if (error) throw error;
    if (!user) throw invalidToken();
    return user as TUser;
  }
}
