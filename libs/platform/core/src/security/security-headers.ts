import Fastify, { FastifyInstance } from 'fastify';
import helmet, { FastifyHelmetOptions } from '@fastify/helmet';

/** One response header as helmet sets it: name in helmet's spelling, value as given. */
export type SecurityHeader = readonly [name: string, value: number | string | readonly string[]];

export interface SecurityHeaders {
  set: readonly SecurityHeader[];
  /** Headers helmet takes off the response (it hides `X-Powered-By`). */
  removed: readonly string[];
}

const PROBED_REMOVALS = ['X-Powered-By'];

/**
 * Header names as they will be sent (Node keeps the spelling of `setHeader`). Node has had
 * `getRawHeaderNames()` on every outgoing message since 15.13; its types list it on requests only.
 */
export function rawHeaderNames(response: object): string[] {
  return (response as { getRawHeaderNames(): string[] }).getRawHeaderNames();
}

/**
 * The headers @fastify/helmet puts on every response with these options, read once from a
 * throwaway Fastify instance. Helmet's headers depend on its options only (with the CSP nonces
 * off), never on the request, yet the plugin rebuilds its middleware from the options on every
 * request and runs two hooks, one of them async: answering from this list gives the same
 * headers, in the same order and spelling, for a fraction of the work.
 */
export async function helmetHeaders(options: FastifyHelmetOptions): Promise<SecurityHeaders> {
  const probe = Fastify();
  let seen: SecurityHeaders | null = null;
  try {
    probe.addHook('onRequest', (_request, reply, done) => {
      for (const name of PROBED_REMOVALS) reply.raw.setHeader(name, 'probe');
      done();
    });
    await probe.register(helmet, options);
    probe.addHook('onRequest', (_request, reply, done) => {
      const raw = reply.raw;
      seen = {
        set: rawHeaderNames(raw)
          .filter((name) => !PROBED_REMOVALS.includes(name))
          .map((name): SecurityHeader => [name, raw.getHeader(name) as SecurityHeader[1]]),
        removed: PROBED_REMOVALS.filter((name) => !raw.hasHeader(name)),
      };
      done();
    });
    probe.get('/', (_request, reply) => reply.send(''));
    await probe.inject('/');
  } finally {
    await probe.close();
  }
  if (!seen) throw new Error('helmetHeaders: the probe request did not run');
  return seen;
}

/**
 * Sets `headers` on every response in an `onRequest` hook, where @fastify/helmet would (on the
 * raw response, so error answers and early replies such as a 429 carry them too). Route-level
 * helmet options and the `reply.helmet()` / `reply.cspNonce` decorators are not offered: no
 * route uses them.
 */
export function registerSecurityHeaders(fastify: FastifyInstance, headers: SecurityHeaders): void {
  const { set, removed } = headers;
  fastify.addHook('onRequest', function securityHeaders(_request, reply, done) {
    const raw = reply.raw;
    for (let i = 0; i < set.length; i++) raw.setHeader(set[i][0], set[i][1]);
    for (let i = 0; i < removed.length; i++) raw.removeHeader(removed[i]);
    done();
  });
}
