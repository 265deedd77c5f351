import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import type { FastifyRequest } from 'fastify';
import { Observable } from 'rxjs';
import { FieldError, validationFailed } from './app-error';

/** Parameters through which a handler reads the body itself: it is then the handler's to judge. */
const READS_BODY = new Set<number>([RouteParamtypes.BODY, RouteParamtypes.RAW_BODY, RouteParamtypes.REQUEST]);

/**
 * Whether a handler declares no way of reading the body. A custom parameter decorator does not
 * count: ours (`@CurrentAuth()`) reads the verified caller, and one that needs the body should
 * take it through `@Body()`, where the DTO's whitelist judges it.
 */
function takesNoBody(context: ExecutionContext): boolean {
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, context.getClass(), context.getHandler().name) ??
    {}) as Record<string, unknown>;
  return Object.keys(args).every((key) => {
    const [type] = key.split(':');
    return !/^\d+$/.test(type) || !READS_BODY.has(Number(type));
  });
}

/**
 * SPEC §3, unknown fields → 400, for the commands that take no body at all (pause, resume, stop,
 * cancel, replay…): a DTO's whitelist refuses unknown fields only where there is a DTO. No body and
 * an empty object are both fine; anything else is refused before the handler runs, after the
 * guards (so an unauthenticated caller still gets 401) and before the idempotency interceptor, so
 * a refusal claims no key and writes nothing.
 */
@Injectable()
export class NoBodyInterceptor implements NestInterceptor {
  private readonly decided = new WeakMap<object, boolean>();

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const body = context.switchToHttp().getRequest<FastifyRequest>().body;
    if (body === undefined || body === null) return next.handle();
    const handler = context.getHandler();
    let noBody = this.decided.get(handler);
    if (noBody === undefined) {
      noBody = takesNoBody(context);
      this.decided.set(handler, noBody);
    }
    if (!noBody) return next.handle();
    if (typeof body === 'object' && !Array.isArray(body) && !Buffer.isBuffer(body)) {
      const fields = Object.keys(body);
      if (fields.length === 0) return next.handle();
      throw validationFailed(
        fields.map((field): FieldError => ({ field, message: 'unknown field' })),
        'This endpoint takes no body.',
      );
    }
    throw validationFailed(
      [{ field: '', message: 'this endpoint takes no body' }],
      'This endpoint takes no body.',
    );
  }
}
