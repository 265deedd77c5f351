import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { AiReplyClient, AiReplyRequest } from './ai-reply.client';

interface Recorded {
  method: string;
  url: string;
  authorization: string | undefined;
  body: Record<string, unknown>;
}

/** The chat-completions wire format (PROVIDERS.md), steered by the requested model name. */
function handle(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>): void {
  const json = (status: number, payload: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(payload));
  };
  const completion = (content: string | null, refusal: string | null = null): Record<string, unknown> => ({
    id: 'chatcmpl-test',
    object: 'chat.completion',
    created: 1_760_000_000,
    model: body['model'],
    choices: [{ index: 0, message: { role: 'assistant', content, refusal }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
  });
  const apiError = (message: string, type: string, code: string | null): Record<string, unknown> => ({
    error: { message, type, param: null, code },
  });

  switch (body['model']) {
    case 'ok':
      return json(200, completion('  Temos apartamentos no Centro a partir de R$ 2.000.  '));
    case 'long':
      return json(200, completion(`${'a'.repeat(4095)}😀tail`));
    case 'slow-headers':
      setTimeout(() => json(200, completion('too late')), 2_000).unref();
      return;
    case 'slow-body':
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"id":"chatcmpl-test",');
      setTimeout(() => res.end('"object":"chat.completion","choices":[]}'), 2_000).unref();
      return;
    case 'boom':
      return json(500, apiError('The server had an error', 'server_error', null));
    case 'quota':
      return json(
        429,
        apiError('You exceeded your current quota', 'insufficient_quota', 'insufficient_quota'),
      );
    case 'rate-limited':
      return json(429, apiError('Rate limit reached', 'requests', 'rate_limit_exceeded'), {
        'retry-after': '7',
      });
    case 'refusal':
      return json(200, completion(null, 'I cannot help with that.'));
    case 'not-json':
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>gateway</html>');
      return;
    default:
      return json(404, apiError('The model does not exist', 'invalid_request_error', 'model_not_found'));
  }
}

describe('AiReplyClient', () => {
  let server: Server;
  let baseURL: string;
  let requests: Recorded[];
  const warnings: { fields: Record<string, unknown>; message: string }[] = [];
  const logger = {
    warn: (fields: Record<string, unknown>, message: string): void => void warnings.push({ fields, message }),
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
        requests.push({
          method: req.method ?? '',
          url: req.url ?? '',
          authorization: req.headers.authorization,
          body,
        });
        handle(req, res, body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(() => {
    requests = [];
    warnings.length = 0;
  });

  const client = (timeoutSeconds = 5): AiReplyClient =>
    new AiReplyClient({ apiKey: 'sk-test-key', baseURL, timeoutSeconds, logger });

  const aRequest = (model: string): AiReplyRequest => ({
    model,
    systemPrompt: 'Você atende clientes de uma imobiliária.',
    history: [
      { role: 'assistant', content: 'Olá! 1) Comprar 2) Alugar' },
      { role: 'user', content: 'oi' },
    ],
    userText: 'tem apartamento no centro?',
  });

  it('answers with the assistant’s text, trimmed, sending the chat-completions request', async () => {
    await expect(client().reply({ ...aRequest('ok'), maxCompletionTokens: 300 })).resolves.toEqual({
      fallback: false,
      text: 'Temos apartamentos no Centro a partir de R$ 2.000.',
    });
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      method: 'POST',
      url: '/v1/chat/completions',
      authorization: 'Bearer sk-test-key',
    });
    expect(requests[0].body).toEqual({
      model: 'ok',
      max_completion_tokens: 300,
      messages: [
        { role: 'system', content: 'Você atende clientes de uma imobiliária.' },
        { role: 'assistant', content: 'Olá! 1) Comprar 2) Alugar' },
        { role: 'user', content: 'oi' },
        { role: 'user', content: 'tem apartamento no centro?' },
      ],
    });
    expect(warnings).toEqual([]);
  });

  it('cuts an answer to WhatsApp’s 4096 characters without splitting an emoji', async () => {
    const result = await client().reply(aRequest('long'));
    expect(result).toEqual({ fallback: false, text: 'a'.repeat(4095) });
  });

  it('falls back with "timeout" when the answer does not come in time', async () => {
    const started = Date.now();
    await expect(client(0.3).reply(aRequest('slow-headers'))).resolves.toEqual({
      fallback: true,
      reason: 'timeout',
    });
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(requests).toHaveLength(1);
    expect(warnings).toEqual([
      expect.objectContaining({ fields: expect.objectContaining({ reason: 'timeout' }) }),
    ]);
  });

  it('falls back with "timeout" when the body trickles in past the deadline', async () => {
    const started = Date.now();
    await expect(client(0.3).reply(aRequest('slow-body'))).resolves.toEqual({
      fallback: true,
      reason: 'timeout',
    });
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('falls back with "error" on a 500, without retrying', async () => {
    await expect(client().reply(aRequest('boom'))).resolves.toEqual({ fallback: true, reason: 'error' });
    expect(requests).toHaveLength(1);
    expect(warnings[0].fields).toMatchObject({ reason: 'error', status: 500 });
  });

  it('falls back with "quota" on 429 insufficient_quota, without retrying', async () => {
    await expect(client().reply(aRequest('quota'))).resolves.toEqual({ fallback: true, reason: 'quota' });
    expect(requests).toHaveLength(1);
    expect(warnings[0].fields).toMatchObject({ reason: 'quota', status: 429, code: 'insufficient_quota' });
  });

  it('passes a rate limit’s retry-after on as "error" with retryAfterSeconds', async () => {
    await expect(client().reply(aRequest('rate-limited'))).resolves.toEqual({
      fallback: true,
      reason: 'error',
      retryAfterSeconds: 7,
    });
    expect(requests).toHaveLength(1);
  });

  it.each(['refusal', 'not-json', 'unknown-model'])('falls back with "error" on %s', async (model) => {
    await expect(client().reply(aRequest(model))).resolves.toEqual({ fallback: true, reason: 'error' });
  });

  it('falls back with "error" when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const offline = new AiReplyClient({
      apiKey: 'sk-test-key',
      baseURL: `http://127.0.0.1:${port}/v1`,
      timeoutSeconds: 2,
    });
    await expect(offline.reply(aRequest('ok'))).resolves.toEqual({ fallback: true, reason: 'error' });
  });

  it('never logs the key or the customer’s text', async () => {
    await client().reply(aRequest('boom'));
    await client(0.3).reply(aRequest('slow-headers'));
    const logged = JSON.stringify(warnings);
    expect(logged).not.toContain('sk-test-key');
    expect(logged).not.toContain('centro');
  });

  it('refuses a nonsensical timeout at construction', () => {
    expect(() => new AiReplyClient({ apiKey: 'k', timeoutSeconds: 0 })).toThrow(RangeError);
    expect(() => new AiReplyClient({ apiKey: 'k', timeoutSeconds: Number.NaN })).toThrow(RangeError);
  });
});
