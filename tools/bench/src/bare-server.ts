import { createServer, Server } from 'node:http';

/**
 * The HTTP shell of the bench's yardsticks (baseline, floor): a bare node:http server, no framework.
 * GET answers 200 (the readiness probe); any other request's body is handed to `handle`, which
 * answers with a status: 200 sends `{"received":true}` as the gateway does, anything else an empty
 * body, and a rejected handler 503. Prints the listening line the bench waits for.
 */
export function serveBodies(name: string, port: number, handle: (body: Buffer) => Promise<number>): Server {
  const server = createServer((request, response) => {
    if (request.method === 'GET') {
      response.writeHead(200);
      response.end();
      return;
    }
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      handle(Buffer.concat(chunks)).then(
        (status) => {
          if (status !== 200) {
            response.writeHead(status);
            response.end();
            return;
          }
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end('{"received":true}');
        },
        () => {
          response.writeHead(503);
          response.end();
        },
      );
    });
  });
  server.listen(port, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ msg: `${name} listening`, url: `http://127.0.0.1:${port}` })}\n`);
  });
  return server;
}
