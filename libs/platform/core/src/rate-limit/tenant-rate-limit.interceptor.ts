import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { from, Observable } from 'rxjs';
import { finalize, mergeMap } from 'rxjs/operators';
import { RateLimitService } from './rate-limit.service';

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The per-tenant limits. A tenant is known only once the bearer guard has put `request.auth` on
 * the request, and interceptors run after every guard, so this is the earliest point that can
 * see it (and it still runs before the idempotency interceptor claims a key). The concurrency
 * slot is held until the handler settles, success or error: a request whose client went away
 * still occupies the server until its work ends.
 */
@Injectable()
export class TenantRateLimitInterceptor implements NestInterceptor {
  constructor(private readonly limits: RateLimitService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (!this.limits.enabled || context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<FastifyRequest & { auth?: { tenantId?: string } }>();
    const tenantId = request.auth?.tenantId;
    if (!tenantId) return next.handle();
    return from(this.limits.enterTenant(tenantId, WRITE_METHODS.has(request.method))).pipe(
      mergeMap((lease) => next.handle().pipe(finalize(() => lease.release()))),
    );
  }
}
