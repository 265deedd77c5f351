import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { startConsumers } from '@realapp/messaging';
import { createHttpApp, createRootLogger, Env, loadConfig } from '@realapp/platform';
import { CodexWorkerModule, SERVICE } from './app.module';
import { CODEX_WORKER_SECRETS, CodexWorkerConfig } from './config';

export interface Created {
  app: NestFastifyApplication;
  config: CodexWorkerConfig;
}

export async function createCodexWorker(env: Env): Promise<Created> {
  const config = loadConfig(SERVICE, CodexWorkerConfig, env, CODEX_WORKER_SECRETS);
  const logger = createRootLogger({ service: SERVICE, level: config.LOG_LEVEL, debugLogDir: config.DEBUG_LOG_DIR });
  const app = await createHttpApp(CodexWorkerModule.forRoot(config, logger), {
    service: SERVICE,
    config,
    title: 'RealApp codex-worker',
    description: 'Consumes events: applies payments, launches and controls campaigns, reconciles top-ups, heartbeats. HTTP only for health, docs and metrics (SPEC §8).',
  });
  await startConsumers(app);
  return { app, config };
}
