import { DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { OpenAPIObject } from '@nestjs/swagger';
import type { Logger } from 'pino';
import { buildOpenApi, createRootLogger, Env, loadConfig, withRateLimits } from '@realapp/platform';
// The exporter documents the services from their own root modules, so it imports the apps; Nx forbids
// importing apps outright (no tag can allow it), hence the disables, which stay confined to this file.
/* eslint-disable @nx/enforce-module-boundaries */
import { AuthApiModule } from '../../../apps/auth-api/src/app.module';
import { AUTH_API_SECRETS, AuthApiConfig } from '../../../apps/auth-api/src/config';
import { CodexWorkerModule } from '../../../apps/codex-worker/src/app.module';
import { CODEX_WORKER_SECRETS, CodexWorkerConfig } from '../../../apps/codex-worker/src/config';
import { QueueApiModule } from '../../../apps/queue-api/src/app.module';
import { QUEUE_API_SECRETS, QueueApiConfig } from '../../../apps/queue-api/src/config';
import { WebhookGatewayModule } from '../../../apps/webhook-gateway/src/app.module';
import { WEBHOOK_GATEWAY_SECRETS, WebhookGatewayConfig } from '../../../apps/webhook-gateway/src/config';
/* eslint-enable @nx/enforce-module-boundaries */

/**
 * Outside production, loadConfig fills every secret with its SPEC §13 development value. The modules only
 * need a valid config to be composed; nothing connects to anything while the documents are built.
 */
const DOCUMENTATION_ENV: Env = { NODE_ENV: 'development', LOG_LEVEL: 'silent' };

export const SERVICES = ['auth-api', 'queue-api', 'webhook-gateway', 'codex-worker'] as const;
export type Service = (typeof SERVICES)[number];

interface ServiceDefinition {
  /** Same title and description as the service's app.ts gives createHttpApp (the e2e suite compares them). */
  title: string;
  description: string;
  rootModule(env: Env, logger: Logger): DynamicModule;
}

const DEFINITIONS: Record<Service, ServiceDefinition> = {
  'auth-api': {
    title: 'RealApp auth-api',
    description:
      'Tenants, users, sign-up and login, tokens, invitations, super-admin onboarding, JWKS (SPEC §4).',
    rootModule: (env, logger) =>
      AuthApiModule.forRoot(loadConfig('auth-api', AuthApiConfig, env, AUTH_API_SECRETS), logger),
  },
  'queue-api': {
    title: 'RealApp queue-api',
    description:
      'The app API: wallet, ledger, top-ups, subscriptions, ads orders, campaign actions, WhatsApp; and the ops API (SPEC §5, §6, §9, §14).',
    rootModule: (env, logger) =>
      QueueApiModule.forRoot(loadConfig('queue-api', QueueApiConfig, env, QUEUE_API_SECRETS), logger),
  },
  'webhook-gateway': {
    title: 'RealApp webhook-gateway',
    description:
      'Receives provider webhooks: verifies signatures on the raw bytes, stores durably, publishes (SPEC §7).',
    rootModule: (env, logger) =>
      WebhookGatewayModule.forRoot(
        loadConfig('webhook-gateway', WebhookGatewayConfig, env, WEBHOOK_GATEWAY_SECRETS),
        logger,
      ),
  },
  'codex-worker': {
    title: 'RealApp codex-worker',
    description:
      'Consumes events: applies payments, launches and controls campaigns, reconciles top-ups, heartbeats. HTTP only for health, docs and metrics (SPEC §8).',
    rootModule: (env, logger) =>
      CodexWorkerModule.forRoot(
        loadConfig('codex-worker', CodexWorkerConfig, env, CODEX_WORKER_SECRETS),
        logger,
      ),
  },
};

/**
 * A service's OpenAPI document as its /docs-json serves it, built without a database, a broker or a port:
 * Nest's preview mode composes the module graph (controllers, routes, DTO metadata) without instantiating a
 * single provider, which is all Swagger's scanner reads.
 */
export async function buildServiceDocument(service: Service): Promise<OpenAPIObject> {
  const definition = DEFINITIONS[service];
  const logger = createRootLogger({ service, level: 'silent' });
  // Composed as createHttpApp composes it (the rate-limit module included), so the same modules are scanned.
  const app = await NestFactory.create<NestFastifyApplication>(
    withRateLimits(definition.rootModule(DOCUMENTATION_ENV, logger), service),
    new FastifyAdapter(),
    { preview: true, logger: false, abortOnError: false },
  );
  try {
    // A JSON round trip drops the `undefined`s the scanner leaves, as serving the document does.
    return JSON.parse(JSON.stringify(buildOpenApi(app, definition))) as OpenAPIObject;
  } finally {
    await app.close();
  }
}
