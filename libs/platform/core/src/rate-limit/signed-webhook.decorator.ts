import {
  applyDecorators,
  CallHandler,
  ExecutionContext,
  Injectable,
  NestInterceptor,
  UseInterceptors,
} from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { from, Observable, throwError } from 'rxjs';
import { catchError, mergeMap } from 'rxjs/operators';
import { AppError } from '../http/app-error';
import { RateLimitService } from './rate-limit.service';
import { SkipIpRateLimit } from './skip-ip-rate-limit.decorator';

/** The SPEC §7/§13 codes of a webhook whose signature did not hold. */
export const SIGNATURE_FAILURE_CODES: ReadonlySet<string> = new Set([
  'invalid_signature',
  'signature_expired',
]);

/**
 * Counts a refusal for a bad signature against the request's address. Once the address is over
 * its limit the refusal becomes a 429 (with Retry-After) instead of the 401.
 */
@Injectable()
export class FailedSignatureInterceptor implements NestInterceptor {
  constructor(private readonly limits: RateLimitService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    return next.handle().pipe(
      catchError((error: unknown) => {
        if (!(error instanceof AppError) || !SIGNATURE_FAILURE_CODES.has(error.code))
          return throwError(() => error);
        return from(this.limits.countFailedSignature(request.ip)).pipe(
          mergeMap(() => throwError(() => error)),
        );
      }),
    );
  }
}

/**
 * A provider's webhook receiver (SPEC §16): a correctly signed delivery is never refused by the
 * per-IP limit (providers send bursts from few addresses, and a refused notification only comes
 * back later as a retry); a delivery refused with `invalid_signature` or `signature_expired`
 * counts against its address, so a flood of forged webhooks is cut off at the per-IP limit.
 */
export function SignedWebhook(): MethodDecorator {
  return applyDecorators(SkipIpRateLimit(), UseInterceptors(FailedSignatureInterceptor));
}
