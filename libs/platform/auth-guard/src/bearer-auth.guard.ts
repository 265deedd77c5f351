import { ExecutionContext, Injectable } from '@nestjs/common';
import { AuthGuard, AuthGuardAuthenticateOptions } from '@nestjs/passport';
import { AccessTokenVerifier } from './access-token.verifier';
import { invalidToken } from './auth.errors';
import { AuthContext } from './auth.types';
import {
  BEARER_STRATEGY,
  BearerStrategy,
  parseBearer,
  VERIFIER_SLOT,
  VerifierCarrier,
} from './bearer.strategy';

export interface AuthenticatedRequest {
  auth?: AuthContext;
}

/**
 * Verifies `Authorization: Bearer <access token>` and puts `{userId, tenantId, role}` on
 * `request.auth`. Running it twice on one request (class and method decorators) verifies once.
 * A token the verifier remembers (AccessTokenVerifier.remembered) is answered without passport;
 * any other goes through BearerStrategy and the full check.
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

  override canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const request = context
      .switchToHttp()
      .getRequest<AuthenticatedRequest & VerifierCarrier & { headers: Record<string, unknown> }>();
    if (request.auth) return true;
    // The app's next request with a token verified moments ago: no passport round, no await.
    const token = parseBearer(request.headers.authorization);
    const known = token === null ? undefined : this.verifier.remembered(token);
    if (known) {
      request.auth = known;
      return true;
    }
    request[VERIFIER_SLOT] = this.verifier;
    return super.canActivate(context) as Promise<boolean>;
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
