import { IncomingHttpHeaders, Server, createServer } from 'node:http';

export interface ReceivedWebhook {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
}

export interface GatewayStub {
  url: string;
  received: ReceivedWebhook[];
  /** Status the stub answers with (default 200). */
  setStatus(status: number): void;
  close(): Promise<void>;
}

/**
 * A stand-in for the webhook-gateway in tests: records exactly the bytes and headers it
 * receives, so a test can recompute the provider signature the way the gateway must.
 */
export async function startGatewayStub(): Promise<GatewayStub> {
  const received: ReceivedWebhook[] = [];
  let status = 200;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        rawBody: Buffer.concat(chunks),
      });
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ received: true }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    setStatus: (next: number): void => {
      status = next;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
