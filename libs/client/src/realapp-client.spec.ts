import { RealAppError } from './errors';
import { collect, paginate } from './pagination';
import { RealAppClient } from './realapp-client';
import { MemoryTokenStorage } from './tokens';

const BASE = 'https://gateway.test';

interface Seen {
  method: string;
  path: string;
  authorization: string | null;
  idempotencyKey: string | null;
  body: string;
}

type Handler = (request: Request, seen: Seen) => Response | Promise<Response>;

/** A fetch that records every request and answers with `handler`; no network involved. */
function fakeFetch(handler: Handler): { fetch: (request: Request) => Promise<Response>; seen: Seen[] } {
  const seen: Seen[] = [];
  return {
    seen,
    fetch: async (request) => {
      const url = new URL(request.url);
      const entry: Seen = {
        method: request.method,
        path: url.pathname + url.search,
        authorization: request.headers.get('authorization'),
        idempotencyKey: request.headers.get('idempotency-key'),
        body: await request.text(),
      };
      seen.push(entry);
      return handler(request, entry);
    },
  };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

const problem = (
  status: number,
  code: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Response =>
  new Response(
    JSON.stringify({
      type: `https://docs.realapp.dev/problems/${code}`,
      title: 'x',
      status,
      detail: `${code} detail`,
      code,
      correlationId: 'cid-body',
      ...extra,
    }),
    {
      status,
      headers: { 'content-type': 'application/problem+json', 'x-correlation-id': 'cid-header', ...headers },
    },
  );

const ME = {
  user: { id: 'u1', email: 'ana@example.com', name: 'Ana', role: 'owner' },
  tenant: { id: 't1', name: 'Acme', status: 'active' },
};

describe('RealAppClient', () => {
  it('sends the session bearer token and resolves to the typed body', async () => {
    const { fetch, seen } = fakeFetch(() => json(200, ME));
    const client = new RealAppClient({
      baseUrl: `${BASE}/`,
      fetch,
      tokens: new MemoryTokenStorage({ accessToken: 'a1', refreshToken: 'r1' }),
    });

    const me = await client.GET('/v1/auth/me');

    expect(me.user.email).toBe('ana@example.com');
    expect(me.tenant.id).toBe('t1');
    expect(seen).toEqual([
      expect.objectContaining({
        method: 'GET',
        path: '/v1/auth/me',
        authorization: 'Bearer a1',
        idempotencyKey: null,
      }),
    ]);
  });

  it('sends no Authorization without a session and keeps one the caller set', async () => {
    const { fetch, seen } = fakeFetch(() => json(200, ME));
    const client = new RealAppClient({ baseUrl: BASE, fetch });
    await client.GET('/v1/auth/me');
    await client.GET('/v1/auth/me', { headers: { Authorization: 'Bearer mine' } });
    expect(seen.map((s) => s.authorization)).toEqual([null, 'Bearer mine']);
  });

  it('throws problem+json answers as RealAppError with status, code, detail, errors and correlation id', async () => {
    const errors = [{ field: 'email', message: 'email must be an email' }];
    const { fetch } = fakeFetch(() => problem(400, 'validation_failed', { errors }, { 'retry-after': '3' }));
    const client = new RealAppClient({ baseUrl: BASE, fetch });

    const error = await client
      .POST('/v1/auth/login', { body: { email: 'nope', password: 'x' } })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RealAppError);
    expect(error).toMatchObject({
      status: 400,
      code: 'validation_failed',
      detail: 'validation_failed detail',
      errors,
      correlationId: 'cid-body',
      retryAfterSeconds: 3,
    });
    expect((error as RealAppError).problem?.type).toBe('https://docs.realapp.dev/problems/validation_failed');
  });

  it('throws a non-problem error page as unexpected_response, keeping the correlation id header', async () => {
    const { fetch } = fakeFetch(
      () =>
        new Response('<html>502 Bad Gateway</html>', {
          status: 502,
          headers: { 'content-type': 'text/html', 'x-correlation-id': 'cid-7' },
        }),
    );
    const client = new RealAppClient({ baseUrl: BASE, fetch });
    await expect(client.GET('/v1/auth/me')).rejects.toMatchObject({
      status: 502,
      code: 'unexpected_response',
      correlationId: 'cid-7',
    });
  });

  it('throws a failed connection as network_error with status 0', async () => {
    const client = new RealAppClient({
      baseUrl: BASE,
      fetch: () => Promise.reject(new TypeError('Network request failed')),
    });
    const error = await client.GET('/v1/auth/me').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RealAppError);
    expect(error).toMatchObject({ status: 0, code: 'network_error' });
    expect((error as RealAppError).detail).toContain('Network request failed');
  });

  it('resolves a 204 to undefined', async () => {
    const { fetch } = fakeFetch(() => new Response(null, { status: 204 }));
    const client = new RealAppClient({
      baseUrl: BASE,
      fetch,
      tokens: new MemoryTokenStorage({ accessToken: 'a1', refreshToken: 'r1' }),
    });
    await expect(client.POST('/v1/auth/logout', { body: { refreshToken: 'r1' } })).resolves.toBeUndefined();
  });

  describe('token refresh', () => {
    /** auth-api in miniature: `valid` is the only accepted access token; refresh rotates the pair. */
    function authServer(options: { refreshAnswer?: () => Response } = {}) {
      const state = { valid: 'a2', refreshes: 0 };
      const fake = fakeFetch(async (request, seen) => {
        if (seen.path === '/v1/auth/refresh') {
          state.refreshes++;
          // Several refreshes in flight at once would each spend a refresh token: the client must not.
          await new Promise((resolve) => setTimeout(resolve, 20));
          if (options.refreshAnswer) return options.refreshAnswer();
          expect(JSON.parse(seen.body)).toEqual({ refreshToken: 'r1' });
          return json(200, { accessToken: 'a2', refreshToken: 'r2', expiresIn: 900 });
        }
        if (seen.authorization !== `Bearer ${state.valid}`) return problem(401, 'token_expired');
        return json(
          seen.method === 'POST' ? 201 : 200,
          seen.method === 'POST' ? { token: 'inv', expiresAt: '2030-01-01T00:00:00.000Z' } : ME,
        );
      });
      return { ...fake, state };
    }

    it('refreshes on 401 token_expired, stores the new pair and retries the request once with the same bytes', async () => {
      const server = authServer();
      const tokens = new MemoryTokenStorage({ accessToken: 'a1', refreshToken: 'r1' });
      const client = new RealAppClient({
        baseUrl: BASE,
        fetch: server.fetch,
        tokens,
        idempotentOperations: new Set(['POST /v1/auth/invites']),
      });

      const invite = await client.POST('/v1/auth/invites', {
        body: { email: 'bia@example.com', role: 'member' },
      });

      expect(invite.token).toBe('inv');
      expect(tokens.load()).toEqual({ accessToken: 'a2', refreshToken: 'r2' });
      const calls = server.seen.filter((s) => s.path === '/v1/auth/invites');
      expect(calls.map((c) => c.authorization)).toEqual(['Bearer a1', 'Bearer a2']);
      expect(calls[1].body).toBe(calls[0].body);
      expect(JSON.parse(calls[1].body)).toEqual({ email: 'bia@example.com', role: 'member' });
      // The first attempt was refused before the handler ran: the retry is the same operation, same key.
      expect(calls[0].idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
      expect(calls[1].idempotencyKey).toBe(calls[0].idempotencyKey);
    });

    it('makes one refresh for many requests refused at once, and retries each of them', async () => {
      const server = authServer();
      const client = new RealAppClient({
        baseUrl: BASE,
        fetch: server.fetch,
        tokens: new MemoryTokenStorage({ accessToken: 'a1', refreshToken: 'r1' }),
      });

      const answers = await Promise.all(Array.from({ length: 8 }, () => client.GET('/v1/auth/me')));

      expect(answers).toHaveLength(8);
      expect(server.state.refreshes).toBe(1);
      const me = server.seen.filter((s) => s.path === '/v1/auth/me');
      expect(me.filter((s) => s.authorization === 'Bearer a1')).toHaveLength(8);
      expect(me.filter((s) => s.authorization === 'Bearer a2')).toHaveLength(8);
    });

    it('uses a token another request refreshed meanwhile instead of refreshing again', async () => {
      const server = authServer();
      // The request goes out with a1; by the time its 401 is back, another request has stored a2.
      const loads: Array<{ accessToken: string; refreshToken: string }> = [
        { accessToken: 'a1', refreshToken: 'r1' },
        { accessToken: 'a2', refreshToken: 'r2' },
      ];
      const tokens = { load: () => (loads.length > 1 ? loads.shift()! : loads[0]), save: jest.fn() };
      const client = new RealAppClient({ baseUrl: BASE, fetch: server.fetch, tokens });

      await expect(client.GET('/v1/auth/me')).resolves.toMatchObject({ user: { id: 'u1' } });

      expect(server.state.refreshes).toBe(0);
      expect(server.seen.map((s) => s.authorization)).toEqual(['Bearer a1', 'Bearer a2']);
      expect(tokens.save).not.toHaveBeenCalled();
    });

    it('clears the session and reports it when the refresh token is refused; the 401 is thrown', async () => {
      const server = authServer({ refreshAnswer: () => problem(401, 'refresh_token_reused') });
      const tokens = new MemoryTokenStorage({ accessToken: 'a1', refreshToken: 'r1' });
      const onSessionExpired = jest.fn();
      const client = new RealAppClient({ baseUrl: BASE, fetch: server.fetch, tokens, onSessionExpired });

      const results = await Promise.allSettled([client.GET('/v1/auth/me'), client.GET('/v1/auth/me')]);

      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      for (const result of results) {
        expect((result as PromiseRejectedResult).reason).toMatchObject({
          status: 401,
          code: 'token_expired',
        });
      }
      expect(server.state.refreshes).toBe(1);
      expect(tokens.load()).toBeNull();
      expect(onSessionExpired).toHaveBeenCalledTimes(1);
    });

    it('keeps the session when the refresh fails for another reason (gateway 502)', async () => {
      const server = authServer({ refreshAnswer: () => problem(502, 'bad_gateway') });
      const tokens = new MemoryTokenStorage({ accessToken: 'a1', refreshToken: 'r1' });
      const client = new RealAppClient({ baseUrl: BASE, fetch: server.fetch, tokens });
      await expect(client.GET('/v1/auth/me')).rejects.toMatchObject({ status: 502, code: 'bad_gateway' });
      expect(tokens.load()).toEqual({ accessToken: 'a1', refreshToken: 'r1' });
    });

    it('retries only once: a second 401 is thrown', async () => {
      const server = authServer();
      server.state.valid = 'never';
      const client = new RealAppClient({
        baseUrl: BASE,
        fetch: server.fetch,
        tokens: new MemoryTokenStorage({ accessToken: 'a1', refreshToken: 'r1' }),
      });
      await expect(client.GET('/v1/auth/me')).rejects.toMatchObject({ status: 401, code: 'token_expired' });
      expect(server.state.refreshes).toBe(1);
      expect(server.seen.filter((s) => s.path === '/v1/auth/me')).toHaveLength(2);
    });

    it('does not refresh on other 401 codes, nor without a session', async () => {
      const { fetch, seen } = fakeFetch(() => problem(401, 'invalid_credentials'));
      const withSession = new RealAppClient({
        baseUrl: BASE,
        fetch,
        tokens: new MemoryTokenStorage({ accessToken: 'a1', refreshToken: 'r1' }),
      });
      await expect(
        withSession.POST('/v1/auth/login', { body: { email: 'a@b.co', password: 'x' } }),
      ).rejects.toMatchObject({
        code: 'invalid_credentials',
      });
      const anonymous = new RealAppClient({
        baseUrl: BASE,
        fetch: fakeFetch(() => problem(401, 'invalid_token')).fetch,
      });
      await expect(anonymous.GET('/v1/auth/me')).rejects.toMatchObject({ code: 'invalid_token' });
      expect(seen.map((s) => s.path)).toEqual(['/v1/auth/login']);
    });
  });

  describe('Idempotency-Key', () => {
    const idem = new Set(['POST /v1/auth/invites']);

    it('is generated for every [idem] call, a new one each time, and only for those', async () => {
      const { fetch, seen } = fakeFetch((_, s) =>
        s.method === 'POST' && s.path === '/v1/auth/invites'
          ? json(201, { token: 't', expiresAt: 'x' })
          : json(200, ME),
      );
      const client = new RealAppClient({ baseUrl: BASE, fetch, idempotentOperations: idem });

      await client.POST('/v1/auth/invites', { body: { email: 'a@b.co', role: 'member' } });
      await client.POST('/v1/auth/invites', { body: { email: 'a@b.co', role: 'member' } });
      await client.GET('/v1/auth/me');

      const [first, second, third] = seen.map((s) => s.idempotencyKey);
      expect(first).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(second).not.toBe(first);
      expect(third).toBeNull();
    });

    it('keeps a key the caller passes (retrying an operation whose answer was lost)', async () => {
      const { fetch, seen } = fakeFetch(() => json(201, { token: 't', expiresAt: 'x' }));
      const client = new RealAppClient({
        baseUrl: BASE,
        fetch,
        idempotentOperations: idem,
        idempotencyKey: () => 'generated',
      });
      await client.POST('/v1/auth/invites', {
        body: { email: 'a@b.co', role: 'member' },
        headers: { 'Idempotency-Key': 'mine-1' },
      });
      await client.POST('/v1/auth/invites', { body: { email: 'a@b.co', role: 'member' } });
      expect(seen.map((s) => s.idempotencyKey)).toEqual(['mine-1', 'generated']);
    });
  });

  it('exposes the raw openapi-fetch client for response headers, with the same error handling', async () => {
    const { fetch } = fakeFetch(() => json(200, ME, { 'idempotent-replayed': 'true' }));
    const client = new RealAppClient({ baseUrl: BASE, fetch });
    const { data, response } = await client.api.GET('/v1/auth/me');
    expect(data?.user.id).toBe('u1');
    expect(response.headers.get('idempotent-replayed')).toBe('true');

    const failing = new RealAppClient({
      baseUrl: BASE,
      fetch: fakeFetch(() => problem(404, 'not_found')).fetch,
    });
    await expect(failing.api.GET('/v1/auth/me')).rejects.toBeInstanceOf(RealAppError);
  });

  it('walks a cursor-paginated endpoint with paginate(), sending each nextCursor back', async () => {
    const entry = (id: string) => ({
      id,
      kind: 'topup',
      amountCents: 100,
      balanceAfterCents: 100,
      reference: id,
      createdAt: '2030-01-01T00:00:00.000Z',
    });
    const { fetch, seen } = fakeFetch((_, s) =>
      s.path.includes('cursor=c2')
        ? json(200, { items: [entry('e3')], nextCursor: null })
        : json(200, { items: [entry('e1'), entry('e2')], nextCursor: 'c2' }),
    );
    const client = new RealAppClient({
      baseUrl: BASE,
      fetch,
      tokens: new MemoryTokenStorage({ accessToken: 'a1', refreshToken: 'r1' }),
    });

    const entries = await collect(
      paginate((cursor) => client.GET('/v1/billing/ledger', { params: { query: { cursor, limit: 2 } } })),
    );

    expect(entries.map((e) => e.id)).toEqual(['e1', 'e2', 'e3']);
    expect(seen.map((s) => s.path)).toEqual([
      '/v1/billing/ledger?limit=2',
      '/v1/billing/ledger?cursor=c2&limit=2',
    ]);
  });

  it('sets and clears the session explicitly', async () => {
    const client = new RealAppClient({ baseUrl: BASE, fetch: fakeFetch(() => json(200, ME)).fetch });
    await client.setSession({ accessToken: 'a', refreshToken: 'r' });
    expect(await client.session()).toEqual({ accessToken: 'a', refreshToken: 'r' });
    await client.clearSession();
    expect(await client.session()).toBeNull();
  });
});
