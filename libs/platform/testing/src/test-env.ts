import { AMQP_URL, REDIS_URL } from './test-database';
import { uniquePrefix } from './test-database';

/**
 * Environment for a service under test: its own database and broker prefix, fast retries, quiet
 * logs (LOG_LEVEL=silent unless TEST_LOG_LEVEL says otherwise).
 */
export function testEnv(databaseUrl: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: '5',
    AMQP_URL,
    AMQP_PREFIX: uniquePrefix(),
    REDIS_URL,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    OUTBOX_POLL_INTERVAL_MS: '200',
    MESSAGE_RETRY_BASE_DELAY_MS: '100',
    ...overrides,
  };
}
