import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { acceptCorrelationId, currentCorrelationId } from '../context/request-context';
import { sendProblem } from '../http/problem.filter';
import { tooManyRequests } from './rate-limit.errors';
import { RateLimitService } from './rate-limit.service';
import { skipsIpRateLimit } from './skip-ip-rate-limit.decorator';

function correlationIdOf(request: FastifyRequest, reply: FastifyReply): string {
  const sent = reply.getHeader('x-correlation-id');
  return (
    currentCorrelationId() ??
    (typeof sent === 'string' ? sent : acceptCorrelationId(request.headers['x-correlation-id']))
  );
}

/**
 * The per-IP limit as a Fastify `onRequest` hook: it runs before the body is read or parsed, so a
 * flood costs one Redis round trip per request and nothing else. Register it after helmet and
 * CORS so that a 429 carries the same headers as any other answer.
 */
export function registerIpRateLimit(fastify: FastifyInstance, limits: RateLimitService): void {
  if (!limits.enabled) return;
  fastify.addHook('onRequest', async (request, reply) => {
    if (skipsIpRateLimit(request.routeOptions.config)) return;
    const decision = await limits.hitIp(request.ip);
    if (decision.allowed) return;
    sendProblem(reply, tooManyRequests('ip', decision.retryAfterMs), correlationIdOf(request, reply));
    return reply;
  });
}
