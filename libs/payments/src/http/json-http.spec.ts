import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import { HttpTimeoutError, JsonHttpTransport } from './json-http';

interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

interface TestServer {
  url: string;
  /** Every TCP connection the server accepted, open or closed. */
  connections: Socket[];
  received: ReceivedRequest[];
  close(): Promise<void>;
}

async function startServer(
  handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end('{}'),
): Promise<TestServer> {
  const connections: Socket[] = [];
  const received: ReceivedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      handle(req, res);
    });
  });
  server.on('connection', (socket: Socket) => connections.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections,
    received,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** A port nothing listens on: taken from the OS, then let go. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function untilClosed(socket: Socket): Promise<void> {
  return socket.destroyed
    ? Promise.resolve()
    : new Promise((resolve) => socket.once('close', () => resolve()));
}

describe('JsonHttpTransport', () => {
  let server: TestServer | undefined;
  const transports: JsonHttpTransport[] = [];

  const transport = (baseUrl: string, timeoutMs = 2000, maxSockets?: number): JsonHttpTransport => {
    const created = new JsonHttpTransport({ baseUrl, timeoutMs, ...(maxSockets ? { maxSockets } : {}) });
    transports.push(created);
    return created;
  };

  afterEach(async () => {
    transports.splice(0).forEach((t) => t.close());
    await server?.close();
    server = undefined;
  });

  it('sends the method, the base path with the path and query, JSON headers and the body', async () => {
    server = await startServer((_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json', 'x-request-id': 'r-1' });
      res.end('{"ok":true}');
    });
    const body = JSON.stringify({ description: 'Saldo de tráfego' });
    const response = await transport(`${server.url}/mp/`).send(
      'POST',
      '/v1/payments?external_reference=a%26b',
      { Authorization: 'Bearer t', 'X-Idempotency-Key': 'k-1' },
      body,
    );

    expect(response).toEqual({
      status: 201,
      headers: expect.objectContaining({ 'x-request-id': 'r-1' }) as unknown,
      body: '{"ok":true}',
    });
    const [request] = server.received;
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/mp/v1/payments?external_reference=a%26b');
    expect(request.headers).toMatchObject({
      authorization: 'Bearer t',
      'x-idempotency-key': 'k-1',
      accept: 'application/json',
      'content-type': 'application/json',
      // Bytes, not characters: "á" is two bytes in UTF-8.
      'content-length': String(Buffer.byteLength(body)),
    });
    expect(body.length).toBeLessThan(Buffer.byteLength(body));
    expect(request.body).toBe(body);
  });

  it('sends no body and no Content-Type for a GET', async () => {
    server = await startServer();
    await transport(server.url).send('GET', '/v1/payments/1', {});
    const [request] = server.received;
    expect(request.body).toBe('');
    expect(request.headers['content-type']).toBeUndefined();
    expect(request.headers['accept']).toBe('application/json');
  });

  it('answers every status with its headers and body, for the caller to judge', async () => {
    server = await startServer((_req, res) => {
      res.writeHead(503, { 'retry-after': '7' });
      res.end('{"message":"busy"}');
    });
    const response = await transport(server.url).send('GET', '/x', {});
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('7');
    expect(response.body).toBe('{"message":"busy"}');
  });

  it('keeps the connection alive: sequential requests share one socket', async () => {
    server = await startServer();
    const http = transport(server.url);
    await http.send('GET', '/a', {});
    await http.send('GET', '/b', {});
    await http.send('POST', '/c', {}, '{}');
    expect(server.received.map((r) => r.url)).toEqual(['/a', '/b', '/c']);
    expect(server.connections).toHaveLength(1);
  });

  it('opens no more than maxSockets connections; further requests wait for a free one', async () => {
    // The first two answers wait until both have arrived: the other three requests must queue.
    let held: ServerResponse[] | null = [];
    server = await startServer((_req, res) => {
      if (held === null) {
        res.end('{}');
        return;
      }
      held.push(res);
      if (held.length === 2) {
        held.forEach((r) => r.end('{}'));
        held = null;
      }
    });
    const http = transport(server.url, 2000, 2);
    const responses = await Promise.all([1, 2, 3, 4, 5].map((n) => http.send('GET', `/${n}`, {})));
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(server.received).toHaveLength(5);
    expect(server.connections).toHaveLength(2);
  });

  it('reads a large body whole, multi-byte characters split across chunks included', async () => {
    // 3 bytes per "€"; 64 KiB writes cut characters in half at most boundaries.
    const text = JSON.stringify({ qr_code_base64: '€'.repeat(700_000) });
    const bytes = Buffer.from(text, 'utf8');
    server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      for (let offset = 0; offset < bytes.length; offset += 65_537) {
        res.write(bytes.subarray(offset, offset + 65_537));
      }
      res.end();
    });
    const response = await transport(server.url).send('GET', '/big', {});
    expect(Buffer.byteLength(response.body)).toBe(bytes.length);
    expect(response.body).toBe(text);
  });

  it('times out when the server stalls mid-body, and does not reuse that connection', async () => {
    let stall = true;
    server = await startServer((_req, res) => {
      if (!stall) {
        res.end('{}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"id":1,');
    });
    const http = transport(server.url, 150);
    const started = Date.now();
    const error = await http.send('GET', '/stall', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpTimeoutError);
    expect(error).toMatchObject({ name: 'TimeoutError', timeoutMs: 150, message: 'timeout after 150 ms' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(Date.now() - started).toBeLessThan(1500);
    await untilClosed(server.connections[0]);

    stall = false;
    expect((await http.send('GET', '/next', {})).status).toBe(200);
    expect(server.connections).toHaveLength(2);
  });

  it('times out when the server never answers', async () => {
    server = await startServer(() => undefined);
    await expect(transport(server.url, 100).send('GET', '/hang', {})).rejects.toBeInstanceOf(
      HttpTimeoutError,
    );
  });

  it('fails at once, not at the timeout, when the connection drops mid-body', async () => {
    server = await startServer((req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('{"id":1,', () => req.socket.destroy());
    });
    const started = Date.now();
    const error = await transport(server.url, 5000)
      .send('GET', '/drop', {})
      .catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(HttpTimeoutError);
    expect(error).toMatchObject({ code: 'ECONNRESET' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('rejects with the socket error when nothing listens', async () => {
    const port = await closedPort();
    const error = await transport(`http://127.0.0.1:${port}`)
      .send('GET', '/', {})
      .catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(HttpTimeoutError);
    expect(error).toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('speaks TLS to an https: base URL', async () => {
    // A plain HTTP server cannot complete a TLS handshake: the failure proves TLS was attempted.
    server = await startServer();
    const error = await transport(server.url.replace('http:', 'https:'))
      .send('GET', '/', {})
      .catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(HttpTimeoutError);
    expect(error).toMatchObject({ code: expect.stringMatching(/^(EPROTO|ERR_SSL_)/) as unknown });
    expect(server.received).toHaveLength(0);
  });

  it('refuses a base URL that is neither http: nor https:', () => {
    expect(() => new JsonHttpTransport({ baseUrl: 'ftp://127.0.0.1/', timeoutMs: 100 })).toThrow(TypeError);
  });

  it('closes idle connections on close()', async () => {
    server = await startServer();
    const http = transport(server.url);
    await http.send('GET', '/', {});
    expect(server.connections[0].destroyed).toBe(false);
    http.close();
    await untilClosed(server.connections[0]);
    expect(server.connections[0].destroyed).toBe(true);
  });
});
