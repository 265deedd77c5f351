import { join, resolve } from 'node:path';
import { renderWebhookReport, writeWebhookReport } from './report';
import { runWebhookBench, WebhookBenchOptions } from './webhooks.bench';
import { runAppBench } from './app.bench';
import { renderAppReport, writeAppReport } from './app-report';

/*
 * `npm run bench -- <scenario> [--key=value…]`. Scenarios: `webhooks`.
 * Options (webhooks): --events=20000 (distinct signed webhooks for each gateway run) --duration=15 (how long the
 * baseline runs, cycling through the events) --connections=64 --pool=20 --log-level=info
 * --intake-only (also measure the gateway with no worker running) --no-docs (do not touch docs/)
 * --cpu-profiles (V8 profiles of the gateway and the worker in tmp/bench/profiles).
 * Scenario `app` (wallet read and order creation, each beside its baseline, RSS per service):
 * --duration=15 --connections=32 --pool=20 --tenants=150 --log-level=warn --no-docs.
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
    durationSeconds: integer(options, 'duration', 15),
    connections: integer(options, 'connections', 64),
    poolSize: integer(options, 'pool', 20),
    logLevel: options.get('log-level') ?? 'info',
    intakeOnly: options.get('intake-only') === 'true',
    cpuProfiles: options.get('cpu-profiles') === 'true',
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
