import type { FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { ProviderName, asRecord } from './util';
import { WebhookPoster } from './webhook-poster';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Marks a provider API route: its calls are logged and subject to injected faults. */
    provider?: ProviderName;
  }
}

/** Settings every provider needs to answer and to notify. */
export interface SandboxSettings {
  webhookBaseUrl: string;
  mercadoPagoWebhookSecret: string;
  stripeWebhookSecret: string;
  metaAppSecret: string;
}

export interface SandboxContext {
  readonly settings: SandboxSettings;
  /** The sandbox's own origin, for links it hands out (checkout pages, init_point, ticket_url). */
  baseUrl(): string;
  now(): Date;
  readonly poster: WebhookPoster;
}

/** What a route answers: status, JSON body (or text when `contentType` says so) and extra headers. */
export interface RouteResult {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  contentType?: string;
}

export function ok(body: unknown, status = 200, headers?: Record<string, string>): RouteResult {
  return headers === undefined ? { status, body } : { status, body, headers };
}

export function html(markup: string, status = 200): RouteResult {
  return { status, body: markup, contentType: 'text/html; charset=utf-8' };
}

export function redirect(location: string): RouteResult {
  return { status: 303, body: '', headers: { location } };
}

export function sendResult(reply: FastifyReply, result: RouteResult): FastifyReply {
  reply.code(result.status);
  if (result.headers !== undefined) reply.headers(result.headers);
  if (result.contentType !== undefined) reply.type(result.contentType);
  return reply.send(result.body);
}

/** Route handlers return a result instead of driving the reply, which keeps them easy to test and read. */
export function handler(
  fn: (request: FastifyRequest) => RouteResult | Promise<RouteResult>,
): RouteHandlerMethod {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> =>
    sendResult(reply, await fn(request));
}

export function routeParams(request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(asRecord(request.params))) {
    if (typeof value === 'string') out[key] = value;
  }
  return out;
}

export function queryOf(request: FastifyRequest): Record<string, unknown> {
  return asRecord(request.query);
}

export function bodyOf(request: FastifyRequest): Record<string, unknown> {
  return asRecord(request.body);
}

/** Control API errors share one small shape, distinct from every provider's. */
export function controlError(status: number, message: string, errors?: string[]): RouteResult {
  return { status, body: errors === undefined ? { error: { message } } : { error: { message, errors } } };
}
