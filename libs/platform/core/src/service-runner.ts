import { INestApplication } from '@nestjs/common';
import { ConfigValidationError } from './config/config.loader';

/**
 * The body of every main.ts: build the app, listen, and turn a configuration error into one
 * clear line and exit code 1 instead of a stack trace (SPEC §10).
 */
export async function runService(
  service: string,
  create: () => Promise<{ app: INestApplication; port: number; host: string }>,
): Promise<void> {
  try {
    const { app, port, host } = await create();
    await app.listen(port, host);
    const url = await app.getUrl();
    process.stdout.write(
      `${JSON.stringify({ level: 'info', time: new Date().toISOString(), service, msg: `${service} listening on ${url}`, url })}\n`,
    );
  } catch (error) {
    if (error instanceof ConfigValidationError) {
      process.stderr.write(
        `${JSON.stringify({ level: 'fatal', time: new Date().toISOString(), service, msg: error.message, problems: error.problems })}\n`,
      );
    } else {
      process.stderr.write(
        `${JSON.stringify({ level: 'fatal', time: new Date().toISOString(), service, msg: 'failed to start', err: error instanceof Error ? { message: error.message, stack: error.stack } : String(error) })}\n`,
      );
    }
    process.exit(1);
  }
}
