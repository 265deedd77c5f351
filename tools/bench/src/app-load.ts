import autocannon from 'autocannon';
import { loadavg } from 'node:os';
import { LoadSpan, ratePerSecond, round } from './stats';

export interface AppLoadFigures {
  label: string;
  /** 1-minute load average when the run started: other work on the machine skews every figure. */
  loadAverage: number;
  ok: number;
  failed: number;
  /** First request sent → last response received, measured by the bench (not autocannon's whole-second duration). */
  seconds: number;
  /** 2xx responses per measured second. */
  perSecond: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface BenchRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface TimedRun {
  result: autocannon.Result;
  /** First request sent → last response received. */
  seconds: number;
}

function log(message: string): void {
  process.stdout.write(`[bench] ${message}\n`);
}

/**
 * autocannon with one request template built by `setupRequest` each time, timed by the bench
 * itself: autocannon notices the end of a run only at its next one-second tick, so its `duration`
 * overstates a run by up to a second. Its latency histogram is kept as it is.
 */
export function timedAutocannon(
  options: Omit<autocannon.Options, 'requests'>,
  setupRequest: (request: autocannon.Request) => autocannon.Request,
): Promise<TimedRun> {
  const span = new LoadSpan();
  return new Promise<TimedRun>((resolve, reject) => {
    const instance = autocannon(
      {
        ...options,
        requests: [
          {
            setupRequest: (request) => {
              span.sent();
              return setupRequest(request);
            },
          },
        ],
      },
      (error: unknown, result) => (error ? reject(error) : resolve({ result, seconds: span.seconds })),
    );
    instance.on('response', () => span.answered());
  });
}

/** autocannon at a fixed concurrency for a fixed time, one freshly built request each time. */
export async function runLoad(
  label: string,
  url: string,
  options: { connections: number; durationSeconds: number },
  next: () => BenchRequest,
): Promise<AppLoadFigures> {
  const loadAverage = round(loadavg()[0], 1);
  const { result, seconds } = await timedAutocannon(
    { url, connections: options.connections, duration: options.durationSeconds, timeout: 10 },
    (request) => {
      const built = next();
      return {
        ...request,
        method: built.method,
        path: built.path,
        headers: built.headers,
        ...(built.body ? { body: built.body } : {}),
      };
    },
  );
  const ok = result['2xx'];
  const figures: AppLoadFigures = {
    label,
    loadAverage,
    ok,
    failed: result.non2xx + result.errors + result.timeouts,
    seconds: round(seconds, 2),
    perSecond: round(ratePerSecond(ok, seconds), 0),
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
  };
  log(
    `  ${label}: ${figures.perSecond}/s over ${figures.seconds.toFixed(2)} s, p50 ${figures.p50} ms, p99 ${figures.p99} ms, failed ${figures.failed} (load average before ${loadAverage})`,
  );
  return figures;
}
