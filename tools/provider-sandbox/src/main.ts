import { SandboxConfigError, loadSandboxConfig } from './config';
import { createSandbox } from './sandbox';

function logLine(level: 'info' | 'error', msg: string, extra: Record<string, unknown> = {}): void {
  const line = JSON.stringify({
    time: new Date().toISOString(),
    level,
    service: 'provider-sandbox',
    msg,
    ...extra,
  });
  if (level === 'error') console.error(line);
  else console.log(line);
}

async function main(): Promise<void> {
  const config = loadSandboxConfig();
  const sandbox = await createSandbox({
    port: config.port,
    host: config.host,
    publicUrl: config.publicUrl,
    webhookBaseUrl: config.webhookBaseUrl,
    mercadoPagoWebhookSecret: config.mercadoPagoWebhookSecret,
    stripeWebhookSecret: config.stripeWebhookSecret,
    metaAppSecret: config.metaAppSecret,
  });
  // Secrets stay out of the log; only where the sandbox listens and where it notifies.
  logLine('info', 'provider sandbox listening', {
    url: sandbox.url,
    port: sandbox.port,
    webhookBaseUrl: config.webhookBaseUrl,
  });

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    sandbox.close().then(
      () => {
        logLine('info', 'provider sandbox stopped', { signal });
        process.exit(0);
      },
      (error: unknown) => {
        logLine('error', 'provider sandbox failed to stop cleanly', { signal, error: String(error) });
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  const message =
    error instanceof SandboxConfigError || error instanceof Error ? error.message : String(error);
  logLine('error', 'provider sandbox failed to start', { error: message });
  process.exit(1);
});
