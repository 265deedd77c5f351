/*
 * The limits are Lua scripts so that each check is one atomic round trip to Redis, whichever
 * replica makes it: no read-then-write race between replicas, no second call to set a TTL.
 */

/**
 * Fixed window that starts at the first hit: KEYS[1] the counter, ARGV[1] the window in ms.
 * Returns `{count, msUntilReset}`. The TTL is set only when the key is new (or somehow lost it),
 * so hammering a closed window does not push its end further away.
 */
export const HIT_WINDOW = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`;

/**
 * A tenant's request entering: KEYS[1] the tenant's leases (sorted set: member = request, score =
 * expiry on Redis' clock), KEYS[2] the tenant's write window.
 * ARGV: [1] concurrency limit, [2] lease ms, [3] member, [4] '1' for a write, [5] write limit,
 * [6] window ms.
 * Returns `{1, 0, 'ok'}` when admitted (the lease is taken), `{0, retryAfterMs, 'concurrency'|'writes'}`
 * when refused (a slot frees as soon as any of the tenant's requests ends, hence 1 s for concurrency). Expired leases (a replica that crashed mid-request) are dropped first, so a lost
 * release costs a slot for at most one lease time, never forever. A request refused for
 * concurrency does not use up one of the tenant's writes.
 */
export const ENTER_TENANT = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return {0, 1000, 'concurrency'}
end
if ARGV[4] == '1' then
  local count = redis.call('INCR', KEYS[2])
  local ttl = redis.call('PTTL', KEYS[2])
  if ttl < 0 then
    redis.call('PEXPIRE', KEYS[2], ARGV[6])
    ttl = tonumber(ARGV[6])
  end
  if count > tonumber(ARGV[5]) then
    return {0, ttl, 'writes'}
  end
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, 0, 'ok'}
`;
