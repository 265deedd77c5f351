import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { pacedLoad } from './paced-load';

describe('pacedLoad', () => {
  let server: Server;
  let url: string;
  const seen: Array<{ at: number; path: string; body: string; signature: string | undefined }> = [];
  let connections = 0;

  beforeAll(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        seen.push({
          at: Date.now(),
          path: request.url ?? '',
          body,
          signature: request.headers['x-signature'] as string,
        });
        const status = body === 'refuse' ? 401 : 200;
        // Every tenth answer closes its connection: the sender must open another one.
        const close = seen.length % 10 === 0;
        const payload = JSON.stringify({ received: true, padding: 'x'.repeat(3000) });
        // Half the answers say their length, half are chunked (node's default without one): both are read.
        const length = seen.length % 2 === 0 ? { 'content-length': String(Buffer.byteLength(payload)) } : {};
        response.writeHead(status, {
          'content-type': 'application/json',
          ...length,
          ...(close ? { connection: 'close' } : {}),
        });
        response.end(payload);
      });
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends every request once, at the asked rate, with its own path, headers and body', async () => {
    const requests = Array.from({ length: 300 }, (_, i) => ({
      path: `/hook?i=${i}`,
      headers: { 'content-type': 'application/json', 'x-signature': `sig-${i}` },
      body: i === 7 ? 'refuse' : JSON.stringify({ i }),
    }));
    const sentAt: number[] = [];
    const result = await pacedLoad(url, requests, 1000, 8, (index, at) => (sentAt[index] = at));

    expect(result).toMatchObject({ sent: 300, ok: 299, non2xx: 1, errors: 0 });
    expect(seen).toHaveLength(300);
    expect(new Set(seen.map((s) => s.path)).size).toBe(300);
    const fifth = seen.find((s) => s.path === '/hook?i=5');
    expect(fifth).toMatchObject({ body: JSON.stringify({ i: 5 }), signature: 'sig-5' });
    // 300 requests at 1,000/s take ~0.3 s: evenly, not all at once and not much slower.
    expect(result.seconds).toBeGreaterThan(0.28);
    expect(result.seconds).toBeLessThan(1.5);
    expect(sentAt[299] - sentAt[0]).toBeGreaterThanOrEqual(280);
    // Connections are kept alive (the closed ones reopened), not one per request.
    expect(connections).toBeLessThan(60);
    expect(result.p50).toBeLessThanOrEqual(result.p99);
    expect(result.p99).toBeLessThanOrEqual(result.max);
  });
});
