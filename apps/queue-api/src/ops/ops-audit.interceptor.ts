import {
  CallHandler,
  ExecutionContext,
  HttpException,
  Injectable,
  Logger,
  NestInterceptor,
  SetMetadata,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, Observable, throwError } from 'rxjs';
import { catchError, mergeMap } from 'rxjs/operators';
import { ApiKeyPrincipal, AppError, currentCorrelationId } from '@realapp/platform';
import { OpsAuditService } from './ops-audit.service';

const AUDIT_ACTION = 'realapp:ops-audit-action';
const HTTP_CODE_METADATA = '__httpCode__';
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const UNSHAPED = new Set([400, 413, 415]);

export type OpsRequest = FastifyRequest & {
  principal?: ApiKeyPrincipal;
  /** Set by a handler that wrote its own audit row inside its transaction. */
  opsAudited?: boolean;
};

type TargetOf = (request: OpsRequest) => string | null;

/** Names the action in the audit log (default: `<METHOD> <route>`) and, optionally, what it acts on (default: the route's ids). */
export const AuditAction = (action: string, target?: TargetOf): MethodDecorator =>
  SetMetadata(AUDIT_ACTION, { action, target });

/** The tenant a request body names, as an audit target. */
export const bodyTenant: TargetOf = (request) => {
  const tenantId = (request.body as { tenantId?: unknown } | undefined)?.tenantId;
  return typeof tenantId === 'string' ? `tenant:${tenantId.slice(0, 64)}` : null;
};

export function auditActor(request: OpsRequest): string {
  return request.principal ? `ops-key:${request.principal.keyFingerprint}` : 'unknown';
}

/** `tenant:<id>`-style target from the route's parameters (`:id` of a dead letter, an incident, …). */
export function auditTarget(request: OpsRequest): string | null {
  const params = (request.params ?? {}) as Record<string, string>;
  const route = request.routeOptions?.url ?? '';
  const entries = Object.entries(params);
  if (entries.length === 0) return null;
  const noun =
    route.split('/').filter((part) => part && !part.startsWith(':') && part !== 'v1' && part !== 'ops')[0] ??
    'resource';
  return entries.map(([, value]) => `${noun.replace(/-/g, '_').replace(/s$/, '')}:${value}`).join(',');
}

/**
 * Writes every state-changing `/v1/ops/*` call on this service to the audit log, whatever its
 * outcome once it reached the action (an adjustment refused for insufficient balance is worth
 * knowing about too; a body that failed validation is not an action), including
 * idempotent replays and actions other engineers add later (e.g. forcing reconciliation). Reads
 * are not audited: they change nothing and would drown the trail. Handlers that must commit the
 * audit row with their effect write it themselves and set `request.opsAudited`.
 */
@Injectable()
export class OpsAuditInterceptor implements NestInterceptor {
  private readonly logger = new Logger('ops-audit');

  constructor(
    private readonly audit: OpsAuditService,
    private readonly reflector: Reflector,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<OpsRequest>();
    const path = request.routeOptions?.url ?? request.url;
    if (READ_METHODS.has(request.method) || !path.startsWith('/v1/ops/') || !request.principal)
      return next.handle();
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    const meta = this.reflector.get<{ action: string; target?: TargetOf } | undefined>(
      AUDIT_ACTION,
      context.getHandler(),
    );
    const action = meta?.action ?? `${request.method} ${path}`;
    const target = (meta?.target ?? auditTarget)(request);
    const successStatus =
      this.reflector.get<number | undefined>(HTTP_CODE_METADATA, context.getHandler()) ??
      (request.method === 'POST' ? 201 : 200);

    const write = (status: number, extra: Record<string, unknown>): Promise<void> => {
      if (request.opsAudited) return Promise.resolve();
      return this.audit
        .write({
          actor: auditActor(request),
          action,
          target,
          details: { status, body: request.body ?? null, ...extra },
          correlationId: currentCorrelationId() ?? 'unknown',
        })
        .catch((error: unknown) => {
          // The action already happened; losing its audit row must at least be loud.
          this.logger.error({ err: error, action }, 'could not write the ops audit row');
        });
    };

    return next.handle().pipe(
      mergeMap((body: unknown) => {
        const replayed = reply.getHeader('idempotent-replayed') === 'true';
        const status = replayed ? reply.statusCode : successStatus;
        return from(write(status, replayed ? { replayed: true } : {}).then(() => body));
      }),
      catchError((error: unknown) => {
        const status =
          error instanceof AppError ? error.status : error instanceof HttpException ? error.getStatus() : 500;
        // A request refused for its shape (400, 413, 415) never reached the action: nothing to audit.
        if (UNSHAPED.has(status)) return throwError(() => error);
        const code = error instanceof AppError ? error.code : undefined;
        return from(write(status, { error: code ?? 'error' })).pipe(mergeMap(() => throwError(() => error)));
      }),
    );
  }
}
