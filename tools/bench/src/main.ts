import { join, resolve } from 'node:path';
import { renderWebhookReport, writeWebhookReport } from './report';
import { runWebhookBench, WebhookBenchOptions } from './webhooks.bench';
import { runAppBench } from './app.bench';
import { renderAppReport, writeAppReport } from './app-report';
import { raiseOwnPriority } from './processes';

/*
 * `npm run bench -- <scenario> [--key=value…]`. Scenarios: `webhooks`, `app`.
 * Scenario `webhooks` runs, in order: the baseline, the gateway alone (with --intake-only), then with the worker
 * crediting a flood (as fast as the gateway answers) and, once its credits are done, a sustained run at a fixed rate.
 * Options: --events=20000 (distinct signed webhooks for the flood; the intake-only run gets a third as many)
 * --rate=2000 (webhooks/s over all connections in the sustained run) --sustained-seconds=10 (the sustained run
 * sends rate × seconds fresh webhooks) --duration=15 (how long the baseline runs, cycling through the flood's
 * events) --connections=64 (every run; --rate must be at least this) --pool=20 --log-level=info
 * --intake-only (also measure the gateway with no worker running) --no-docs (do not touch docs/)
 * --cpu-profiles (V8 profiles of the gateway and the worker in tmp/bench/profiles) --timelines (each paced request's
 * scheduled time and latency in tmp/bench/timeline-<run>.tsv).
 * At the defaults it should take 2–3 minutes on 2 cores, most of it preparing 40,000 top-ups (~25 s) and waiting for
 * credits; a credit wait gives up after 30 s without a credit, or 30 s + 5 ms per webhook in all.
 * Scenario `app` (wallet read and order creation, each beside its baseline, RSS per service):
 * --duration=15 --connections=32 --pool=20 --tenants=150 --log-level=warn --no-docs --cpu-profiles (V8 profiles of
 * queue-api and the worker in tmp/bench-app/profiles).
 */
const ROOT = resolve(__dirname, '../../../..');

function flags(argv: string[]): Map<string, string> {
  const parsed = new Map<string, string>();
  for (const arg of argv) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (match) parsed.set(match[1], match[2] ?? 'true');
  }
  return parsed;
}

function integer(options: Map<string, string>, name: string, fallback: number): number {
  const raw = options.get(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer`);
  return value;
}

async function main(): Promise<void> {
  const [scenario = 'webhooks', ...rest] = process.argv.slice(2);
  const options = flags(rest);
  raiseOwnPriority();
  if (scenario === 'app') {
    const result = await runAppBench({
      root: ROOT,
      adminDatabaseUrl: process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
      amqpUrl: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
      durationSeconds: integer(options, 'duration', 15),
      connections: integer(options, 'connections', 32),
      poolSize: integer(options, 'pool', 20),
      tenants: integer(options, 'tenants', 150),
      logLevel: options.get('log-level') ?? 'warn',
      cpuProfiles: options.get('cpu-profiles') === 'true',
    });
    const report = renderAppReport(result);
    console.log(`\n${report}\n`);
    if (options.get('no-docs') !== 'true') {
      writeAppReport(join(ROOT, 'docs/performance.md'), report);
      console.log(`figures written to ${join(ROOT, 'docs/performance.md')}`);
    }
    return;
  }
  if (scenario !== 'webhooks') throw new Error(`unknown scenario ${scenario}; known: webhooks, app`);
  const benchOptions: WebhookBenchOptions = {
    root: ROOT,
    adminDatabaseUrl: process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    amqpUrl: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    events: integer(options, 'events', 20000),
    rate: integer(options, 'rate', 2000),
    sustainedSeconds: integer(options, 'sustained-seconds', 10),
    durationSeconds: integer(options, 'duration', 15),
    connections: integer(options, 'connections', 64),
    poolSize: integer(options, 'pool', 20),
    logLevel: options.get('log-level') ?? 'info',
    intakeOnly: options.get('intake-only') === 'true',
    cpuProfiles: options.get('cpu-profiles') === 'true',
    timelines: options.get('timelines') === 'true',
  };
  const result = await runWebhookBench(benchOptions);
  const report = renderWebhookReport(result);
  console.log(`\n${report}\n`);
  if (options.get('no-docs') !== 'true') {
    const path = join(ROOT, 'docs/performance.md');
    writeWebhookReport(path, report);
    console.log(`figures written to ${path}`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
