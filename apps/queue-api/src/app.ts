import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createHttpApp, createRootLogger, Env, loadConfig } from '@realapp/platform';
import { QueueApiModule, SERVICE } from './app.module';
import { QUEUE_API_SECRETS, QueueApiConfig } from './config';

export interface Created {
  app: NestFastifyApplication;
  config: QueueApiConfig;
}

export async function createQueueApi(env: Env): Promise<Created> {
  const config = loadConfig(SERVICE, QueueApiConfig, env, QUEUE_API_SECRETS);
  const logger = createRootLogger({ service: SERVICE, level: config.LOG_LEVEL, debugLogDir: config.DEBUG_LOG_DIR });
  const app = await createHttpApp(QueueApiModule.forRoot(config, logger), {
    service: SERVICE,
    config,
    title: 'RealApp queue-api',
    description: 'The app API: wallet, ledger, top-ups, subscriptions, ads orders, campaign actions, WhatsApp; and the ops API (SPEC §5, §6, §9, §14).',
  });
  return { app, config };
}
