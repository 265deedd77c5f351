import 'reflect-metadata';
import { runService } from '@realapp/platform';
import { createCodexWorker } from './app';

void runService('codex-worker', async () => {
  const { app, config } = await createCodexWorker(process.env);
  return { app, port: config.PORT, host: config.HOST };
});
