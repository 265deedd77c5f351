import { createHash } from 'node:crypto';
import http, { IncomingHttpHeaders } from 'node:http';
import net from 'node:net';

export interface RecordedRequest {
  method: string;
  /** The request target exactly as it arrived (path and query, undecoded). */
  target: string;
  headers: IncomingHttpHeaders;
  /** Header names and values as sent, in order (duplicates kept). */
  rawHeaders: string[];
  body: Buffer;
}

export interface Recorder {
  name: string;
  /** host:port, what the gateway template takes. */
  address: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/**
 * A stand-in service that records every request's exact bytes and answers who it is. `/…/own-problem`
 * answers a problem+json 404 of its own, to show the gateway passes a service's errors through.
 */
export async function startRecorder(name: string): Promise<Recorder> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({
        method: request.method ?? '',
        target: request.url ?? '',
        headers: request.headers,
        rawHeaders: request.rawHeaders,
        body,
      });
      // Services echo the correlation id; the gateway must still send it once.
      const correlationId = request.headers['x-correlation-id'];
      if (typeof correlationId === 'string') response.setHeader('x-correlation-id', correlationId);
      if (request.url?.includes('/own-problem')) {
        response.writeHead(404, { 'content-type': 'application/problem+json' });
        response.end(
          JSON.stringify({
            type: 'about:blank',
            title: 'Not Found',
            status: 404,
            detail: `${name} says no`,
            code: 'not_found',
            correlationId,
          }),
        );
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          upstream: name,
          target: request.url,
          bodySha256: sha256(body),
          bodyLength: body.length,
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    name,
    address: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Accepts connections and never answers: what a hung service looks like to the gateway. */
export async function startSilentUpstream(): Promise<{ address: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
