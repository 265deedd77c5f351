import { createSandbox } from '@realapp/provider-sandbox';

export type TestSandbox = Awaited<ReturnType<typeof createSandbox>>;

/**
 * The provider sandbox on a free port for one suite. Its signed notifications go to
 * `webhookBaseUrl` (the suite's webhook-gateway, when it has one); the secrets are the §13 values.
 */
export function startTestSandbox(webhookBaseUrl = 'http://127.0.0.1:9'): Promise<TestSandbox> {
  return createSandbox({ port: 0, webhookBaseUrl });
}
