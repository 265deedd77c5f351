import {
  applyDecorators,
  CanActivate,
  ExecutionContext,
  Injectable,
  SetMetadata,
  UseGuards,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiBearerAuth, ApiForbiddenResponse } from '@nestjs/swagger';
import { AuthGuardError, invalidToken } from './auth.errors';
import { Role } from './auth.types';
import { AuthenticatedRequest, BearerAuthGuard } from './bearer-auth.guard';

export const ROLES_METADATA = 'realapp:roles';

/** Refuses a verified caller whose role is not listed with 403 `forbidden_role` (SPEC §16). */
@Injectable()
export class RolesGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_METADATA, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!roles || roles.length === 0) return true;
    const auth = context.switchToHttp().getRequest<AuthenticatedRequest>().auth;
    if (!auth) throw invalidToken();
    if (!roles.includes(auth.role)) {
      throw new AuthGuardError('forbidden_role', `This needs the role ${roles.join(' or ')}.`);
    }
    return true;
  }
}

/**
 * `@Roles('owner', 'admin')`: bearer authentication plus a role check, in that order whatever
 * other guards the class or method carries.
 */
export function Roles(...roles: Role[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    SetMetadata(ROLES_METADATA, roles),
    UseGuards(BearerAuthGuard, RolesGuard),
    ApiBearerAuth('bearer'),
    ApiForbiddenResponse({ description: `forbidden_role: only ${roles.join(', ')}` }),
  );
}
