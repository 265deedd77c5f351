import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { startConsumers } from '@realapp/messaging';
import { createHttpApp, createRootLogger, Env, loadConfig } from '@realapp/platform';
import { WebhookGatewayModule, SERVICE } from './app.module';
import { webhookBareRoutes } from './webhooks/bare-webhook-routes';
import { keepRawBodies } from './webhooks/raw-body';
import { WEBHOOK_GATEWAY_SECRETS, WebhookGatewayConfig } from './config';

export interface Created {
  app: NestFastifyApplication;
  config: WebhookGatewayConfig;
}

export async function createWebhookGateway(env: Env): Promise<Created> {
  const config = loadConfig(SERVICE, WebhookGatewayConfig, env, WEBHOOK_GATEWAY_SECRETS);
  const logger = createRootLogger({ service: SERVICE, level: config.LOG_LEVEL, debugLogDir: config.DEBUG_LOG_DIR });
  const app = await createHttpApp(WebhookGatewayModule.forRoot(config, logger), {
    service: SERVICE,
    config,
    title: 'RealApp webhook-gateway',
    description: 'Receives provider webhooks: verifies signatures on the raw bytes, stores durably, publishes (SPEC §7).',
    beforeInit: (adapter) => {
      // Webhook signatures are checked on the exact bytes: bodies stay Buffers (see raw-body.ts).
      keepRawBodies(adapter);
    },
    bareRoutes: webhookBareRoutes,
  });
  await startConsumers(app);
  return { app, config };
}
