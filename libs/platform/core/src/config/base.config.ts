import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, ValidateBy } from 'class-validator';
import { RequiredInProduction } from './config.loader';

export const toBoolean = ({ value }: { value: unknown }): unknown =>
  value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value;

/** `true`/`false`, or a hop count: "1" is one proxy, not "trust all" as a boolean "1" would be. */
const toTrustProxy = ({ value }: { value: unknown }): unknown =>
  value === 'true'
    ? true
    : value === 'false'
      ? false
      : typeof value === 'string' && /^\d+$/.test(value)
        ? Number(value)
        : value;

function IsTrustProxy(): PropertyDecorator {
  return ValidateBy({
    name: 'isTrustProxy',
    validator: {
      validate: (value: unknown) =>
        typeof value === 'boolean' ||
        (Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= 10),
      defaultMessage: () => 'must be true, false or a hop count from 0 to 10',
    },
  });
}

/** What every RealApp process needs: where it runs, its database, its broker, how it logs. */
export class BaseConfig {
  @IsIn(['development', 'test', 'production'])
  NODE_ENV: 'development' | 'test' | 'production' = 'development';

  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 0;

  @IsString()
  HOST = '0.0.0.0';

  @Matches(/^postgres(ql)?:\/\//, { message: 'must be a postgres:// URL' })
  @RequiredInProduction()
  DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/realapp';

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  DATABASE_POOL_SIZE = 10;

  @Matches(/^amqps?:\/\//, { message: 'must be an amqp:// URL' })
  @RequiredInProduction()
  AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';

  /** Namespaces exchanges and queues; tests give every suite its own. */
  @Matches(/^[a-z0-9._-]*$/, { message: 'lowercase letters, digits, dot, dash, underscore' })
  AMQP_PREFIX = '';

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  AMQP_PREFETCH = 20;

  @Matches(/^rediss?:\/\//, { message: 'must be a redis:// URL' })
  @RequiredInProduction()
  REDIS_URL = 'redis://127.0.0.1:6379';

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  @IsOptional()
  @IsString()
  DEBUG_LOG_DIR?: string;

  @IsString()
  CORS_ALLOW_ORIGINS = '';

  @IsString()
  @RequiredInProduction()
  JWT_ISSUER = 'https://auth.realapp.local';

  @IsString()
  @RequiredInProduction()
  JWT_AUDIENCE = 'realapp-api';

  /** Milliseconds between outbox polls: how soon rows whose writer died before relaying them are published. */
  @Type(() => Number)
  @IsInt()
  @Min(10)
  OUTBOX_POLL_INTERVAL_MS = 1000;

  /** Delivery attempts of a message before it is dead-lettered (SPEC §7: 3). */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(20)
  MESSAGE_MAX_ATTEMPTS = 3;

  /** First retry delay; each later one is 5× longer. */
  @Type(() => Number)
  @IsInt()
  @Min(10)
  MESSAGE_RETRY_BASE_DELAY_MS = 1000;

  /**
   * Whose `X-Forwarded-For` to believe: `true` every proxy's (the gateway replaces the client's own
   * header, so its left-most entry is the caller), `false` none, or a hop count: the address that
   * many proxies from the service, for a chain whose edge appends instead of replacing.
   */
  @Transform(toTrustProxy)
  @IsTrustProxy()
  TRUST_PROXY: boolean | number = true;

  /**
   * SPEC §3 rate limits, shared by every replica through Redis (docs/adr/0002-rate-limits.md).
   * Unset means on, except under NODE_ENV=test, where a suite that tests them opts in.
   */
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean()
  RATE_LIMIT_ENABLED?: boolean;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  RATE_LIMIT_PER_IP_PER_MINUTE = 1000;

  /** POST/PUT/PATCH/DELETE with a bearer token, per tenant. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  RATE_LIMIT_TENANT_WRITES_PER_MINUTE = 100;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  RATE_LIMIT_TENANT_CONCURRENCY = 10;

  /** Namespaces the limiter's Redis keys (deployments or test suites sharing one Redis). */
  @Matches(/^[A-Za-z0-9._:-]*$/, { message: 'letters, digits, dot, dash, underscore, colon' })
  RATE_LIMIT_KEY_PREFIX = 'rl:';
}
