import autocannon from 'autocannon';
import { loadavg } from 'node:os';
import { round } from './stats';

export interface AppLoadFigures {
  label: string;
  /** 1-minute load average when the run started: other work on the machine skews every figure. */
  loadAverage: number;
  ok: number;
  failed: number;
  seconds: number;
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

function log(message: string): void {
  process.stdout.write(`[bench] ${message}\n`);
}

/** autocannon at a fixed concurrency for a fixed time, one freshly built request each time. */
export async function runLoad(
  label: string,
  url: string,
  options: { connections: number; durationSeconds: number },
  next: () => BenchRequest,
): Promise<AppLoadFigures> {
  const loadAverage = round(loadavg()[0], 1);
  const result = await autocannon({
    url,
    connections: options.connections,
    duration: options.durationSeconds,
    timeout: 10,
    requests: [
      {
        setupRequest: (request) => {
          const built = next();
          return {
            ...request,
            method: built.method,
            path: built.path,
            headers: built.headers,
            ...(built.body ? { body: built.body } : {}),
          };
        },
      },
    ],
  });
  const ok = result['2xx'];
  const figures: AppLoadFigures = {
    label,
    loadAverage,
    ok,
    failed: result.non2xx + result.errors + result.timeouts,
    seconds: round(result.duration, 2),
    perSecond: round(ok / result.duration, 0),
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
  };
  log(
    `  ${label}: ${figures.perSecond}/s, p50 ${figures.p50} ms, p99 ${figures.p99} ms, failed ${figures.failed} (load average before ${loadAverage})`,
  );
  return figures;
}
