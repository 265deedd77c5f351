import 'reflect-metadata';
import { runService } from '@realapp/platform';
import { createAuthApi } from './app';

void runService('auth-api', async () => {
  const { app, config } = await createAuthApi(process.env);
  return { app, port: config.PORT, host: config.HOST };
});
