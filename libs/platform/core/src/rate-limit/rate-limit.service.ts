import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Redis, Result } from 'ioredis';
import { BaseConfig } from '../config/base.config';
import { MetricsService } from '../metrics/metrics.service';
import { RateLimitKind, tooManyRequests } from './rate-limit.errors';
import { ENTER_TENANT, HIT_WINDOW } from './rate-limit.scripts';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    rateLimitHit(key: string, windowMs: number): Result<[number, number], Context>;
    rateLimitEnterTenant(
      leasesKey: string,
      writesKey: string,
      concurrency: number,
      leaseMs: number,
      member: string,
      write: '0' | '1',
      writeLimit: number,
      windowMs: number,
    ): Result<[number, number, string], Context>;
  }
}

export const RATE_LIMIT_SERVICE_NAME = Symbol('RATE_LIMIT_SERVICE_NAME');

/** The SPEC §3 windows are per minute. */
export const RATE_LIMIT_WINDOW_MS = 60_000;

/**
 * How long a concurrency slot may be held without being released: far longer than any request
 * should take, short enough that slots leaked by a crashed replica come back within a minute.
 */
export const CONCURRENCY_LEASE_MS = 60_000;

/**
 * A local Redis answers in well under a millisecond; past this the limiter gives up on the check
 * (and lets the request through) rather than add latency to every request.
 */
const COMMAND_TIMEOUT_MS = 200;
const CONNECT_WAIT_MS = 2000;
const LOG_EVERY_MS = 10_000;

export interface RateLimitDecision {
  allowed: boolean;
  /** How long until the window resets; 0 when allowed. */
  retryAfterMs: number;
}

/** A tenant request's concurrency slot; release it once the work is done (idempotent). */
export interface TenantLease {
  release(): void;
}

const NO_LEASE: TenantLease = { release: () => undefined };

/** Unset means on, except under NODE_ENV=test where each suite opts in (ADR 0002). */
export function rateLimitsEnabled(config: BaseConfig): boolean {
  return config.RATE_LIMIT_ENABLED ?? config.NODE_ENV !== 'test';
}

/**
 * The SPEC §3 limits, shared by every replica through Redis (ADR 0002): a per-IP fixed window on
 * every request, a per-tenant fixed window on writes, and per-tenant concurrency leases. Each
 * check is one atomic script call. When Redis is unreachable the limiter fails open (the request
 * goes through, a warning is logged and `rate_limit_unavailable_total` counts it): a Redis outage
 * must not become an outage of the payment paths.
 */
@Injectable()
export class RateLimitService implements OnModuleInit, OnModuleDestroy {
  readonly enabled: boolean;
  private readonly logger = new Logger('rate-limit');
  private readonly redis: Redis | null;
  private readonly prefix: string;
  private readonly rejected;
  private readonly unavailable;
  private readonly lastLogged = new Map<string, number>();

  constructor(
    private readonly config: BaseConfig,
    metrics: MetricsService,
    @Inject(RATE_LIMIT_SERVICE_NAME) service: string,
  ) {
    this.enabled = rateLimitsEnabled(config);
    this.prefix = config.RATE_LIMIT_KEY_PREFIX;
    this.rejected = metrics.counter(
      'rate_limit_rejected_total',
      'Requests refused with 429 by a rate limit',
      ['limit'],
    );
    this.unavailable = metrics.counter(
      'rate_limit_unavailable_total',
      'Rate-limit checks skipped because Redis did not answer (the request was let through)',
      ['limit'],
    );
    this.redis = this.enabled ? this.connect(service) : null;
  }

  async onModuleInit(): Promise<void> {
    const redis = this.redis;
    if (!redis || redis.status === 'ready') return;
    // Enforce from the first request when Redis is there; start anyway (failing open) when it is not.
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CONNECT_WAIT_MS);
      redis.once('ready', resolve);
      // Refused outright (Redis down): no point waiting for the timeout.
      redis.once('error', () => resolve());
    });
    clearTimeout(timer);
  }

  async onModuleDestroy(): Promise<void> {
    if (!this.redis) return;
    if (this.redis.status !== 'ready') return this.redis.disconnect();
    await this.redis.quit().catch(() => this.redis?.disconnect());
  }

  /** Counts one request from `ip` against the per-IP window. */
  async hitIp(ip: string): Promise<RateLimitDecision> {
    const limit = this.config.RATE_LIMIT_PER_IP_PER_MINUTE;
    const result = await this.run('ip', (redis) =>
      redis.rateLimitHit(this.key('ip', ip), RATE_LIMIT_WINDOW_MS),
    );
    if (!result) return { allowed: true, retryAfterMs: 0 };
    const [count, ttl] = result;
    if (count <= limit) return { allowed: true, retryAfterMs: 0 };
    this.refused('ip', ip);
    return { allowed: false, retryAfterMs: ttl };
  }

  /**
   * SPEC §16: a webhook whose signature failed counts against its source address, so a flood of
   * forged webhooks is cut off at the per-IP limit. Throws 429 `too_many_requests` once the address
   * is over it; correctly signed webhooks never reach this and are never refused.
   */
  async countFailedSignature(ip: string): Promise<void> {
    if (!this.enabled) return;
    const decision = await this.hitIp(ip);
    if (!decision.allowed) throw tooManyRequests('ip', decision.retryAfterMs);
  }

  /**
   * Admits one request of a tenant: takes a concurrency slot and, for a write, counts it against
   * the tenant's write window. Throws 429 `too_many_requests` when either limit is reached.
   */
  async enterTenant(tenantId: string, write: boolean): Promise<TenantLease> {
    if (!this.enabled) return NO_LEASE;
    const leasesKey = this.key('tc', `{${tenantId}}`);
    const member = randomUUID();
    const result = await this.run(write ? 'tenant_writes' : 'tenant_concurrency', (redis) =>
      redis.rateLimitEnterTenant(
        leasesKey,
        this.key('tw', `{${tenantId}}`),
        this.config.RATE_LIMIT_TENANT_CONCURRENCY,
        CONCURRENCY_LEASE_MS,
        member,
        write ? '1' : '0',
        this.config.RATE_LIMIT_TENANT_WRITES_PER_MINUTE,
        RATE_LIMIT_WINDOW_MS,
      ),
    );
    if (!result) return NO_LEASE;
    const [admitted, retryAfterMs, reason] = result;
    if (admitted !== 1) {
      const limit: RateLimitKind = reason === 'writes' ? 'tenant_writes' : 'tenant_concurrency';
      this.refused(limit, tenantId);
      throw tooManyRequests(limit, retryAfterMs);
    }
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        // A release that fails (Redis down) is not retried: the lease expires on its own.
        this.redis
          ?.zrem(leasesKey, member)
          .catch(() => this.unavailable.inc({ limit: 'tenant_concurrency' }));
      },
    };
  }

  private connect(service: string): Redis {
    const redis = new Redis(this.config.REDIS_URL, {
      connectionName: `${service}:rate-limit`,
      // Fail fast instead of queueing: a check that cannot run now is skipped (fail open).
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: COMMAND_TIMEOUT_MS,
      // Under load many checks leave in one write: fewer syscalls, same atomicity per script.
      enableAutoPipelining: true,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    });
    redis.defineCommand('rateLimitHit', { numberOfKeys: 1, lua: HIT_WINDOW });
    redis.defineCommand('rateLimitEnterTenant', { numberOfKeys: 2, lua: ENTER_TENANT });
    redis.on('error', (error: Error) =>
      this.warnOnce('redis', { err: error.message }, 'rate-limit Redis connection error; limits fail open'),
    );
    return redis;
  }

  private async run<T>(limit: RateLimitKind, command: (redis: Redis) => Promise<T>): Promise<T | null> {
    const redis = this.redis;
    if (!redis) return null;
    if (redis.status !== 'ready') {
      this.failOpen(limit, new Error(`Redis connection is ${redis.status}`));
      return null;
    }
    try {
      return await command(redis);
    } catch (error) {
      this.failOpen(limit, error);
      return null;
    }
  }

  private failOpen(limit: RateLimitKind, error: unknown): void {
    this.unavailable.inc({ limit });
    this.warnOnce(
      'unavailable',
      { limit, err: error instanceof Error ? error.message : String(error) },
      'rate limit not enforced: Redis unavailable (failing open)',
    );
  }

  private refused(limit: RateLimitKind, subject: string): void {
    this.rejected.inc({ limit });
    this.warnOnce(`${limit}:${subject}`, { limit, subject }, 'rate limit reached');
  }

  /** At most one line per topic per 10 s: a flood must not turn into a flood of log lines. */
  private warnOnce(topic: string, fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    const last = this.lastLogged.get(topic);
    if (last !== undefined && now - last < LOG_EVERY_MS) return;
    if (this.lastLogged.size > 10_000) this.lastLogged.clear();
    this.lastLogged.set(topic, now);
    this.logger.warn(fields, message);
  }

  private key(kind: string, subject: string): string {
    return `${this.prefix}${kind}:${subject}`;
  }
}
