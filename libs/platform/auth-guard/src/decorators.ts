import { applyDecorators, createParamDecorator, ExecutionContext, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { invalidToken } from './auth.errors';
import { AuthContext } from './auth.types';
import { AuthenticatedRequest, BearerAuthGuard } from './bearer-auth.guard';

/** Bearer authentication on a controller or a route, documented in OpenAPI. */
export function Authenticated(): MethodDecorator & ClassDecorator {
  return applyDecorators(
    UseGuards(BearerAuthGuard),
    ApiBearerAuth('bearer'),
    ApiUnauthorizedResponse({ description: 'invalid_token or token_expired' }),
  );
}

/** The verified caller, `{userId, tenantId, role}`; only on routes behind BearerAuthGuard. */
export const CurrentAuth = createParamDecorator((_data: unknown, context: ExecutionContext): AuthContext => {
  const auth = context.switchToHttp().getRequest<AuthenticatedRequest>().auth;
  if (!auth) throw invalidToken();
  return { userId: auth.userId, tenantId: auth.tenantId, role: auth.role };
});
