import { generateKeyPairSync, KeyObject, randomUUID, sign } from 'node:crypto';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';

export interface TestJwksOptions {
  /** Default `https://auth.realapp.local` (BaseConfig JWT_ISSUER). */
  issuer?: string;
  /** Default `realapp-api` (BaseConfig JWT_AUDIENCE). */
  audience?: string;
}

export interface TestTokenOptions {
  /** Default: a new UUID per token. */
  userId?: string;
  /** Default: a new UUID per token (each test makes its own tenant). */
  tenantId?: string;
  /** Default `owner`. */
  role?: 'owner' | 'admin' | 'member';
  /** Default 900; negative for an already expired token. */
  expiresInSeconds?: number;
}

/** A public signing key as published in a JWKS. */
export interface TestJwk {
  kty: string;
  crv: string;
  x: string;
  y: string;
  kid: string;
  alg: string;
  use: string;
}

export interface TestJwks {
  /** The JWKS URL to give the guard (`JWKS_URL`). */
  url: string;
  issuer: string;
  audience: string;
  /** The `kid` of the current signing key. */
  readonly kid: string;
  /** The published keys (public halves only). */
  readonly keys: readonly TestJwk[];
  /** How many times the JWKS was fetched (caching tests). */
  readonly fetches: number;
  /** An access token exactly like auth-api's (ES256, `typ: at+jwt`, `kid`, SPEC §4 claims). */
  issue(options?: TestTokenOptions): string;
  /** Signs any header and claims with the current key (attack and edge-case tests). */
  sign(claims: Record<string, unknown>, header?: Record<string, unknown>): string;
  /** Adds a new signing key (published at once) and signs with it from now on; returns its kid. */
  rotate(): string;
  close(): Promise<void>;
}

interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  jwk: TestJwk;
}

const b64url = (value: string | Buffer): string => Buffer.from(value).toString('base64url');

function newKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = `test-${randomUUID()}`;
  const exported = publicKey.export({ format: 'jwk' });
  return {
    kid,
    privateKey,
    jwk: {
      kty: 'EC',
      crv: 'P-256',
      x: String(exported.x),
      y: String(exported.y),
      kid,
      alg: 'ES256',
      use: 'sig',
    },
  };
}

function signCompact(
  key: SigningKey,
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  // JWS ES256 wants the raw r||s signature (IEEE P1363), not DER.
  const signature = sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

/**
 * A stand-in for auth-api's token side: an ES256 key pair, its JWKS on a local port, and access
 * tokens signed like auth-api signs them. Apps' integration tests point JWKS_URL at `url` and
 * send `Authorization: Bearer ${jwks.issue({tenantId})}` instead of starting auth-api.
 */
export async function startTestJwks(options: TestJwksOptions = {}): Promise<TestJwks> {
  const issuer = options.issuer ?? 'https://auth.realapp.local';
  const audience = options.audience ?? 'realapp-api';
  const keys: SigningKey[] = [newKey()];
  let fetches = 0;

  const server: Server = createServer((request, response) => {
    if (request.method === 'GET' && request.url === '/.well-known/jwks.json') {
      fetches++;
      response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' });
      response.end(JSON.stringify({ keys: keys.map((k) => k.jwk) }));
      return;
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const current = (): SigningKey => keys[keys.length - 1];

  const signWith = (claims: Record<string, unknown>, header: Record<string, unknown> = {}): string =>
    signCompact(current(), { alg: 'ES256', typ: 'at+jwt', kid: current().kid, ...header }, claims);

  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    issuer,
    audience,
    get kid() {
      return current().kid;
    },
    get keys() {
      return keys.map((k) => k.jwk);
    },
    get fetches() {
      return fetches;
    },
    issue(token: TestTokenOptions = {}): string {
      const iat = Math.floor(Date.now() / 1000);
      return signWith({
        iss: issuer,
        aud: audience,
        sub: token.userId ?? randomUUID(),
        tid: token.tenantId ?? randomUUID(),
        role: token.role ?? 'owner',
        iat,
        exp: iat + (token.expiresInSeconds ?? 900),
        jti: randomUUID(),
      });
    },
    sign: signWith,
    rotate(): string {
      keys.push(newKey());
      return current().kid;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
