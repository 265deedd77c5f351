import { Agent, request } from 'node:http';
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

/**
 * Sends `requests` at an even `rate` per second over at most `connections` keep-alive
 * connections, each at its own moment (t0 + i / rate), as wrk2 does. autocannon's `overallRate`
 * sends each connection's share of a second back to back at the start of the second, so the
 * server sees bursts at full speed and the latency at "2,000/s" is really the latency of a burst.
 * Latency counts from the scheduled moment, not from when a connection became free: a server
 * that falls behind the rate shows it in p99 instead of slowing the sender down
 * (coordinated omission).
 */
export async function pacedLoad(
  url: string,
  requests: readonly PacedRequest[],
  rate: number,
  connections: number,
  onSent?: (index: number, at: number) => void,
): Promise<PacedResult> {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const latencies: number[] = [];
  const result = { sent: 0, ok: 0, non2xx: 0, errors: 0 };
  const t0 = performance.now() + 50;
  let lastAnswer = t0;
  const interval = 1000 / rate;

  const send = (index: number, scheduled: number): Promise<void> =>
    new Promise((resolve) => {
      const { path, headers, body } = requests[index];
      onSent?.(index, Date.now());
      const finish = (ok: boolean | null): void => {
        const now = performance.now();
        lastAnswer = Math.max(lastAnswer, now);
        latencies.push(now - scheduled);
        if (ok === null) result.errors++;
        else if (ok) result.ok++;
        else result.non2xx++;
        resolve();
      };
      const req = request(
        {
          host: target.hostname,
          port: target.port,
          method: 'POST',
          path,
          agent,
          headers: { ...headers, 'content-length': Buffer.byteLength(body) },
          timeout: 10_000,
        },
        (response) => {
          response.resume();
          response.on('end', () =>
            finish((response.statusCode ?? 0) >= 200 && (response.statusCode ?? 0) < 300),
          );
          response.on('error', () => finish(null));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => finish(null));
      req.end(body);
    });

  const inFlight: Array<Promise<void>> = [];
  let next = 0;
  await new Promise<void>((done) => {
    const tick = (): void => {
      const now = performance.now();
      while (next < requests.length && t0 + next * interval <= now) {
        inFlight.push(send(next, t0 + next * interval));
        result.sent++;
        next++;
      }
      if (next >= requests.length) done();
      // A timer, not a busy loop: the sender must not take a core from the system it measures. A
      // timer fires up to ~1 ms late, and that lateness is counted in the latency (it runs from the
      // scheduled moment), so the figures err by at most that, never in the server's favour.
      else setTimeout(tick, Math.max(0, t0 + next * interval - performance.now()));
    };
    tick();
  });
  await Promise.all(inFlight);
  agent.destroy();
  const sorted = sortedCopy(latencies);
  return {
    ...result,
    seconds: (lastAnswer - t0) / 1000,
    p50: Math.round(percentile(sorted, 50)),
    p99: Math.round(percentile(sorted, 99)),
    max: Math.round(sorted[sorted.length - 1] ?? 0),
  };
}
