import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadGeneratorPriorityText } from './processes';
import { HELD_RATE_SHARE, KEPT_PACE_DRAIN_LAG_MS, KEPT_PACE_P99_MS } from './stats';
import { CreditFigures, LoadFigures, SustainedFigures, WebhookBenchResult } from './webhooks.bench';

const TARGETS = {
  acceptedPerSecond: 2000,
  p99Ms: 25,
  ratioOfBaseline: 0.6,
};

function row(cells: Array<string | number>): string {
  return `| ${cells.join(' | ')} |`;
}

/** A figure that could not be measured (nothing credited, say) shows as a dash, not as NaN. */
const shown = (value: number): string | number => (Number.isFinite(value) ? value : '—');

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

type Verdict = 'met' | 'not met' | 'not shown';

function verdictOf(ok: boolean): Verdict {
  return ok ? 'met' : 'not met';
}

function creditRows(credits: CreditFigures): string[] {
  return [
    row(['webhooks sent / credited', `${credits.sent} / ${credits.credited}`]),
    row(['credited when the load ended', credits.creditedWhenLoadEnded]),
    row(['credits/s (first webhook → last credit)', shown(credits.perSecond)]),
    row([
      'end-to-end p50 / p99 / max (ms, webhook sent → credit)',
      `${shown(credits.p50)} / ${shown(credits.p99)} / ${shown(credits.max)}`,
    ]),
    row([
      'drain lag: last webhook sent → last credit (ms)',
      Number.isNaN(credits.drainLagMs) ? 'not every webhook credited' : credits.drainLagMs,
    ]),
  ];
}

function bookkeepingRows(credits: CreditFigures): string[] {
  return [
    row(['stored events / ledger top-up entries', `${credits.storedEvents} / ${credits.ledgerTopups}`]),
    row(['exactly once', credits.exactlyOnce ? 'yes' : '**no**']),
  ];
}

function drainLagText(credits: CreditFigures): string {
  return Number.isNaN(credits.drainLagMs)
    ? `${credits.credited}/${credits.sent} credited`
    : `last credit ${credits.drainLagMs} ms after the last webhook`;
}

/** No double credit is not enough: a webhook never credited fails the target too. */
function exactlyOnceText(credits: CreditFigures): string {
  const once = credits.exactlyOnce ? 'yes' : 'no';
  return credits.credited === credits.sent ? once : `${once}, ${credits.credited}/${credits.sent} credited`;
}

function sustainedTable(sustained: SustainedFigures): string[] {
  const { load, credits } = sustained;
  return [
    row([`sustained: ${sustained.askedRate}/s asked, the worker crediting`, 'value']),
    row(['---', '---:']),
    row([
      'accepted/s',
      sustained.heldRate
        ? `${load.perSecond} (held the asked rate)`
        : `${load.perSecond} (**could not hold ${sustained.askedRate}/s**)`,
    ]),
    row(['s (first webhook sent → last answered)', load.seconds.toFixed(2)]),
    row(['sending peak (most sent in any 100 ms, per second)', shown(sustained.peakSendRate)]),
    row(['latency p50 / p99 / max (ms)', `${load.p50} / ${load.p99} / ${load.max}`]),
    row(['2xx / non-2xx / errors', `${load.ok} / ${load.non2xx} / ${load.errors}`]),
    row(['load avg before', load.loadAverage]),
    ...creditRows(credits),
    row([
      `credits kept pace (drain lag ≤ ${KEPT_PACE_DRAIN_LAG_MS} ms and end-to-end p99 < ${KEPT_PACE_P99_MS} ms)`,
      credits.keptPace ? 'yes' : '**no**',
    ]),
    ...bookkeepingRows(credits),
  ];
}

/** The figures as Markdown tables (printed, and kept in docs/performance.md). */
export function renderWebhookReport(result: WebhookBenchResult, at = new Date()): string {
  const { baseline, floor, intakeOnly, intakePaced, flood, floodCredits, sustained, machine, options } =
    result;
  const asked = sustained.askedRate;
  const belowTarget = asked < TARGETS.acceptedPerSecond;
  /** The sustained run decides a target only when it asked for the target's rate and held it. */
  const bySustained = (ok: boolean): Verdict =>
    belowTarget ? 'not shown' : verdictOf(sustained.heldRate && ok);
  const verdictText = (verdict: Verdict): string => {
    switch (verdict) {
      case 'met':
        return 'met';
      case 'not met':
        return '**not met**';
      case 'not shown':
        return `not shown: the sustained run asked ${asked}/s, below ${TARGETS.acceptedPerSecond}/s`;
    }
  };
  const sustainedRate = `sustained ${sustained.load.perSecond}/s of ${asked}/s asked (${sustained.heldRate ? 'held' : '**could not hold it**'})`;
  const ratios = [
    `flood ${Math.round(result.ratio * 100)}%`,
    ...(result.intakeRatio === null ? [] : [`intake only ${Math.round(result.intakeRatio * 100)}%`]),
    `the floor ${Math.round(result.floorRatio * 100)}%`,
  ];
  const sustainedCredits = sustained.credits;
  const lines = [
    `Measured ${at.toISOString().slice(0, 16).replace('T', ' ')} UTC with \`npm run bench -- webhooks\` on ${machine.cpus} × ${machine.cpuModel}, ` +
      `${machine.memoryGiB} GiB, Node ${machine.node}, PostgreSQL ${machine.postgres} (synchronous_commit on); everything on this one machine: ` +
      `PostgreSQL, RabbitMQ, the gateway, the worker, the provider sandbox and the load generators. ` +
      loadGeneratorPriorityText(machine.loadGeneratorNice) +
      ` PostgreSQL runs with autovacuum off here (the test suites' setting), so the bench vacuums the tables it churns ` +
      `before each measured run, as autovacuum would have by then.`,
    '',
    `Load: distinct, correctly signed Mercado Pago notifications (each for a pending top-up whose payment the sandbox ` +
      `reports approved), ${options.connections} connections; DATABASE_POOL_SIZE=${options.poolSize}, LOG_LEVEL=${options.logLevel}. ` +
      `The flood sends ${options.events} of them as fast as the gateway answers, with the worker crediting: the gateway's capacity. ` +
      `The sustained run then sends ${asked * options.sustainedSeconds} fresh ones at ${asked}/s, evenly paced ` +
      `for ${options.sustainedSeconds} s, with the worker crediting: whether credits keep pace with arrivals, and latency at that rate ` +
      `rather than at saturation. It starts once the flood's credits are done. The baseline sends the flood's bodies in turn for ` +
      `${options.durationSeconds} s (it stores bytes, so a repeat costs it what a new one does), long enough for a steady rate. ` +
      `The floor (tools/bench/src/floor-server.ts) is as bare as the baseline but does the least the contract asks of a ` +
      `webhook endpoint: an HMAC, the body parsed, the event (unique by its provider id) and its outbox row committed in one ` +
      `statement before the 200, concurrent requests grouped into one statement as the gateway groups them, then published to a ` +
      `quorum queue with publisher confirms and the outbox rows deleted; it gets the same events for as long, each as a new event. ` +
      `Its share of the baseline is about the most a gateway keeping the contract could reach on this machine.` +
      (intakeOnly
        ? ` The gateway alone (--intake-only, no worker running) gets a third as many fresh ones as the flood, as fast as ` +
          `it answers, then ${asked * options.sustainedSeconds} more at ${asked}/s: its intake without crediting sharing the cores.`
        : ''),
    '',
    `\`s\` is the run's wall-clock time from the first request sent to the last response received, measured by the bench; ` +
      `accepted/s is the 2xx responses divided by it. The baseline and the flood run on autocannon, whose latencies are taken ` +
      `as measured. The sustained run has its own sender (tools/bench/src/paced-load.ts): each webhook leaves at its own ` +
      `moment (first + i / rate) on up to ${options.connections} keep-alive connections, and its latency counts from that ` +
      `moment, so waiting for a free connection counts too (no coordinated omission); its timer may fire up to ~1 ms late, ` +
      `which counts against the gateway. autocannon's own \`overallRate\` sends each connection's share of a second back to ` +
      `back, which would measure bursts instead. ` +
      `A fixed-rate run holds its rate when it reaches ${HELD_RATE_SHARE * 100}% of it.`,
    '',
    row(['run', '2xx', 'errors', 's', 'accepted/s', 'p50 ms', 'p99 ms', 'max ms', 'load avg before']),
    row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:']),
    loadRow(baseline),
    loadRow(floor),
    ...(intakeOnly ? [loadRow(intakeOnly)] : []),
    ...(intakePaced ? [loadRow(intakePaced)] : []),
    loadRow(flood),
    '',
    row(['webhook → credit, flood', 'value']),
    row(['---', '---:']),
    ...creditRows(floodCredits),
    ...bookkeepingRows(floodCredits),
    '',
    ...(floodCredits.credited < floodCredits.sent
      ? [
          `The flood's credits were not all done (${floodCredits.credited}/${floodCredits.sent}) when the sustained run ` +
            `started: its figures include that backlog.`,
          '',
        ]
      : []),
    ...sustainedTable(sustained),
    '',
    row(['target (issue 4)', 'measured', '']),
    row(['---', '---', '---']),
    row([
      `≥ ${TARGETS.acceptedPerSecond} webhooks/s accepted`,
      `flood ${flood.perSecond}/s; ${sustainedRate}`,
      verdictText(flood.perSecond >= TARGETS.acceptedPerSecond ? bySustained(true) : 'not met'),
    ]),
    row([
      `p99 < ${TARGETS.p99Ms} ms (durable), judged at the sustained rate`,
      `sustained ${sustained.load.p99} ms; flood ${flood.p99} ms (saturated, for information)` +
        (intakePaced ? `; the gateway alone at ${asked}/s ${intakePaced.p99} ms (for information)` : ''),
      verdictText(bySustained(sustained.load.p99 < TARGETS.p99Ms)),
    ]),
    row([
      `≥ ${TARGETS.ratioOfBaseline * 100}% of the baseline (flood)`,
      ratios.join('; '),
      verdictText(verdictOf(result.ratio >= TARGETS.ratioOfBaseline)),
    ]),
    row([
      'credits as fast as they arrive, judged on the sustained run',
      `sustained: ${drainLagText(sustainedCredits)}, end-to-end p99 ` +
        `${shown(sustainedCredits.p99)} ms, ${shown(sustainedCredits.perSecond)} credits/s` +
        `${sustained.heldRate ? '' : ` (the gateway accepted only ${sustained.load.perSecond}/s)`}; ` +
        `flood: ${shown(floodCredits.perSecond)} credits/s vs ${flood.perSecond}/s accepted (for information)`,
      verdictText(bySustained(sustainedCredits.keptPace)),
    ]),
    row([
      'exactly once',
      `flood ${exactlyOnceText(floodCredits)}; sustained ${exactlyOnceText(sustainedCredits)}`,
      verdictText(
        verdictOf([floodCredits, sustainedCredits].every((c) => c.exactlyOnce && c.credited === c.sent)),
      ),
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
