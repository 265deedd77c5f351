import { Logger } from '@nestjs/common';
import Redis from 'ioredis';

/** Sets the value only when it is newer than what is cached (versions only ever grow). */
const SET_IF_NEWER = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and type(decoded) == 'table' and tonumber(decoded['version']) and tonumber(decoded['version']) >= tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1`;

/** INCR with the window's TTL set by the first use, atomically (no key can outlive its window). */
const INCREMENT_IN_WINDOW = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count`;

/**
 * Redis for the WhatsApp channel: the conversation-state cache and the AI guardrail counters.
 * PostgreSQL stays the source of truth, so every method here degrades instead of throwing:
 * a failed read is a cache miss, a failed write is logged and forgotten. The connection is
 * opened on first use, so a process that never needs it (queue-api) never connects.
 */
export class WhatsAppRedis {
  private readonly logger = new Logger('whatsapp-redis');
  private client: Redis | null = null;
  private lastWarningAt = 0;

  constructor(private readonly url: string) {}

  private get redis(): Redis {
    if (this.client === null) {
      this.client = new Redis(this.url, {
        // Fail a command fast when Redis is away: the database answers instead.
        maxRetriesPerRequest: 1,
        commandTimeout: 1000,
        connectTimeout: 2000,
        enableOfflineQueue: true,
        lazyConnect: false,
      });
      this.client.on('error', (error: Error) => this.warn('redis connection error', error));
    }
    return this.client;
  }

  async getJson<T>(key: string): Promise<T | undefined> {
    try {
      const raw = await this.redis.get(key);
      return raw === null ? undefined : (JSON.parse(raw) as T);
    } catch (error) {
      this.warn('redis read failed; using the database', error);
      return undefined;
    }
  }

  /** Caches `{...value, version}` unless a newer version is already there. */
  async setIfNewer(key: string, value: { version: number }, ttlSeconds: number): Promise<void> {
    try {
      await this.redis.eval(SET_IF_NEWER, 1, key, JSON.stringify(value), String(value.version), String(ttlSeconds));
    } catch (error) {
      this.warn('redis write failed; the database keeps the state', error);
    }
  }

  /** Returns false when the key may still exist (Redis unreachable). */
  async del(...keys: string[]): Promise<boolean> {
    if (keys.length === 0) return true;
    try {
      await this.redis.del(...keys);
      return true;
    } catch (error) {
      this.warn('redis delete failed', error);
      return false;
    }
  }

  /** Counts one more use in a window; null when Redis cannot say (callers then refuse). */
  async increment(key: string, ttlSeconds: number): Promise<number | null> {
    try {
      const count = await this.redis.eval(INCREMENT_IN_WINDOW, 1, key, String(ttlSeconds));
      return typeof count === 'number' ? count : null;
    } catch (error) {
      this.warn('redis counter failed', error);
      return null;
    }
  }

  async decrement(key: string): Promise<void> {
    try {
      await this.redis.decr(key);
    } catch (error) {
      this.warn('redis counter failed', error);
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client !== null) await client.quit().catch(() => client.disconnect());
  }

  /** At most one warning every 10 s: an outage must not flood the logs. */
  private warn(message: string, error: unknown): void {
    const now = Date.now();
    if (now - this.lastWarningAt < 10_000) return;
    this.lastWarningAt = now;
    this.logger.warn({ err: error instanceof Error ? { message: error.message, name: error.name } : String(error) }, message);
  }
}
