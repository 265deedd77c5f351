import { generateKeyPairSync, KeyObject, randomUUID } from 'node:crypto';
import { JWK, jwtVerify, SignJWT } from 'jose';
import { AccessTokenVerifier } from './access-token.verifier';
import { AuthGuardOptions } from './auth-guard.options';

jest.mock('jose', () => {
  const actual = jest.requireActual<typeof import('jose')>('jose');
  return { ...actual, jwtVerify: jest.fn(actual.jwtVerify) };
});

const joseCalls = (): number => (jwtVerify as jest.Mock).mock.calls.length;

const ISSUER = 'https://auth.realapp.local';
const AUDIENCE = 'realapp-api';

interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  jwk: JWK;
}

function newKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = `k-${randomUUID()}`;
  return { kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' } };
}

/** A verifier on a key set and a clock that the test moves. */
function setup(options: Partial<AuthGuardOptions> = {}): {
  verifier: AccessTokenVerifier;
  publish: (...keys: SigningKey[]) => void;
  tick: (ms: number) => void;
  now: () => number;
  lookups: boolean[];
} {
  let published: SigningKey[] = [];
  // On a whole second, so that a token's exp (whole seconds) is an exact offset from the start.
  let clock = Math.floor(Date.now() / 1000) * 1000;
  const lookups: boolean[] = [];
  const verifier = new AccessTokenVerifier(
    {
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks: () => Promise.resolve({ keys: published.map((k) => k.jwk) }),
      jwksCooldownMs: 0,
      ...options,
    },
    { now: () => clock, onCacheLookup: (hit) => lookups.push(hit) },
  );
  return {
    verifier,
    publish: (...keys) => {
      published = keys;
    },
    tick: (ms) => {
      clock += ms;
    },
    now: () => clock,
    lookups,
  };
}

async function token(
  key: SigningKey,
  nowMs: number,
  claims: Record<string, unknown> = {},
  expiresInSeconds = 900,
): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  return new SignJWT({ tid: randomUUID(), role: 'member', ...claims })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: key.kid })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(randomUUID())
    .setJti(randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(iat + expiresInSeconds)
    .sign(key.privateKey);
}

describe('AccessTokenVerifier with its verified-token cache', () => {
  beforeEach(() => (jwtVerify as jest.Mock).mockClear());

  it('answers a token seen before from memory, without jose, with the same caller', async () => {
    const { verifier, publish, now, lookups } = setup();
    const key = newKey();
    publish(key);
    const jwt = await token(key, now(), { role: 'admin' });

    const first = await verifier.verify(jwt);
    const again = await Promise.all(Array.from({ length: 5 }, () => verifier.verify(jwt)));
    expect(joseCalls()).toBe(1);
    expect(lookups).toEqual([false, true, true, true, true, true]);
    for (const answer of again) {
      expect(answer).toEqual(first);
      expect(answer).not.toBe(first);
    }
    expect(first.role).toBe('admin');
    // Changing one answer changes nothing for the next request.
    again[0].role = 'owner';
    expect((await verifier.verify(jwt)).role).toBe('admin');
  });

  it('never remembers a refusal', async () => {
    const { verifier, publish, now } = setup();
    const key = newKey();
    publish(key);
    const good = await token(key, now());
    const [header, payload] = good.split('.');
    const forged = `${header}.${payload}.${'A'.repeat(86)}`;
    const badRole = await token(key, now(), { role: 'root' });
    const otherAudience = await new SignJWT({ tid: randomUUID(), role: 'member' })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: key.kid })
      .setIssuer(ISSUER)
      .setAudience('someone-else')
      .setSubject(randomUUID())
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime('15m')
      .sign(key.privateKey);
    for (const bad of [forged, badRole, otherAudience]) {
      for (let i = 0; i < 3; i++)
        await expect(verifier.verify(bad)).rejects.toMatchObject({ code: 'invalid_token' });
    }
    expect(joseCalls()).toBe(9);
    // A valid token with the same header and payload as the forgery is unaffected.
    await expect(verifier.verify(good)).resolves.toBeDefined();
  });

  it('refuses an expired token even though it was cached (exp checked on every hit)', async () => {
    const { verifier, publish, now, tick } = setup({ clockToleranceSeconds: 0 });
    const key = newKey();
    publish(key);
    const jwt = await token(key, now(), {}, 40);
    await verifier.verify(jwt);
    tick(30_000);
    await verifier.verify(jwt);
    expect(joseCalls()).toBe(1);
    tick(10_000);
    await expect(verifier.verify(jwt)).rejects.toMatchObject({ code: 'token_expired', status: 401 });
    await expect(verifier.verify(jwt)).rejects.toMatchObject({ code: 'token_expired' });
    expect(joseCalls()).toBe(3);
  });

  it('leaves the clock tolerance after exp to jose, as without the cache', async () => {
    const { verifier, publish, now, tick } = setup({ clockToleranceSeconds: 30 });
    const key = newKey();
    publish(key);
    const jwt = await token(key, now(), {}, 20);
    await verifier.verify(jwt);
    tick(25_000);
    // Past exp, inside the tolerance: accepted by jose, and not remembered.
    await expect(verifier.verify(jwt)).resolves.toBeDefined();
    await expect(verifier.verify(jwt)).resolves.toBeDefined();
    expect(joseCalls()).toBe(3);
    tick(30_000);
    await expect(verifier.verify(jwt)).rejects.toMatchObject({ code: 'token_expired' });
  });

  it('checks a long-lived token with jose again after at most 60 s', async () => {
    const { verifier, publish, now, tick, lookups } = setup();
    const key = newKey();
    publish(key);
    const jwt = await token(key, now());
    await verifier.verify(jwt);
    tick(59_999);
    await verifier.verify(jwt);
    expect(joseCalls()).toBe(1);
    tick(1);
    await verifier.verify(jwt);
    expect(joseCalls()).toBe(2);
    expect(lookups).toEqual([false, true, false]);
  });

  it('stops answering from memory once a refresh of the key set drops the key', async () => {
    const { verifier, publish, now } = setup();
    const old = newKey();
    const next = newKey();
    publish(old);
    const oldToken = await token(old, now());
    await verifier.verify(oldToken);

    // Rotation that withdraws the old key at once; the first token with the new kid refreshes.
    publish(next);
    await expect(verifier.verify(await token(next, now()))).resolves.toBeDefined();
    expect(verifier.remembered(oldToken)).toBeUndefined();
    await expect(verifier.verify(oldToken)).rejects.toMatchObject({ code: 'invalid_token' });
  });

  it('keeps answering from memory across refreshes that keep the key (a flood of forged kids)', async () => {
    const { verifier, publish, now } = setup();
    const key = newKey();
    publish(key);
    const jwt = await token(key, now());
    await verifier.verify(jwt);
    const forged = { ...newKey(), kid: 'forged' };
    await expect(verifier.verify(await token(forged, now()))).rejects.toMatchObject({
      code: 'invalid_token',
    });
    const before = joseCalls();
    await verifier.verify(jwt);
    expect(joseCalls()).toBe(before);
  });

  it('keeps each verifier to its own issuer keys', async () => {
    const first = setup();
    const second = setup();
    const a = newKey();
    const b = newKey();
    first.publish(a);
    second.publish(b);
    const jwt = await token(a, first.now());
    await first.verifier.verify(jwt);
    await expect(second.verifier.verify(jwt)).rejects.toMatchObject({ code: 'invalid_token' });
  });

  it('answers remembered() synchronously for a token verified before, and only while verify() would', async () => {
    const { verifier, publish, now, tick, lookups } = setup();
    const key = newKey();
    publish(key);
    const jwt = await token(key, now(), { role: 'owner' }, 90);
    expect(verifier.remembered(jwt)).toBeUndefined();
    const first = await verifier.verify(jwt);
    expect(verifier.remembered(jwt)).toEqual(first);
    expect(verifier.remembered(`${jwt}x`)).toBeUndefined();
    tick(60_000);
    expect(verifier.remembered(jwt)).toBeUndefined();
    await verifier.verify(jwt);
    tick(29_999);
    expect(verifier.remembered(jwt)).toEqual(first);
    tick(1);
    // At exp: only jose may say whether the clock tolerance still lets it through.
    expect(verifier.remembered(jwt)).toBeUndefined();
    expect(joseCalls()).toBe(2);
    // Misses are left to the verify() that follows: one count per request.
    expect(lookups).toEqual([false, true, false, true]);
  });

  it('verifies with jose every time when the cache is turned off', async () => {
    const { verifier, publish, now, lookups } = setup({ verifiedTokenCacheSize: 0 });
    const key = newKey();
    publish(key);
    const jwt = await token(key, now());
    for (let i = 0; i < 3; i++) await verifier.verify(jwt);
    expect(joseCalls()).toBe(3);
    expect(verifier.remembered(jwt)).toBeUndefined();
    expect(lookups).toEqual([]);
  });
});
