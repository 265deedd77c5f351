import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { acceptCorrelationId, runWithContext } from '../context/request-context';
import type { SecurityHeaders } from '../security/security-headers';
import { AppError, payloadTooLarge } from './app-error';
import { ProblemFilter, toProblem } from './problem.filter';
import { PROBLEM_CONTENT_TYPE } from './problem';

/** What a bare route's handler sees of a request: the exact body bytes and nothing parsed from them. */
export interface BareRequest {
  readonly query: Readonly<Record<string, string | string[] | undefined>>;
  readonly headers: IncomingHttpHeaders;
  /** The caller's address, read as Fastify reads `request.ip` under the same TRUST_PROXY. */
  readonly ip: string;
  readonly body: Buffer;
}

/**
 * A POST route served by node:http directly, before Fastify sees the request. For endpoints whose cost
 * per request is the whole point (provider webhooks: thousands a second, no auth, no DTO): the
 * handler resolves to the JSON body of a 200, or throws, and the answer is rendered as the
 * platform renders every answer (see `BareRouter`).
 */
export interface BareRoute {
  /** Exact path, no parameters. */
  readonly path: string;
  handle(request: BareRequest): Promise<unknown>;
}

/** What the router keeps doing for a bare request that the Fastify hooks did for every other. */
export interface BareRouterHooks {
  securityHeaders: SecurityHeaders;
  bodyLimitBytes: number;
  trustProxy: boolean | number;
  /** Metrics and the access line, as for every other request (bootstrap's onResponse hook). */
  responded(method: string, route: string, status: number, elapsedMs: number, correlationId: string): void;
  /** Extra properties of the request ProblemFilter's observers receive (the incident tracker's mark). */
  observedMark: object;
}

// As Fastify sends them, so that a client sees no difference between the two paths.
const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';
const PROBLEM_JSON_CONTENT_TYPE = `${PROBLEM_CONTENT_TYPE}; charset=utf-8`;

function clientIp(request: IncomingMessage, trustProxy: boolean | number): string {
  const socketAddress = request.socket.remoteAddress ?? '';
  if (trustProxy === false || trustProxy === 0) return socketAddress;
  const forwarded = request.headers['x-forwarded-for'];
  const header = Array.isArray(forwarded) ? forwarded.join(',') : forwarded;
  if (!header) return socketAddress;
  // Nearest first, as proxy-addr walks them: the socket's peer, then the header right to left.
  const chain = [
    socketAddress,
    ...header
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part.length > 0)
      .reverse(),
  ];
  // Trusting every proxy, Fastify takes the furthest address; trusting N hops, the one N away.
  return chain[trustProxy === true ? chain.length - 1 : Math.min(trustProxy, chain.length - 1)];
}

/**
 * Serves the bare routes from the HTTP server's own request handler (Fastify's `serverFactory`)
 * and hands every other request to Fastify. A request is served bare only when it is a POST to one
 * of the routes and carries no `Origin` (a browser's request goes through Fastify's CORS handling:
 * providers do not send one). What the Fastify hooks do for every request is done here too: the
 * correlation id (accepted or made, echoed, in AsyncLocalStorage), helmet's headers, the 1 MB
 * body limit (413), problem+json errors seen by ProblemFilter's observers, a 503 while closing,
 * the request duration metric and the access line. Measured on the webhook path, Fastify's
 * routing, hooks and reply cost a sixth of the gateway's CPU (docs/performance.md).
 */
export class BareRouter {
  private routes: ReadonlyMap<string, BareRoute> = new Map();
  private hooks: BareRouterHooks | null = null;
  private closing = false;

  /** Until bound, every request goes to Fastify. */
  bind(routes: readonly BareRoute[], hooks: BareRouterHooks): void {
    this.routes = new Map(routes.map((route) => [route.path, route]));
    this.hooks = hooks;
  }

  /** The server is closing: bare requests are answered 503, as Fastify's `return503OnClosing` does. */
  close(): void {
    this.closing = true;
  }

  /** Serves the request if it is bare; false hands it to Fastify. */
  dispatch(request: IncomingMessage, response: ServerResponse): boolean {
    if (request.method !== 'POST' || this.hooks === null || request.headers.origin !== undefined) return false;
    const url = request.url ?? '';
    const mark = url.indexOf('?');
    const path = mark === -1 ? url : url.slice(0, mark);
    const route = this.routes.get(path);
    if (!route) return false;
    const hooks = this.hooks;
    const started = performance.now();
    const correlationId = acceptCorrelationId(request.headers['x-correlation-id']);
    response.setHeader('x-correlation-id', correlationId);
    const { set, removed } = hooks.securityHeaders;
    for (let i = 0; i < set.length; i++) response.setHeader(set[i][0], set[i][1]);
    for (let i = 0; i < removed.length; i++) response.removeHeader(removed[i]);
    response.once('finish', () =>
      hooks.responded('POST', route.path, response.statusCode, performance.now() - started, correlationId),
    );
    runWithContext({ correlationId }, () => this.serve(route, request, response, hooks, url, mark, correlationId));
    return true;
  }

  private serve(
    route: BareRoute,
    request: IncomingMessage,
    response: ServerResponse,
    hooks: BareRouterHooks,
    url: string,
    mark: number,
    correlationId: string,
  ): void {
    const fail = (error: unknown): void => sendProblem(response, route, hooks, error, correlationId);
    if (this.closing) {
      response.setHeader('connection', 'close');
      fail(new AppError('service_unavailable', 503, 'The service is shutting down; retry.'));
      return;
    }
    const limit = hooks.bodyLimitBytes;
    if (Number(request.headers['content-length'] ?? 0) > limit) {
      request.resume();
      fail(payloadTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    let refused = false;
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received <= limit) {
        chunks.push(chunk);
        return;
      }
      // Answer now and let the rest of the body drain, so the connection can serve the next request.
      refused = true;
      request.removeListener('data', onData);
      request.resume();
      fail(payloadTooLarge());
    };
    request.on('data', onData);
    request.once('end', () => {
      if (refused) return;
      const bare: BareRequest = {
        query: mark === -1 ? {} : parseQuery(url.slice(mark + 1)),
        headers: request.headers,
        ip: clientIp(request, hooks.trustProxy),
        body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received),
      };
      // Stream events run outside the context the request entered with: the handler gets it again.
      runWithContext({ correlationId }, () => {
        let handled: Promise<unknown>;
        try {
          handled = route.handle(bare);
        } catch (error) {
          fail(error);
          return;
        }
        handled.then((body) => {
          const text = JSON.stringify(body);
          response.writeHead(200, { 'content-type': JSON_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
          response.end(text);
        }, fail);
      });
    });
  }
}

/** A refusal, rendered as Fastify renders one, and reported as ProblemFilter reports its own. */
function sendProblem(
  response: ServerResponse,
  route: BareRoute,
  hooks: BareRouterHooks,
  error: unknown,
  correlationId: string,
): void {
  if (response.headersSent || response.destroyed) return;
  const { problem: body, headers } = toProblem(error, correlationId);
  const text = JSON.stringify(body);
  for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
  response.writeHead(body.status, { 'content-type': PROBLEM_JSON_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
  response.end(text);
  ProblemFilter.report(error, body, { method: 'POST', routeOptions: { url: route.path }, ...hooks.observedMark });
}
