import { INestApplication } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import type { FastifyAdapter } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { AppError, ProblemFilter, RateLimitService, SIGNATURE_FAILURE_CODES } from '@realapp/platform';
import { Received, WebhooksController } from './webhooks.controller';

type LeanHandler = (controller: WebhooksController, request: FastifyRequest) => Promise<Received>;

const LEAN: Readonly<Record<string, LeanHandler>> = Object.freeze({
  'POST /v1/webhooks/mercadopago': (controller, request) => controller.mercadoPago(request),
  'POST /v1/webhooks/stripe': (controller, request) => controller.stripe(request),
  'POST /v1/webhooks/meta': (controller, request) => controller.meta(request),
});

interface Bound {
  controller: WebhooksController;
  limits: RateLimitService;
  filter: ProblemFilter;
}

/**
 * The provider webhook routes stay declared by `WebhooksController` (path, OpenAPI, route config)
 * and run its methods, but Fastify calls them directly instead of through Nest's per-request
 * pipeline (interceptor chain, pipes, rxjs): measured on this hot path, that pipeline cost about a
 * fifth of the gateway's throughput (docs/performance.md). What the pipeline did for these routes
 * is done here: a refused signature counts against the address (as `@SignedWebhook()` does), and
 * every error is rendered, logged and observed by the platform's own `ProblemFilter`.
 */
export class LeanWebhookRoutes {
  private bound: Bound | null = null;

  /** Before Nest registers its routes (createHttpApp's `beforeInit`). */
  install(adapter: FastifyAdapter): void {
    adapter.getInstance().addHook('onRoute', (route: RouteOptions) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      if (methods.length !== 1) return;
      const lean = LEAN[`${methods[0]} ${route.url}`];
      if (lean) route.handler = (request, reply) => this.handle(lean, request, reply);
    });
  }

  /** Once the app exists, before it listens. */
  bind(app: INestApplication): void {
    this.bound = { controller: app.get(WebhooksController), limits: app.get(RateLimitService), filter: new ProblemFilter() };
  }

  private async handle(lean: LeanHandler, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const bound = this.bound;
    if (!bound) throw new Error('webhook routes used before the app was bound');
    try {
      const body = await lean(bound.controller, request);
      return reply.status(200).send(body);
    } catch (error) {
      let failure = error;
      if (failure instanceof AppError && SIGNATURE_FAILURE_CODES.has(failure.code)) {
        try {
          await bound.limits.countFailedSignature(request.ip);
        } catch (limited) {
          failure = limited;
        }
      }
      bound.filter.catch(failure, new ExecutionContextHost([request, reply]));
      return reply;
    }
  }
}
