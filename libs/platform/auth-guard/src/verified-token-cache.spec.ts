import { randomUUID } from 'node:crypto';
import { AuthContext } from './auth.types';
import { tokenDigest, VerifiedTokenCache } from './verified-token-cache';

const auth = (): AuthContext => ({ userId: randomUUID(), tenantId: randomUUID(), role: 'member' });
const KEY = {};
const T0 = 1_800_000_000_000;
const FAR_EXP = T0 / 1000 + 3600;

describe('VerifiedTokenCache', () => {
  it('keys entries by the SHA-256 of the token, never the token itself', () => {
    const token = 'aaa.bbb.ccc';
    expect(tokenDigest(token)).toHaveLength(44);
    expect(tokenDigest(token)).not.toContain(token);
    expect(tokenDigest(token)).toBe(tokenDigest(token));
    expect(tokenDigest(token)).not.toBe(tokenDigest('aaa.bbb.ccd'));
  });

  it('drops the least recently used entry once full, counting a hit as a use', () => {
    const cache = new VerifiedTokenCache({ maxEntries: 3, maxAgeMs: 60_000 });
    for (const name of ['a', 'b', 'c']) cache.remember(name, auth(), 'k', KEY, FAR_EXP, T0);
    expect(cache.get('a', T0 + 1)).toBeDefined();
    cache.remember('d', auth(), 'k', KEY, FAR_EXP, T0 + 2);
    expect(cache.size).toBe(3);
    expect(cache.get('b', T0 + 3)).toBeUndefined();
    for (const name of ['a', 'c', 'd']) expect(cache.get(name, T0 + 3)).toBeDefined();
  });

  it('stays bounded however many distinct tokens arrive', () => {
    const cache = new VerifiedTokenCache({ maxEntries: 100, maxAgeMs: 60_000 });
    for (let i = 0; i < 1000; i++) cache.remember(`t${i}`, auth(), 'k', KEY, FAR_EXP, T0);
    expect(cache.size).toBe(100);
    expect(cache.get('t899', T0)).toBeUndefined();
    expect(cache.get('t900', T0)).toBeDefined();
  });

  it('keeps an entry until min(exp, verified + max age) on the given clock, and no longer', () => {
    const cache = new VerifiedTokenCache({ maxEntries: 10, maxAgeMs: 60_000 });
    const soon = T0 / 1000 + 20;
    cache.remember('short', auth(), 'k', KEY, soon, T0);
    cache.remember('long', auth(), 'k', KEY, FAR_EXP, T0);
    expect(cache.get('short', soon * 1000 - 1)).toBeDefined();
    expect(cache.get('short', soon * 1000)).toBeUndefined();
    expect(cache.get('long', T0 + 59_999)).toBeDefined();
    expect(cache.get('long', T0 + 60_000)).toBeUndefined();
    // Expired entries leave the cache instead of waiting to be evicted.
    expect(cache.size).toBe(0);
  });

  it('never keeps a token already past its exp, and misses when the clock went back', () => {
    const cache = new VerifiedTokenCache({ maxEntries: 10, maxAgeMs: 60_000 });
    cache.remember('late', auth(), 'k', KEY, T0 / 1000 - 5, T0);
    cache.remember('now', auth(), 'k', KEY, T0 / 1000, T0);
    expect(cache.size).toBe(0);
    cache.remember('ok', auth(), 'k', KEY, FAR_EXP, T0);
    expect(cache.get('ok', T0 - 1)).toBeUndefined();
  });

  it('keeps nothing with a size of 0', () => {
    const cache = new VerifiedTokenCache({ maxEntries: 0, maxAgeMs: 60_000 });
    cache.remember('a', auth(), 'k', KEY, FAR_EXP, T0);
    expect(cache.size).toBe(0);
  });
});
