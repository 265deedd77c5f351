import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { LoadFigures, WebhookBenchResult } from './webhooks.bench';

const TARGETS = {
  acceptedPerSecond: 2000,
  p99Ms: 25,
  ratioOfBaseline: 0.6,
};

function row(cells: Array<string | number>): string {
  return `| ${cells.join(' | ')} |`;
}

function loadRow(f: LoadFigures): string {
  return row([
    f.label,
    f.ok,
    f.non2xx + f.errors,
    f.seconds.toFixed(2),
    f.perSecond,
    f.p50,
    f.p99,
    f.max,
    f.loadAverage,
  ]);
}

const verdict = (ok: boolean): string => (ok ? 'met' : '**not met**');

/** The figures as a Markdown table (printed, and kept in docs/performance.md). */
export function renderWebhookReport(result: WebhookBenchResult, at = new Date()): string {
  const { baseline, gateway, intakeOnly, credits, machine, options } = result;
  const lines = [
    `Measured ${at.toISOString().slice(0, 16).replace('T', ' ')} UTC with \`npm run bench -- webhooks\` on ${machine.cpus} × ${machine.cpuModel}, ` +
      `${machine.memoryGiB} GiB, Node ${machine.node}, PostgreSQL ${machine.postgres} (synchronous_commit on); everything on this one machine: ` +
      `PostgreSQL, RabbitMQ, the gateway, the worker, the provider sandbox and autocannon.`,
    '',
    `Load: ${options.events} distinct, correctly signed Mercado Pago notifications (each for a pending top-up whose payment the sandbox ` +
      `reports approved), ${options.connections} connections; DATABASE_POOL_SIZE=${options.poolSize}, LOG_LEVEL=${options.logLevel}. ` +
      `Each gateway run sends its events once and ends when they are answered; the baseline sends the same bodies in turn for ` +
      `${options.durationSeconds} s (it stores bytes, so a repeat costs it what a new one does), long enough for a steady rate.`,
    '',
    `\`s\` is the run's wall-clock time from the first request sent to the last response received, measured by the bench; ` +
      `accepted/s is the 2xx responses divided by it. Latencies are autocannon's.`,
    '',
    row(['run', '2xx', 'errors', 's', 'accepted/s', 'p50 ms', 'p99 ms', 'max ms', 'load avg before']),
    row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:']),
    loadRow(baseline),
    ...(intakeOnly ? [loadRow(intakeOnly)] : []),
    loadRow(gateway),
    '',
    row(['webhook → credit', 'value']),
    row(['---', '---:']),
    row(['webhooks sent / credited', `${credits.sent} / ${credits.credited}`]),
    row(['credited when the load ended', credits.creditedWhenLoadEnded]),
    row(['end-to-end p50 (ms)', credits.p50]),
    row(['end-to-end p99 (ms)', credits.p99]),
    row(['credits/s (first webhook → last credit)', credits.perSecond]),
    row(['stored events / ledger top-up entries', `${credits.storedEvents} / ${credits.ledgerTopups}`]),
    row(['exactly once', credits.exactlyOnce ? 'yes' : '**no**']),
    '',
    row(['target (issue 4)', 'measured', '']),
    row(['---', '---:', '---']),
    row([
      `≥ ${TARGETS.acceptedPerSecond} webhooks/s accepted`,
      gateway.perSecond,
      verdict(gateway.perSecond >= TARGETS.acceptedPerSecond),
    ]),
    row([`p99 < ${TARGETS.p99Ms} ms (durable)`, gateway.p99, verdict(gateway.p99 < TARGETS.p99Ms)]),
    row([
      `≥ ${TARGETS.ratioOfBaseline * 100}% of the baseline`,
      `${Math.round(result.ratio * 100)}%`,
      verdict(result.ratio >= TARGETS.ratioOfBaseline),
    ]),
    row([
      'credits as fast as they arrive',
      `${credits.perSecond}/s vs ${gateway.perSecond}/s`,
      verdict(credits.perSecond >= gateway.perSecond * 0.95),
    ]),
    row([
      'exactly once',
      credits.exactlyOnce ? 'yes' : 'no',
      verdict(credits.exactlyOnce && credits.credited === credits.sent),
    ]),
  ];
  return lines.join('\n');
}

/**
 * Replaces this benchmark's section of docs/performance.md, leaving everything
 * else (other benchmarks, prose) as it is.
 */
export function writeWebhookReport(path: string, report: string): void {
  const START = `<!-- bench:webhooks:start -->`;
  const END = `<!-- bench:webhooks:end -->`;
  const section = `${START}\n${report}\n${END}`;
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '';
  if (current.includes(START) && current.includes(END)) {
    const before = current.slice(0, current.indexOf(START));
    const after = current.slice(current.indexOf(END) + END.length);
    writeFileSync(path, `${before}${section}${after}`);
    return;
  }
  const header = current.length > 0 ? `${current.trimEnd()}\n\n` : '# Performance\n\n';
  writeFileSync(path, `${header}## Webhooks (issue 4)\n\n${section}\n`);
}
