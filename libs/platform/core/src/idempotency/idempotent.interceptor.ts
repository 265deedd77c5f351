import { applyDecorators, CallHandler, ExecutionContext, Injectable, NestInterceptor, UseInterceptors } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiHeader } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, Observable, of, throwError } from 'rxjs';
import { catchError, mergeMap } from 'rxjs/operators';
import { AppError } from '../http/app-error';
import { IdempotencyService, requestFingerprint } from './idempotency.service';

const KEY_PATTERN = /^[A-Za-z0-9._:-]{1,255}$/;
const HTTP_CODE_METADATA = '__httpCode__';

/** Who the key belongs to: a tenant (bearer token) or an ops caller. */
export function idempotencyScope(request: FastifyRequest): string {
  const auth = (request as FastifyRequest & { auth?: { tenantId?: string } }).auth;
  if (auth?.tenantId) return `tenant:${auth.tenantId}`;
  const principal = (request as FastifyRequest & { principal?: { kind: string } }).principal;
  if (principal) return 'ops';
  return 'anonymous';
}

/**
 * SPEC §3 Idempotency-Key: the first request runs once; an identical repeat gets the stored status
 * and body with `Idempotent-Replayed: true`; another body under the same key → 422; a repeat
 * while the first still runs → 409. Guards run before interceptors, so the tenant is known here.
 */
@Injectable()
export class IdempotentInterceptor implements NestInterceptor {
  constructor(
    private readonly idempotency: IdempotencyService,
    private readonly reflector: Reflector,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const key = request.headers['idempotency-key'];
    if (typeof key !== 'string' || key.length === 0) {
      return throwError(() => new AppError('idempotency_key_required', 400, 'Send an Idempotency-Key header.'));
    }
    if (!KEY_PATTERN.test(key)) {
      return throwError(
        () =>
          new AppError('validation_failed', 400, 'The Idempotency-Key is malformed.', {
            errors: [{ field: 'Idempotency-Key', message: 'must be 1-255 characters of [A-Za-z0-9._:-]' }],
          }),
      );
    }
    const scope = idempotencyScope(request);
    const route = request.routeOptions?.url ?? request.url;
    const fingerprint = requestFingerprint(request.method, `${route}|${JSON.stringify(request.params ?? {})}`, request.body);
    const status =
      this.reflector.get<number | undefined>(HTTP_CODE_METADATA, context.getHandler()) ??
      (request.method === 'POST' ? 201 : 200);

    return from(this.idempotency.claim(scope, key, fingerprint)).pipe(
      mergeMap((claim) => {
        switch (claim.kind) {
          case 'reused':
            return throwError(
              () => new AppError('idempotency_key_reused', 422, 'This Idempotency-Key was used with a different request.'),
            );
          case 'in_progress':
            return throwError(
              () =>
                new AppError('idempotency_request_in_progress', 409, 'A request with this Idempotency-Key is still running.', {
                  headers: { 'retry-after': '1' },
                }),
            );
          case 'replay':
            void reply.status(claim.status).header('idempotent-replayed', 'true');
            return of(claim.body);
          case 'claimed':
            return next.handle().pipe(
              mergeMap((body: unknown) => from(this.idempotency.complete(scope, key, status, body).then(() => body))),
              catchError((error: unknown) =>
                from(this.idempotency.release(scope, key)).pipe(mergeMap(() => throwError(() => error))),
              ),
            );
        }
      }),
    );
  }
}

/** Marks an endpoint **[idem]**: Idempotency-Key required and honoured. */
export function Idempotent(): MethodDecorator & ClassDecorator {
  return applyDecorators(
    UseInterceptors(IdempotentInterceptor),
    ApiHeader({ name: 'Idempotency-Key', required: true, description: 'Unique per operation; replays return the first answer.' }),
  );
}
