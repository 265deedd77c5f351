import { generateKeyPairSync } from 'node:crypto';
import { JSONWebKeySet, JWK } from 'jose';
import { AuthGuardError } from './auth.errors';
import { JwksCache } from './jwks-cache';

const aKey = (kid: string): JWK => ({
  ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }),
  kid,
  alg: 'ES256',
  use: 'sig',
});

/** A loader whose answers the test controls, counting calls. */
function loader(initial: JWK[]): {
  load: () => Promise<JSONWebKeySet>;
  calls: () => number;
  set: (keys: JWK[] | Error) => void;
} {
  let current: JWK[] | Error = initial;
  let calls = 0;
  return {
    load: () => {
      calls++;
      return current instanceof Error ? Promise.reject(current) : Promise.resolve({ keys: current });
    },
    calls: () => calls,
    set: (keys) => {
      current = keys;
    },
  };
}

describe('JwksCache', () => {
  it('loads once and serves known kids from memory', async () => {
    const source = loader([aKey('a'), aKey('b')]);
    const cache = new JwksCache(source.load, { maxAgeMs: 60_000, cooldownMs: 50 });
    await Promise.all([cache.keyFor('a'), cache.keyFor('b'), cache.keyFor('a')]);
    expect(await cache.keyFor('b')).toBeDefined();
    expect(source.calls()).toBe(1);
  });

  it('ignores keys that cannot verify ES256 tokens (private, other curves, encryption keys)', async () => {
    const rsa = {
      ...generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }),
      kid: 'rsa',
    };
    const ecPrivate = {
      ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
      kid: 'private',
    };
    const source = loader([
      rsa,
      ecPrivate,
      { ...aKey('enc'), use: 'enc' },
      { ...aKey('hs'), alg: 'HS256' },
      aKey('good'),
    ]);
    const cache = new JwksCache(source.load, { maxAgeMs: 60_000, cooldownMs: 10 });
    expect(await cache.keyFor('good')).toBeDefined();
    for (const kid of ['rsa', 'private', 'enc', 'hs']) expect(await cache.keyFor(kid)).toBeUndefined();
  });

  it('refreshes on an unknown kid at most once per cooldown, waiting for it rather than failing', async () => {
    const source = loader([aKey('old')]);
    const cache = new JwksCache(source.load, { maxAgeMs: 60_000, cooldownMs: 200 });
    await cache.keyFor('old');
    source.set([aKey('old'), aKey('new')]);
    const started = Date.now();
    const [found, ...unknown] = await Promise.all([
      cache.keyFor('new'),
      ...Array.from({ length: 20 }, (_, i) => cache.keyFor(`forged-${i}`)),
    ]);
    expect(found).toBeDefined();
    expect(unknown.every((key) => key === undefined)).toBe(true);
    expect(source.calls()).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });

  it('keeps the object of an unchanged key across refreshes, and drops a withdrawn one from peek()', async () => {
    const same = aKey('same');
    const source = loader([same, aKey('other')]);
    const cache = new JwksCache(source.load, { maxAgeMs: 60_000, cooldownMs: 0 });
    const before = await cache.keyFor('same');
    expect(cache.peek('same')).toBe(before);
    expect(cache.peek('unknown')).toBeUndefined();

    // A refresh forced by an unknown kid, the set otherwise unchanged.
    expect(await cache.keyFor('forged')).toBeUndefined();
    expect(source.calls()).toBe(2);
    expect(cache.peek('same')).toBe(before);

    // Same kid, other key material: a new key object.
    source.set([{ ...aKey('same') }]);
    expect(await cache.keyFor('forged-again')).toBeUndefined();
    expect(cache.peek('same')).toBeDefined();
    expect(cache.peek('same')).not.toBe(before);
    expect(cache.peek('other')).toBeUndefined();
  });

  it('keeps serving the last good keys when the issuer is unreachable', async () => {
    const source = loader([aKey('a')]);
    const cache = new JwksCache(source.load, { maxAgeMs: 1, cooldownMs: 1 });
    await cache.keyFor('a');
    source.set(new Error('connection refused'));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await cache.keyFor('a')).toBeDefined();
    expect(source.calls()).toBeGreaterThanOrEqual(2);
  });

  it('answers auth_unavailable when no key set was ever fetched, without retrying inside the cooldown', async () => {
    const source = loader([]);
    source.set(new Error('connection refused'));
    const cache = new JwksCache(source.load, { maxAgeMs: 60_000, cooldownMs: 10_000 });
    await expect(cache.keyFor('a')).rejects.toMatchObject({ code: 'auth_unavailable', status: 503 });
    await expect(cache.keyFor('a')).rejects.toBeInstanceOf(AuthGuardError);
    expect(source.calls()).toBe(1);
  });
});
