import { createServer, IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';

/** Test-only: a provider stand-in on an ephemeral port that records what it receives. */
export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
}

export type ScriptedResponse =
  | { status: number; headers?: Record<string, string>; body?: unknown; rawBody?: string }
  /** Never answers: the client must time out. */
  | 'hang'
  /** Drops the connection: the client sees a network error. */
  | 'destroy';

export type Responder = (request: RecordedRequest) => ScriptedResponse;

export interface RecordingServer {
  url: string;
  requests: RecordedRequest[];
  /** Answers the next requests in order, then falls back to the default responder. */
  enqueue(...responses: Array<ScriptedResponse | Responder>): void;
  setDefault(responder: Responder): void;
  close(): Promise<void>;
}

export async function startRecordingServer(defaultResponder?: Responder): Promise<RecordingServer> {
  const requests: RecordedRequest[] = [];
  const queue: Array<ScriptedResponse | Responder> = [];
  let fallback: Responder =
    defaultResponder ?? (() => ({ status: 500, body: { message: 'no scripted response' } }));

  const handle = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const recorded: RecordedRequest = {
      method: req.method ?? '',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body,
    };
    requests.push(recorded);
    const next = queue.shift() ?? fallback;
    const scripted = typeof next === 'function' ? next(recorded) : next;
    if (scripted === 'hang') return;
    if (scripted === 'destroy') {
      req.socket.destroy();
      return;
    }
    const payload = scripted.rawBody ?? (scripted.body === undefined ? '' : JSON.stringify(scripted.body));
    res.writeHead(scripted.status, { 'content-type': 'application/json', ...scripted.headers });
    res.end(payload);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    enqueue: (...responses) => queue.push(...responses),
    setDefault: (responder) => {
      fallback = responder;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
