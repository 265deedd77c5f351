import type { FastifyAdapter } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';
import { BODY_LIMIT_BYTES } from '@realapp/platform';
import { HeaderBag, RawWebhook } from './webhook-intake';

/**
 * Every body this service accepts stays the Buffer that arrived: signatures are computed over
 * those exact bytes, and JSON is parsed only after they verify (a correctly signed malformed body
 * is then a 400, a forged one a 401). The gateway has no other route that takes a body.
 */
export function keepRawBodies(adapter: FastifyAdapter): void {
  adapter.useBodyParser(['application/json', 'text/plain', '*'], false, { bodyLimit: BODY_LIMIT_BYTES }, (_request, body, done) =>
    done(null, body),
  );
}

export function rawWebhookOf(request: FastifyRequest): RawWebhook {
  const body = request.body;
  return {
    rawBody: Buffer.isBuffer(body) ? body : Buffer.alloc(0),
    headers: request.headers as HeaderBag,
    query: (request.query ?? {}) as Record<string, unknown>,
  };
}
