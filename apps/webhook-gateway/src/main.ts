import 'reflect-metadata';
import { runService } from '@realapp/platform';
import { createWebhookGateway } from './app';

void runService('webhook-gateway', async () => {
  const { app, config } = await createWebhookGateway(process.env);
  return { app, port: config.PORT, host: config.HOST };
});
