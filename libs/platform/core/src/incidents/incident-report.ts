import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { IncidentLevel, INCIDENT_THRESHOLDS, INCIDENT_WINDOW_MINUTES } from './incident-rules';

export interface ReportOccurrence {
  at: Date;
  service: string;
  instanceId: string;
  message: string;
  correlationId: string | null;
  stack: string | null;
}

export interface ReportIncident {
  id: string;
  fingerprint: string;
  code: string;
  place: string;
  count: number;
  firstSeenAt: Date;
  lastSeenAt: Date;
  services: string[];
}

export interface CorrelatedLogLine {
  file: string;
  time: string;
  correlationId: string;
  line: string;
}

/** Upper bounds that keep a report readable and its production cheap during an error storm. */
export const REPORT_LIMITS = Object.freeze({
  logLines: 1000,
  linesScanned: 2_000_000,
  lineChars: 4000,
  traces: 10,
});

const CORRELATION_ID = /"correlationId":"([^"\\]{1,128})"/;
const TIME = /"time":"([^"\\]+)"/;

/**
 * Every JSONL line in `dir` that carries one of `correlationIds`, oldest first, from files written
 * since `since` (each service appends `<service>-<date>.jsonl` there, so one directory shared by
 * the services gives the whole story of a request across them).
 */
export async function readCorrelatedLogLines(
  dir: string,
  correlationIds: ReadonlySet<string>,
  since: Date,
): Promise<CorrelatedLogLine[]> {
  if (correlationIds.size === 0) return [];
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => name.endsWith('.jsonl')).sort();
  } catch {
    return [];
  }
  const found: CorrelatedLogLine[] = [];
  let scanned = 0;
  for (const name of names) {
    const path = join(dir, name);
    const info = await stat(path).catch(() => null);
    if (!info?.isFile() || info.mtime < since) continue;
    const lines = createInterface({
      input: createReadStream(path, { encoding: 'utf8' }),
      crlfDelay: Infinity,
    });
    for await (const line of lines) {
      if (++scanned > REPORT_LIMITS.linesScanned) break;
      const id = CORRELATION_ID.exec(line)?.[1];
      if (id === undefined || !correlationIds.has(id)) continue;
      found.push({
        file: name,
        time: TIME.exec(line)?.[1] ?? '',
        correlationId: id,
        line: line.slice(0, REPORT_LIMITS.lineChars),
      });
    }
    lines.close();
  }
  found.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  return found.slice(-REPORT_LIMITS.logLines);
}

const fence = (text: string): string => `\`\`\`\n${text.replace(/```/g, '`\u200b``')}\n\`\`\``;
const cell = (text: string | null): string =>
  (text ?? '').replace(/\|/g, '\\|').replace(/\s+/g, ' ').slice(0, 300);

/**
 * The markdown on-call opens first. L2 summarises (what, where, how often, the latest trace);
 * L3 adds every distinct trace in full and the log lines of the failing requests.
 */
export function renderIncidentReport(input: {
  level: IncidentLevel;
  incident: ReportIncident;
  occurrences: ReportOccurrence[];
  logLines: CorrelatedLogLine[];
  logDir: string | null;
  generatedAt: Date;
  generatedBy: string;
}): string {
  const { level, incident, occurrences } = input;
  const out: string[] = [
    `# Incident ${level}: \`${incident.code}\` at \`${incident.place}\``,
    '',
    `| | |`,
    `|---|---|`,
    `| Incident id | ${incident.id} |`,
    `| Fingerprint | ${incident.fingerprint} |`,
    `| Level | ${level} (L1 at ${INCIDENT_THRESHOLDS.L1}, L2 at ${INCIDENT_THRESHOLDS.L2}, L3 at ${INCIDENT_THRESHOLDS.L3} in ${INCIDENT_WINDOW_MINUTES} min) |`,
    `| Occurrences | ${incident.count} |`,
    `| First seen | ${incident.firstSeenAt.toISOString()} |`,
    `| Last seen | ${incident.lastSeenAt.toISOString()} |`,
    `| Services | ${incident.services.join(', ')} |`,
    `| Report written | ${input.generatedAt.toISOString()} by ${input.generatedBy} |`,
    '',
    '## What to do',
    '',
    '1. Read the latest occurrence below and its correlation id; `GET /v1/ops/incidents` shows whether it is still growing.',
    '2. Follow the correlation id through the JSONL logs in DEBUG_LOG_DIR (every service writes there).',
    '3. Check `GET /v1/ops/metrics`, `GET /v1/ops/dead-letters` and `GET /v1/ops/worker-health` (docs/runbook.md, "Incidents").',
    '',
    `## Latest occurrences (${Math.min(occurrences.length, 50)} of ${incident.count})`,
    '',
    '| at | service | correlation id | message |',
    '|---|---|---|---|',
    ...occurrences
      .slice(0, 50)
      .map(
        (o) =>
          `| ${o.at.toISOString()} | ${cell(o.service)} | ${cell(o.correlationId)} | ${cell(o.message)} |`,
      ),
    '',
  ];

  const traces = new Map<string, ReportOccurrence>();
  for (const occurrence of occurrences) {
    if (occurrence.stack && !traces.has(occurrence.stack)) traces.set(occurrence.stack, occurrence);
  }
  if (level === 'L2') {
    const latest = occurrences.find((o) => o.stack);
    out.push(
      '## Latest trace',
      '',
      latest?.stack ? fence(latest.stack) : '_No stack trace was recorded._',
      '',
    );
  } else {
    out.push(`## Full traces (${Math.min(traces.size, REPORT_LIMITS.traces)} distinct)`, '');
    if (traces.size === 0) out.push('_No stack trace was recorded._', '');
    for (const [stack, occurrence] of [...traces].slice(0, REPORT_LIMITS.traces)) {
      out.push(
        `### ${occurrence.at.toISOString()} · ${occurrence.service} · ${occurrence.correlationId ?? 'no correlation id'}`,
        '',
        fence(stack),
        '',
      );
    }
    out.push(`## Correlated log lines (${input.logLines.length})`, '');
    if (input.logDir === null) {
      out.push('_DEBUG_LOG_DIR is not set, so there are no log files to correlate._', '');
    } else if (input.logLines.length === 0) {
      out.push(`_No lines in ${input.logDir} carry these correlation ids._`, '');
    } else {
      const byId = new Map<string, CorrelatedLogLine[]>();
      for (const line of input.logLines)
        byId.set(line.correlationId, [...(byId.get(line.correlationId) ?? []), line]);
      for (const [id, lines] of byId) {
        out.push(
          `### correlation id ${id}`,
          '',
          fence(lines.map((l) => `${l.file}: ${l.line}`).join('\n')),
          '',
        );
      }
    }
  }
  return out.join('\n');
}
