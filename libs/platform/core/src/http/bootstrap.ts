import { DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import cors from '@fastify/cors';
import { Logger as PinoNestLogger } from 'nestjs-pino';
import type { Logger as PinoLogger } from 'pino';
import { BaseConfig } from '../config/base.config';
import { splitList } from '../config/config.loader';
import { acceptCorrelationId, runWithContext } from '../context/request-context';
import { ROOT_LOGGER } from '../logging/logging.module';
import { MetricsService } from '../metrics/metrics.service';
import { registerIpRateLimit } from '../rate-limit/ip-rate-limit.hook';
import { withRateLimits } from '../rate-limit/rate-limit.module';
import { RateLimitService } from '../rate-limit/rate-limit.service';
import { helmetHeaders, registerSecurityHeaders } from '../security/security-headers';
import { IncidentService } from '../incidents/incident.service';
import { BareRoute, BareRouter } from './bare-routes';
import { ProblemFilter } from './problem.filter';
import { createValidationPipe } from './validation';
import { NoBodyInterceptor } from './no-body.interceptor';

export const BODY_LIMIT_BYTES = 1024 * 1024;
const PROBE_PATH = /^\/(health|ready|metrics)(\/|\?|$)/;

export interface HttpAppOptions {
  service: string;
  config: BaseConfig;
  title: string;
  description: string;
  /** Keep the exact request bytes on `request.rawBody` (signature checks). */
  rawBody?: boolean;
  /** Extra setup on the Fastify instance before Nest registers its routes. */
  beforeInit?: (adapter: FastifyAdapter) => void | Promise<void>;
  /** Routes served by node:http before Fastify (see bare-routes.ts), built once the app exists. */
  bareRoutes?: (app: NestFastifyApplication) => readonly BareRoute[];
}

/**
 * Builds a service's HTTP edge the same way everywhere: Fastify with a 1 MB body limit, the
 * correlation id in AsyncLocalStorage, strict validation, problem+json errors, helmet, CORS from
 * config only, OpenAPI at /docs-json and Prometheus at /metrics.
 */
export async function createHttpApp(
  rootModule: DynamicModule,
  options: HttpAppOptions,
): Promise<NestFastifyApplication> {
  const bare = new BareRouter();
  const adapter = new FastifyAdapter({
    serverFactory: (handler: (request: IncomingMessage, response: ServerResponse) => void) =>
      createServer((request, response) => {
        if (!bare.dispatch(request, response)) handler(request, response);
      }),
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: fastifyTrustProxy(options.config.TRUST_PROXY),
    return503OnClosing: true,
    routerOptions: { maxParamLength: 200 },
  });
  const fastify = adapter.getInstance();
  fastify.addHook('onRequest', (request, reply, done) => {
    const correlationId = acceptCorrelationId(request.headers['x-correlation-id']);
    void reply.header('x-correlation-id', correlationId);
    runWithContext({ correlationId }, done);
  });
  await options.beforeInit?.(adapter);

  // The SPEC §3 rate limits ride along every service's own modules (docs/adr/0002-rate-limits.md).
  const limitedRoot = withRateLimits(rootModule, options.service);
  const app = await NestFactory.create<NestFastifyApplication>(limitedRoot, adapter, {
    bufferLogs: true,
    rawBody: options.rawBody ?? false,
    abortOnError: false,
  });
  app.useLogger(app.get(PinoNestLogger));
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalInterceptors(new NoBodyInterceptor());
  app.useGlobalFilters(new ProblemFilter());
  app.enableShutdownHooks();

  // Helmet's headers, worked out once at boot rather than by the plugin on every request.
  const securityHeaders = await helmetHeaders({ contentSecurityPolicy: false, global: true });
  registerSecurityHeaders(fastify, securityHeaders);
  const origins = splitList(options.config.CORS_ALLOW_ORIGINS);
  await app.register(cors, {
    origin: origins.length ? origins : false,
    credentials: false,
    exposedHeaders: ['X-Correlation-Id', 'Idempotent-Replayed', 'Retry-After'],
  });
  // After helmet and CORS, so that a 429 carries their headers too (docs/adr/0002-rate-limits.md).
  registerIpRateLimit(fastify, app.get(RateLimitService));

  const metrics = app.get(MetricsService);
  const httpDuration = metrics.histogram(
    'http_request_duration_seconds',
    'HTTP request duration by route template and status',
    ['method', 'route', 'status'],
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  );
  // One access line per request, written here rather than by pino-http: its middleware does not
  // run under Nest 12 on Fastify, and this line carries only what on-call needs (no headers, no
  // query string, which may hold tokens). Probes are left out; they would drown everything else.
  const accessLog = (app.get(ROOT_LOGGER) as PinoLogger).child({ context: 'http' });
  const responded = (method: string, url: string, route: string, status: number, elapsedMs: number, correlationId: string): void => {
    httpDuration.observe({ method, route, status: String(status) }, elapsedMs / 1000);
    const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
    if (!accessLog.isLevelEnabled(level) || PROBE_PATH.test(url)) return;
    const path = url.split('?', 1)[0];
    runWithContext({ correlationId }, () =>
      accessLog[level](
        { method, path, route, status, durationMs: Math.round(elapsedMs * 10) / 10 },
        `${method} ${path} ${status}`,
      ),
    );
  };
  fastify.addHook('onResponse', (request, reply, done) => {
    const correlationId = String(reply.getHeader('x-correlation-id') ?? '');
    responded(request.method, request.url, request.routeOptions?.url ?? 'unmatched', reply.statusCode, reply.elapsedTime, correlationId);
    done();
  });

  if (options.bareRoutes) {
    // Services without the incident tracker have nothing to mark.
    let observedMark: object = {};
    try {
      observedMark = app.get(IncidentService, { strict: false }).markRequest();
    } catch {
      observedMark = {};
    }
    bare.bind(options.bareRoutes(app), {
      securityHeaders,
      bodyLimitBytes: BODY_LIMIT_BYTES,
      trustProxy: options.config.TRUST_PROXY,
      responded: (method, route, status, elapsedMs, correlationId) =>
        responded(method, route, route, status, elapsedMs, correlationId),
      observedMark,
    });
    fastify.addHook('preClose', (done) => {
      bare.close();
      done();
    });
  }

  const document = buildOpenApi(app, options);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json', raw: ['json'] });
  return app;
}

export function buildOpenApi(
  app: NestFastifyApplication,
  options: Pick<HttpAppOptions, 'title' | 'description'>,
): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle(options.title)
    .setDescription(options.description)
    .setVersion('1.0.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, 'bearer')
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-Ops-Key' }, 'ops-key')
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-Super-Admin-Key' }, 'super-admin-key')
    .build();
  return SwaggerModule.createDocument(app, config);
}

/** Starts listening and logs where; used by every main.ts. */
export async function listen(app: NestFastifyApplication, config: BaseConfig): Promise<string> {
  await app.listen({ port: config.PORT, host: config.HOST });
  return app.getUrl();
}

/** A hop count as proxy-addr reads one: the first N hops from the socket are proxies. */
function fastifyTrustProxy(trust: boolean | number): boolean | ((address: string, hop: number) => boolean) {
  return typeof trust === 'boolean' ? trust : (_address, hop) => hop < trust;
}
