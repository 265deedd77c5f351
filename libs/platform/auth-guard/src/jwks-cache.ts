import { Logger } from '@nestjs/common';
import { importJWK, JSONWebKeySet, JWK } from 'jose';
import { ACCESS_TOKEN_ALG } from './auth.types';
import { AuthGuardError } from './auth.errors';

/** Where a key set comes from: auth-api's JWKS endpoint, or (inside auth-api) its own key store. */
export type JwksLoader = () => Promise<JSONWebKeySet>;

export interface JwksCacheOptions {
  /** A key set older than this is refreshed before use (auth-api serves it with max-age=300). */
  maxAgeMs: number;
  /** At most one refresh per cooldown, however many unknown `kid`s arrive. */
  cooldownMs: number;
}

const unavailable = (): AuthGuardError =>
  new AuthGuardError('auth_unavailable', 'The keys that verify access tokens cannot be fetched right now.');

export type VerifyKey = Awaited<ReturnType<typeof importJWK>>;

export function remoteJwksLoader(url: string, timeoutMs = 3000): JwksLoader {
  return async () => {
    const response = await fetch(url, {
      headers: { accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status !== 200) throw new Error(`JWKS answered ${response.status}`);
    return (await response.json()) as JSONWebKeySet;
  };
}

/** Only public P-256 signing keys can verify an access token; anything else in a set is ignored. */
function usable(jwk: JWK): boolean {
  return (
    jwk.kty === 'EC' &&
    jwk.crv === 'P-256' &&
    typeof jwk.kid === 'string' &&
    jwk.d === undefined &&
    (jwk.alg === undefined || jwk.alg === ACCESS_TOKEN_ALG) &&
    (jwk.use === undefined || jwk.use === 'sig')
  );
}

/**
 * The verification keys by `kid`. Refreshed when older than maxAge and when a token names a `kid`
 * we do not know (a rotation happened), at most once per cooldown so a flood of forged `kid`s
 * cannot turn into a flood of requests to auth-api. A request that arrives inside the cooldown
 * waits for the next refresh instead of failing, so a token signed right after a rotation is
 * never refused. When auth-api is unreachable the last good set keeps serving.
 */
export class JwksCache {
  private readonly logger = new Logger('JwksCache');
  private keys = new Map<string, VerifyKey>();
  /** The public point (`x.y`) each key was imported from. */
  private material = new Map<string, string>();
  private loadedAt = 0;
  private lastAttemptAt = 0;
  private inflight: Promise<void> | null = null;

  constructor(
    private readonly load: JwksLoader,
    private readonly options: JwksCacheOptions,
  ) {}

  /** The key for `kid`, or undefined when the issuer does not publish it. */
  async keyFor(kid: string): Promise<VerifyKey | undefined> {
    if (this.loadedAt === 0) {
      if (!this.inflight && this.coolingDown()) throw unavailable();
      await this.refreshNow();
    } else if (Date.now() - this.loadedAt > this.options.maxAgeMs && (this.inflight || !this.coolingDown())) {
      await this.refreshNow();
    }
    const known = this.keys.get(kid);
    if (known) return known;
    if (!this.inflight) {
      const wait = this.lastAttemptAt + this.options.cooldownMs - Date.now();
      if (wait > 0) {
        const attemptBefore = this.lastAttemptAt;
        await new Promise((resolve) => setTimeout(resolve, wait));
        // Another request refreshed while we waited: its answer is the one we were waiting for.
        if (!this.inflight && this.lastAttemptAt !== attemptBefore) return this.keys.get(kid);
      }
    }
    await this.refreshNow();
    return this.keys.get(kid);
  }

  /**
   * The key now held for `kid`, without refreshing: lets a cached verification check that its key
   * is still published (a refresh that dropped it ends every cached verification it made).
   */
  peek(kid: string): VerifyKey | undefined {
    return this.keys.get(kid);
  }

  private coolingDown(): boolean {
    return Date.now() - this.lastAttemptAt < this.options.cooldownMs;
  }

  private async refreshNow(): Promise<void> {
    this.inflight ??= this.refresh().finally(() => {
      this.inflight = null;
    });
    await this.inflight;
    if (this.loadedAt === 0) throw unavailable();
  }

  private async refresh(): Promise<void> {
    this.lastAttemptAt = Date.now();
    try {
      const set = await this.load();
      if (!set || !Array.isArray(set.keys)) throw new Error('not a JWK set');
      const next = new Map<string, VerifyKey>();
      const nextMaterial = new Map<string, string>();
      for (const jwk of set.keys) {
        if (!usable(jwk)) continue;
        const kid = jwk.kid as string;
        const material = `${jwk.x}.${jwk.y}`;
        // An unchanged key keeps its object, so the verifications cached against it stay usable
        // (a refresh forced by forged kids must not empty the verified-token cache).
        const unchanged = this.material.get(kid) === material ? this.keys.get(kid) : undefined;
        next.set(kid, unchanged ?? (await importJWK({ ...jwk, alg: ACCESS_TOKEN_ALG }, ACCESS_TOKEN_ALG)));
        nextMaterial.set(kid, material);
      }
      this.keys = next;
      this.material = nextMaterial;
      this.loadedAt = Date.now();
    } catch (error) {
      // Stale-if-error: the keys we have are still the right ones for every token not yet rotated.
      this.logger.warn({ err: error }, 'JWKS refresh failed; keeping the last known keys');
    }
  }
}
