import { FaultRecord } from './faults';
import { InvariantResult } from './invariants';
import { LoadCounters } from './load';

export interface ChaosReport {
  durationSeconds: number;
  faults: FaultRecord[];
  invariants: InvariantResult[];
  load: LoadCounters;
  settledSeconds: number | null;
  ok: boolean;
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function formatReport(report: ChaosReport): string {
  const faults = table(
    ['fault injected', 'at', 'ready again after', 'note'],
    report.faults.map((f) => [
      f.fault,
      `${f.atSeconds.toFixed(1)} s`,
      f.recoveredSeconds === null ? 'NEVER' : `${f.recoveredSeconds.toFixed(1)} s`,
      f.error ?? '',
    ]),
  );
  const invariants = table(
    ['invariant checked', 'result', 'detail'],
    report.invariants.map((i) => [i.invariant, i.ok ? 'ok' : 'VIOLATED', i.detail]),
  );
  const l = report.load;
  const load = [
    `top-ups created ${l.topupsCreated} (failed to create ${l.topupCreateFailures}), webhook deliveries ${l.webhookDeliveries}`,
    `(refused or unreachable ${l.webhookRefusedOrUnreachable}, retried), orders ${l.ordersCreated} (failed ${l.orderCreateFailures},`,
    `throttled ${l.throttled}), stops ${l.stopsRequested}; settled ${report.settledSeconds === null ? 'NEVER' : `${report.settledSeconds.toFixed(1)} s`} after the load stopped`,
  ].join(' ');
  return `\n${faults}\n\n${invariants}\n\n${load}\n\n${report.ok ? 'CHAOS RUN OK: nothing lost, nothing doubled' : 'CHAOS RUN FAILED'}\n`;
}
