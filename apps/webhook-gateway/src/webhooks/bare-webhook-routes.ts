import { INestApplication } from '@nestjs/common';
import { WebhookProvider } from '@realapp/contracts';
import { AppError, BareRequest, BareRoute, RateLimitService, SIGNATURE_FAILURE_CODES } from '@realapp/platform';
import { RECEIVED } from './webhooks.controller';
import { WebhookIntakeService } from './webhook-intake.service';

const PROVIDERS: ReadonlyArray<readonly [path: string, provider: WebhookProvider]> = [
  ['/v1/webhooks/mercadopago', 'mercadopago'],
  ['/v1/webhooks/stripe', 'stripe'],
  ['/v1/webhooks/meta', 'meta'],
];

/**
 * The three provider POST routes, served by node:http before Fastify (BareRouter): they are the
 * gateway's whole load, and Fastify's routing, hooks and reply plus Nest's pipeline were a large
 * share of its CPU per webhook (docs/performance.md). `WebhooksController` still declares them
 * (path, OpenAPI) and serves the rare request the bare router hands to Fastify (one carrying an
 * `Origin`, for CORS), with the same intake and the same answers. What `@SignedWebhook()` does
 * there is done here: the per-IP limit never refuses a delivery, and a refused signature counts
 * against the address (past the limit, the 401 becomes a 429).
 */
export function webhookBareRoutes(app: INestApplication): BareRoute[] {
  const intake = app.get(WebhookIntakeService);
  const limits = app.get(RateLimitService);
  return PROVIDERS.map(([path, provider]) => ({
    path,
    async handle(request: BareRequest) {
      try {
        await intake.accept(provider, { rawBody: request.body, headers: request.headers, query: request.query });
        return RECEIVED;
      } catch (error) {
        if (error instanceof AppError && SIGNATURE_FAILURE_CODES.has(error.code)) await limits.countFailedSignature(request.ip);
        throw error;
      }
    },
  }));
}
