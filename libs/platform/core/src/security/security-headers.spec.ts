import Fastify, { FastifyInstance } from 'fastify';
import helmet from '@fastify/helmet';
import { helmetHeaders, rawHeaderNames, registerSecurityHeaders } from './security-headers';

const OPTIONS = { contentSecurityPolicy: false, global: true } as const;

/** The same little app, its security headers from the plugin or from the precomputed list. */
async function app(withPlugin: boolean): Promise<FastifyInstance> {
  const fastify = Fastify();
  // Something earlier in the chain setting the header helmet hides.
  fastify.addHook('onRequest', (_request, reply, done) => {
    reply.raw.setHeader('X-Powered-By', 'someone');
    done();
  });
  if (withPlugin) await fastify.register(helmet, OPTIONS);
  else registerSecurityHeaders(fastify, await helmetHeaders(OPTIONS));
  fastify.addHook('onRequest', (request, reply, done) => {
    if (request.url === '/limited') {
      void reply.status(429).header('retry-after', '1').send({ code: 'too_many_requests' });
      return;
    }
    done();
  });
  fastify.get('/ok', (_request, reply) => reply.header('x-own', 'yes').send({ ok: true }));
  fastify.get('/fails', () => {
    throw new Error('boom');
  });
  return fastify;
}

/** Response headers as sent (names in their spelling, in order), the date aside. */
async function headersOf(fastify: FastifyInstance, url: string): Promise<string[]> {
  const response = await fastify.inject(url);
  return rawHeaderNames(response.raw.res)
    .filter((name) => name.toLowerCase() !== 'date')
    .map((name) => `${name}: ${String(response.headers[name.toLowerCase()])} (${response.statusCode})`);
}

describe('precomputed security headers', () => {
  let plugin: FastifyInstance;
  let precomputed: FastifyInstance;

  beforeAll(async () => {
    [plugin, precomputed] = await Promise.all([app(true), app(false)]);
  });

  afterAll(async () => {
    await Promise.all([plugin.close(), precomputed.close()]);
  });

  it.each(['/ok', '/nowhere', '/fails', '/limited'])(
    'sends exactly what @fastify/helmet sends on %s',
    async (url) => {
      const expected = await headersOf(plugin, url);
      expect(expected.join('\n')).toContain('X-Content-Type-Options: nosniff');
      expect(expected.join('\n')).not.toMatch(/x-powered-by/i);
      expect(await headersOf(precomputed, url)).toEqual(expected);
    },
  );

  it('reads the list once: the hook does not depend on the request', async () => {
    const headers = await helmetHeaders(OPTIONS);
    expect(headers.removed).toEqual(['X-Powered-By']);
    expect(headers.set.map(([name]) => name)).toContain('Strict-Transport-Security');
    expect(headers.set.map(([name]) => name.toLowerCase())).not.toContain('content-security-policy');
  });
});
