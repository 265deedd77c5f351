import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { AppBenchResult } from './app.bench';
import { loadGeneratorPriorityText } from './processes';
import { AppLoadFigures } from './app-load';
import { RssFigures } from './memory';

const START = '<!-- bench:app:start -->';
const END = '<!-- bench:app:end -->';

/** The issue-4 yardsticks, applied to the app's own endpoints. */
const TARGETS = { p99Ms: 25, ratioOfBaseline: 0.6 };

const row = (cells: Array<string | number>): string => `| ${cells.join(' | ')} |`;
const loadRow = (f: AppLoadFigures): string =>
  row([
    f.label,
    f.ok,
    f.failed,
    f.seconds.toFixed(2),
    f.perSecond,
    f.p50,
    f.p90,
    f.p99,
    f.max,
    f.loadAverage,
  ]);
const verdict = (ok: boolean): string => (ok ? 'met' : '**not met**');
const pct = (ratio: number): string => `${Math.round(ratio * 100)}%`;

function rssTable(title: string, figures: RssFigures[]): string[] {
  return [
    row([`RSS during ${title}`, 'idle MiB', 'peak MiB']),
    row(['---', '---:', '---:']),
    ...figures.map((f) => row([f.service, f.idleMiB, f.peakMiB])),
  ];
}

export function renderAppReport(result: AppBenchResult, at = new Date()): string {
  const { walletRead: w, orderCreate: o, machine, options } = result;
  const walletRatio = w.app.perSecond / w.baseline.perSecond;
  const orderRatio = o.app.perSecond / o.baseline.perSecond;
  const limitsCost = 1 - w.app.perSecond / w.appWithoutLimits.perSecond;
  return [
    `Measured ${at.toISOString().slice(0, 16).replace('T', ' ')} UTC with \`npm run bench -- app\` on ${machine.cpus} × ${machine.cpuModel}, ` +
      `${machine.memoryGiB} GiB, Node ${machine.node}; PostgreSQL, RabbitMQ, Redis, the four services, the sandbox and autocannon all on ` +
      `this one machine. ${options.connections} connections, ${options.durationSeconds} s per run, ${options.tenants} tenants in turn (each ` +
      `from its own address), queue-api DATABASE_POOL_SIZE=${options.poolSize}, LOG_LEVEL=${options.logLevel}, rate limits on unless said. ` +
      loadGeneratorPriorityText(machine.loadGeneratorNice),
    '',
    `\`s\` is a run's wall-clock time from the first request sent to the last response received, measured by the bench; ` +
      `2xx/s is the 2xx responses divided by it (failed requests are not counted). Latencies are autocannon's.`,
    '',
    row(['run', '2xx', 'failed', 's', '2xx/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'load avg before']),
    row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:']),
    loadRow(w.baseline),
    loadRow(w.app),
    loadRow(w.appWithoutLimits),
    loadRow(o.baseline),
    loadRow(o.app),
    '',
    row(['target', 'measured', '']),
    row(['---', '---:', '---']),
    row([`wallet read p99 < ${TARGETS.p99Ms} ms`, w.app.p99, verdict(w.app.p99 < TARGETS.p99Ms)]),
    row([
      `wallet read ≥ ${pct(TARGETS.ratioOfBaseline)} of its baseline`,
      pct(walletRatio),
      verdict(walletRatio >= TARGETS.ratioOfBaseline),
    ]),
    row([`order create p99 < ${TARGETS.p99Ms} ms`, o.app.p99, verdict(o.app.p99 < TARGETS.p99Ms)]),
    row([
      `order create ≥ ${pct(TARGETS.ratioOfBaseline)} of its baseline`,
      pct(orderRatio),
      verdict(orderRatio >= TARGETS.ratioOfBaseline),
    ]),
    row([
      'one hold per funded order, ledger verify ok',
      `${o.holds} holds / ${o.funded} funded orders, verify ${o.ledgerOk ? 'ok' : 'FAILED'}`,
      verdict(o.holds === o.funded && o.ledgerOk),
    ]),
    row(['cost of the rate limits (wallet read throughput)', pct(limitsCost), '']),
    '',
    ...rssTable('the wallet-read run', w.rss),
    '',
    ...rssTable('the order-create run (the worker launching the campaigns meanwhile)', o.rss),
  ].join('\n');
}

/** Replaces the app benchmark's section of docs/performance.md, leaving everything else as it is. */
export function writeAppReport(path: string, report: string): void {
  const section = `${START}\n${report}\n${END}`;
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '# Performance\n';
  if (current.includes(START) && current.includes(END)) {
    writeFileSync(
      path,
      `${current.slice(0, current.indexOf(START))}${section}${current.slice(current.indexOf(END) + END.length)}`,
    );
    return;
  }
  writeFileSync(
    path,
    `${current.trimEnd()}\n\n## The app's hot endpoints: wallet read and order creation (issue 7)\n\n${section}\n`,
  );
}
