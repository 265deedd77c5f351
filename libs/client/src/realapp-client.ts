import createClient, { Client, MaybeOptionalInit, Middleware } from 'openapi-fetch';
import type { PathsWithMethod, RequiredKeysOf } from 'openapi-typescript-helpers';
import { RealAppError } from './errors';
import type { paths } from './generated/api';
import { IDEMPOTENT_OPERATIONS } from './generated/idempotent-operations';
import { newIdempotencyKey } from './idempotency';
import { isTokenPair, MemoryTokenStorage, TokenPair, TokenStorage } from './tokens';

export interface RealAppClientOptions {
  /** The API gateway's origin (SPEC §15), e.g. `https://api.realapp.com.br` or `http://192.168.0.10:8080`. */
  baseUrl: string;
  /** Where the session lives; memory by default. */
  tokens?: TokenStorage;
  /** Defaults to the global fetch (React Native, browsers, Node ≥ 18). */
  fetch?: (request: Request) => Promise<Response>;
  /** Sent with every request, e.g. `{'X-Ops-Key': …}` for an ops script. */
  headers?: Record<string, string>;
  /** Called once the refresh token is refused: the session is already cleared; send the user to sign in. */
  onSessionExpired?: () => void | Promise<void>;
  /** Makes the Idempotency-Key of each [idem] call; a UUID v4 by default. */
  idempotencyKey?: () => string;
  /** `METHOD /path/{template}` of the [idem] calls; the generated list (from the OpenAPI documents) by default. */
  idempotentOperations?: ReadonlySet<string>;
}

/** The 401 codes that mean "get a new access token and try again" (SPEC §13). */
const REFRESHABLE_CODES = new Set(['invalid_token', 'token_expired']);
const REFRESH_PATH = '/v1/auth/refresh';

type Paths = paths;
/** openapi-fetch's own rule: the options argument is required exactly when it has required keys. */
type InitParam<Init> =
  RequiredKeysOf<Init> extends never
    ? [(Init & { [key: string]: unknown })?]
    : [Init & { [key: string]: unknown }];
/** 204 answers have no body: those calls resolve to void. */
type Resolved<T> = [T] extends [never] ? void : T;

/**
 * The typed client of the RealApp platform for the Expo app: one origin (the gateway), the session kept in
 * a TokenStorage and refreshed on 401 `invalid_token`/`token_expired` (one refresh at a time, the request
 * retried once), an Idempotency-Key on every [idem] call, and every failure thrown as a RealAppError.
 *
 * `client.GET('/v1/billing/wallet')` resolves to the body, typed from the OpenAPI documents;
 * `client.api` is the underlying openapi-fetch client when the response itself is needed (headers such as
 * `Idempotent-Replayed`); its errors are RealAppErrors too.
 */
export class RealAppClient {
  readonly api: Client<Paths>;
  readonly baseUrl: string;
  private readonly tokens: TokenStorage;
  private readonly baseFetch: (request: Request) => Promise<Response>;
  private readonly onSessionExpired?: () => void | Promise<void>;
  private readonly idempotencyKey: () => string;
  private readonly idempotentOperations: ReadonlySet<string>;
  private refreshing: Promise<string | null> | null = null;

  constructor(options: RealAppClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.tokens = options.tokens ?? new MemoryTokenStorage();
    const globalFetch = globalThis.fetch;
    this.baseFetch = options.fetch ?? ((request) => globalFetch(request));
    this.onSessionExpired = options.onSessionExpired;
    this.idempotencyKey = options.idempotencyKey ?? (() => newIdempotencyKey());
    this.idempotentOperations = options.idempotentOperations ?? IDEMPOTENT_OPERATIONS;
    this.api = createClient<Paths>({
      baseUrl: this.baseUrl,
      headers: { Accept: 'application/json', ...options.headers },
      fetch: (request) => this.send(request),
    });
    this.api.use(this.middleware());
  }

  GET<P extends PathsWithMethod<Paths, 'get'>, Init extends MaybeOptionalInit<Paths[P], 'get'>>(
    path: P,
    ...init: InitParam<Init>
  ) {
    return this.data(this.api.GET<P, Init>(path, ...init));
  }

  POST<P extends PathsWithMethod<Paths, 'post'>, Init extends MaybeOptionalInit<Paths[P], 'post'>>(
    path: P,
    ...init: InitParam<Init>
  ) {
    return this.data(this.api.POST<P, Init>(path, ...init));
  }

  PUT<P extends PathsWithMethod<Paths, 'put'>, Init extends MaybeOptionalInit<Paths[P], 'put'>>(
    path: P,
    ...init: InitParam<Init>
  ) {
    return this.data(this.api.PUT<P, Init>(path, ...init));
  }

  PATCH<P extends PathsWithMethod<Paths, 'patch'>, Init extends MaybeOptionalInit<Paths[P], 'patch'>>(
    path: P,
    ...init: InitParam<Init>
  ) {
    return this.data(this.api.PATCH<P, Init>(path, ...init));
  }

  DELETE<P extends PathsWithMethod<Paths, 'delete'>, Init extends MaybeOptionalInit<Paths[P], 'delete'>>(
    path: P,
    ...init: InitParam<Init>
  ) {
    return this.data(this.api.DELETE<P, Init>(path, ...init));
  }

  /** Starts a session with the pair sign-up, login or invite acceptance answered. */
  async setSession(tokens: TokenPair): Promise<void> {
    await this.tokens.save({ accessToken: tokens.accessToken, refreshToken: tokens.refreshToken });
  }

  async clearSession(): Promise<void> {
    await this.tokens.save(null);
  }

  async session(): Promise<TokenPair | null> {
    return this.tokens.load();
  }

  // The return types of GET…DELETE are openapi-fetch's own, narrowed here.
  private async data<R extends { data?: unknown }>(
    call: Promise<R>,
  ): Promise<Resolved<Exclude<R['data'], undefined>>> {
    // The middleware throws every error answer as a RealAppError, so what resolves is a success, whose body
    // is undefined only for a 204 (typed `never` by openapi-fetch, `void` here).
    return (await call).data as Resolved<Exclude<R['data'], undefined>>;
  }

  private middleware(): Middleware {
    return {
      onRequest: ({ request, schemaPath }) => {
        if (
          this.idempotentOperations.has(`${request.method} ${schemaPath}`) &&
          !request.headers.has('Idempotency-Key')
        ) {
          request.headers.set('Idempotency-Key', this.idempotencyKey());
        }
        return request;
      },
      onResponse: async ({ response }) => {
        if (!response.ok) throw await RealAppError.fromResponse(response);
        return response;
      },
      onError: ({ error }) => (error instanceof RealAppError ? error : RealAppError.network(error)),
    };
  }

  /**
   * Every request of `api` goes through here: the bearer token is added when there is a session and the
   * caller did not set Authorization itself; a 401 that a new access token can cure is retried once.
   */
  private async send(request: Request): Promise<Response> {
    const session = await this.tokens.load();
    const usedToken = session && !request.headers.has('Authorization') ? session.accessToken : null;
    // The copy is taken before anything reads the body, so the retry sends the same bytes and headers
    // (including the same Idempotency-Key: the rejected attempt never reached the handler).
    const retry = usedToken ? request.clone() : null;
    if (usedToken) request.headers.set('Authorization', `Bearer ${usedToken}`);
    const response = await this.baseFetch(request);
    if (!usedToken || !retry || response.status !== 401 || !(await isRefreshable(response))) return response;
    const fresh = await this.freshAccessToken(usedToken);
    if (!fresh) return response;
    retry.headers.set('Authorization', `Bearer ${fresh}`);
    return this.baseFetch(retry);
  }

  /** A usable access token after `stale` was refused: another request's refresh, or one refresh for all. */
  private async freshAccessToken(stale: string): Promise<string | null> {
    const current = await this.tokens.load();
    if (!current) return null;
    if (current.accessToken !== stale) return current.accessToken;
    this.refreshing ??= this.refresh(current.refreshToken).finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async refresh(refreshToken: string): Promise<string | null> {
    let response: Response;
    try {
      response = await this.baseFetch(
        new Request(`${this.baseUrl}${REFRESH_PATH}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify({ refreshToken }),
        }),
      );
    } catch (error) {
      throw RealAppError.network(error);
    }
    if (response.ok) {
      const body: unknown = await response.json();
      if (!isTokenPair(body))
        throw new RealAppError({
          status: response.status,
          code: 'unexpected_response',
          detail: 'The refresh answer has no token pair',
        });
      await this.tokens.save({ accessToken: body.accessToken, refreshToken: body.refreshToken });
      return body.accessToken;
    }
    if (response.status === 400 || response.status === 401) {
      // Spent, revoked, expired or malformed: this session cannot come back.
      await this.tokens.save(null);
      await this.onSessionExpired?.();
      return null;
    }
    // The gateway or auth-api is failing (5xx, 429): keep the session, surface this failure.
    throw await RealAppError.fromResponse(response);
  }
}

async function isRefreshable(response: Response): Promise<boolean> {
  try {
    const body = (await response.clone().json()) as { code?: unknown } | null;
    return typeof body?.code === 'string' && REFRESHABLE_CODES.has(body.code);
  } catch {
    return false;
  }
}
