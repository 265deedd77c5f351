import { connect, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { percentile, sortedCopy } from './stats';

export interface PacedRequest {
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface PacedResult {
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  /** First request's scheduled time → last response, in seconds. */
  seconds: number;
  /** Latency from each request's scheduled send time (so time spent waiting for a free connection counts), ms. */
  p50: number;
  p99: number;
  max: number;
}

const HEADER_END = Buffer.from('\r\n\r\n');

/** Where a chunked body that starts at `from` ends (after its last chunk), or null while incomplete. */
function chunkedBodyEnd(buffer: Buffer, from: number): number | null {
  let at = from;
  for (;;) {
    const lineEnd = buffer.indexOf('\r\n', at);
    if (lineEnd < 0) return null;
    const size = parseInt(buffer.subarray(at, lineEnd).toString('latin1'), 16);
    // The last chunk is followed by an empty trailer line.
    if (size === 0) return buffer.length >= lineEnd + 4 ? lineEnd + 4 : null;
    at = lineEnd + 2 + size + 2;
    if (buffer.length < at) return null;
  }
}

/** One keep-alive connection, one request at a time (HTTP/1.1 without pipelining). */
class Connection {
  private socket: Socket | null = null;
  private buffered: Buffer = Buffer.alloc(0);
  private current: { done: (status: number | null) => void } | null = null;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  get idle(): boolean {
    return this.current === null;
  }

  send(request: Buffer, done: (status: number | null) => void): void {
    this.current = { done };
    const socket = this.socket ?? this.open();
    socket.write(request);
  }

  close(): void {
    this.socket?.destroy();
  }

  private open(): Socket {
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    socket.on('data', (chunk: Buffer) => this.received(chunk));
    const lost = (): void => {
      // A socket this connection already let go (closed after a `connection: close` answer) may
      // report its close while the next request is out on a new one: that request is not lost.
      if (this.socket !== socket) return;
      this.socket = null;
      this.buffered = Buffer.alloc(0);
      this.finish(null);
    };
    socket.on('error', lost);
    socket.on('close', lost);
    this.socket = socket;
    return socket;
  }

  private received(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const headerEnd = this.buffered.indexOf(HEADER_END);
    if (headerEnd < 0) return;
    const head = this.buffered.subarray(0, headerEnd).toString('latin1');
    const end = /\r\ntransfer-encoding:\s*chunked/i.test(head)
      ? chunkedBodyEnd(this.buffered, headerEnd + 4)
      : headerEnd + 4 + Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    if (end === null || this.buffered.length < end) return;
    this.buffered = this.buffered.subarray(end);
    const status = Number(head.slice(9, 12));
    if (/\r\nconnection:\s*close/i.test(head)) {
      this.socket?.destroy();
      this.socket = null;
    }
    this.finish(status);
  }

  private finish(status: number | null): void {
    const current = this.current;
    this.current = null;
    current?.done(status);
  }
}

/**
 * Sends `requests` at an even `rate` per second over at most `connections` keep-alive
 * connections, each at its own moment (t0 + i / rate), as wrk2 does. autocannon's `overallRate`
 * sends each connection's share of a second back to back at the start of the second, so the
 * server sees bursts at full speed and the latency at "2,000/s" is really the latency of a burst.
 * Latency counts from the scheduled moment, not from when a connection became free: a server
 * that falls behind the rate shows it in p99 instead of slowing the sender down (coordinated
 * omission). Requests are pre-serialised bytes on raw sockets, not node:http's client: that
 * client cost a quarter of a core at 2,000/s, taken from the system under test on this 2-core
 * machine.
 */
export async function pacedLoad(
  url: string,
  requests: readonly PacedRequest[],
  rate: number,
  connections: number,
  onSent?: (index: number, at: number) => void,
  onAnswered?: (index: number, scheduledAt: number, latencyMs: number) => void,
): Promise<PacedResult> {
  const target = new URL(url);
  const wire = requests.map(({ path, headers, body }) => {
    const lines = [
      `POST ${path} HTTP/1.1`,
      `host: ${target.host}`,
      `content-length: ${Buffer.byteLength(body)}`,
    ];
    for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
    return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`);
  });
  const pool = Array.from(
    { length: connections },
    () => new Connection(target.hostname, Number(target.port)),
  );
  const latencies: number[] = [];
  const result = { sent: 0, ok: 0, non2xx: 0, errors: 0 };
  const interval = 1000 / rate;
  const t0 = performance.now() + 50;
  let lastAnswer = t0;
  let next = 0;
  let answered = 0;
  /** Due requests waiting for a free connection, oldest first. */
  const waiting: number[] = [];

  await new Promise<void>((finished) => {
    const dispatch = (): void => {
      for (const connection of pool) {
        if (waiting.length === 0) return;
        if (!connection.idle) continue;
        const index = waiting.shift() as number;
        const scheduled = t0 + index * interval;
        onSent?.(index, Date.now());
        result.sent++;
        connection.send(wire[index], (status) => {
          const now = performance.now();
          lastAnswer = Math.max(lastAnswer, now);
          latencies.push(now - scheduled);
          onAnswered?.(index, performance.timeOrigin + scheduled, now - scheduled);
          if (status === null) result.errors++;
          else if (status >= 200 && status < 300) result.ok++;
          else result.non2xx++;
          if (++answered === requests.length) finished();
          else dispatch();
        });
      }
    };
    const tick = (): void => {
      const now = performance.now();
      while (next < requests.length && t0 + next * interval <= now) waiting.push(next++);
      dispatch();
      // A timer, not a busy loop: the sender must not take a core from the system it measures. A
      // timer fires up to ~1 ms late, and that lateness is counted in the latency (it runs from the
      // scheduled moment), so the figures err by at most that, never in the server's favour.
      if (next < requests.length) setTimeout(tick, Math.max(0, t0 + next * interval - performance.now()));
    };
    tick();
  });
  for (const connection of pool) connection.close();
  const sorted = sortedCopy(latencies);
  return {
    ...result,
    seconds: (lastAnswer - t0) / 1000,
    p50: Math.round(percentile(sorted, 50)),
    p99: Math.round(percentile(sorted, 99)),
    max: Math.round(sorted[sorted.length - 1] ?? 0),
  };
}
