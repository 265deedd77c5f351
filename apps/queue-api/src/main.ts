import 'reflect-metadata';
import { runService } from '@realapp/platform';
import { createQueueApi } from './app';

void runService('queue-api', async () => {
  const { app, config } = await createQueueApi(process.env);
  return { app, port: config.PORT, host: config.HOST };
});
