import * as http from 'node:http';
import * as https from 'node:https';

const JSON_TYPE = 'application/json';

/** The answer to one request: its status, its headers and its whole body as UTF-8 text. */
export interface HttpTextResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface JsonHttpOptions {
  /** `http:` or `https:`; a path here prefixes the path of every request. */
  baseUrl: string | URL;
  /** Bounds the whole exchange: waiting for a free connection, connecting, sending, reading the body. */
  timeoutMs: number;
  /** Connections open to the origin at most; further requests wait for a free one. */
  maxSockets?: number;
  /**
   * How long an unused connection is kept. A shorter `Keep-Alive: timeout=N` from the server wins,
   * so the client lets go of a connection before the server closes it under a request.
   */
  idleSocketMs?: number;
}

/** The exchange did not finish in time: no answer, or an answer that stalled before its end. */
export class HttpTimeoutError extends Error {
  override readonly name = 'TimeoutError';

  constructor(readonly timeoutMs: number) {
    super(`timeout after ${timeoutMs} ms`);
  }
}

type RequestFn = (
  options: http.RequestOptions,
  onResponse: (res: http.IncomingMessage) => void,
) => http.ClientRequest;

/**
 * JSON over node:http(s) with a keep-alive agent of its own, for provider clients on hot paths:
 * the global `fetch` costs WHATWG streams, Headers objects and an AbortSignal per request, which
 * showed in the worker's CPU profiles. Errors reject as node:http raised them (with their `code`:
 * ECONNREFUSED, ECONNRESET…), except the timeout, which rejects as `HttpTimeoutError`.
 */
export class JsonHttpTransport {
  private readonly agent: http.Agent;
  private readonly requestFn: RequestFn;
  private readonly origin: Pick<http.RequestOptions, 'protocol' | 'hostname' | 'port'>;
  private readonly basePath: string;
  private readonly timeoutMs: number;

  constructor(options: JsonHttpOptions) {
    const url = new URL(options.baseUrl);
    const agentOptions: http.AgentOptions = {
      keepAlive: true,
      maxSockets: options.maxSockets ?? 64,
      // The most recently used connection is the one least likely to have been closed by the server.
      scheduling: 'lifo',
      timeout: options.idleSocketMs ?? 4_000,
      noDelay: true,
    };
    if (url.protocol === 'https:') {
      this.agent = new https.Agent(agentOptions);
      this.requestFn = https.request;
    } else if (url.protocol === 'http:') {
      this.agent = new http.Agent(agentOptions);
      this.requestFn = http.request;
    } else {
      throw new TypeError(`Only http: and https: URLs are supported, not ${url.protocol}`);
    }
    this.origin = {
      protocol: url.protocol,
      // node:http wants an IPv6 literal without its brackets.
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port === '' ? undefined : Number(url.port),
    };
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs;
  }

  /**
   * Sends `body` (JSON text) if given and reads the whole answer, whatever its status. `path`
   * carries its query string, already encoded.
   */
  send(
    method: string,
    path: string,
    headers: Readonly<Record<string, string>>,
    body?: string,
  ): Promise<HttpTextResponse> {
    const allHeaders: http.OutgoingHttpHeaders =
      body === undefined
        ? { ...headers, Accept: JSON_TYPE }
        : {
            ...headers,
            Accept: JSON_TYPE,
            'Content-Type': JSON_TYPE,
            'Content-Length': Buffer.byteLength(body),
          };
    return new Promise<HttpTextResponse>((resolve, reject) => {
      let settled = false;
      // node:http emits on the request and the response asynchronously, so the handlers below
      // only ever run once `timer` and `fail` exist.
      const req = this.requestFn(
        { ...this.origin, agent: this.agent, method, path: this.basePath + path, headers: allHeaders },
        (res) => {
          const chunks: Buffer[] = [];
          let length = 0;
          res.on('data', (chunk: Buffer) => {
            chunks.push(chunk);
            length += chunk.length;
          });
          res.on('error', fail);
          res.on('end', () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            const text =
              chunks.length === 1
                ? chunks[0].toString('utf8')
                : Buffer.concat(chunks, length).toString('utf8');
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text });
          });
        },
      );
      const timer = setTimeout(() => {
        // Settled first: what destroy() emits next (an 'aborted' on the response…) is not the reason.
        fail(new HttpTimeoutError(this.timeoutMs));
        req.destroy();
      }, this.timeoutMs);
      const fail = (error: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      };
      req.on('error', fail);
      req.end(body);
    });
  }

  /** Closes every connection, idle or not; later requests open new ones. */
  close(): void {
    this.agent.destroy();
  }
}
