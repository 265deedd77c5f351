import { createHash } from 'node:crypto';

/** SPEC §9: the same fingerprint 3 times in 15 min is L1, 5 is L2 (report), 8 is L3 (full report). */
export const INCIDENT_WINDOW_MINUTES = 15;
export const INCIDENT_THRESHOLDS = Object.freeze({ L1: 3, L2: 5, L3: 8 });
/** An open incident with no occurrence for this long is closed when the fingerprint next recurs, and hidden from the open list. */
export const INCIDENT_QUIET_MINUTES = 60;

export const INCIDENT_LEVELS = ['L1', 'L2', 'L3'] as const;
export type IncidentLevel = (typeof INCIDENT_LEVELS)[number];

/**
 * An error's identity: its code and where it happened, hashed to a short hex id that is safe in a
 * file name. The service is deliberately left out so one failure seen by several services and
 * replicas counts together.
 */
export function incidentFingerprint(code: string, place: string): string {
  return createHash('sha256').update(`${code}\n${place}`, 'utf8').digest('hex').slice(0, 16);
}

/** The level that `count` occurrences inside the window reach, or null below L1. */
export function levelForCount(count: number): IncidentLevel | null {
  if (count >= INCIDENT_THRESHOLDS.L3) return 'L3';
  if (count >= INCIDENT_THRESHOLDS.L2) return 'L2';
  if (count >= INCIDENT_THRESHOLDS.L1) return 'L1';
  return null;
}

export function levelRank(level: IncidentLevel | null): number {
  return level === null ? 0 : INCIDENT_LEVELS.indexOf(level) + 1;
}

export function higherLevel(a: IncidentLevel | null, b: IncidentLevel | null): IncidentLevel | null {
  return levelRank(a) >= levelRank(b) ? a : b;
}

/** The levels crossed going from `before` to `after` that write a report file (L2 and L3). */
export function reportLevelsCrossed(
  before: IncidentLevel | null,
  after: IncidentLevel | null,
): IncidentLevel[] {
  return (['L2', 'L3'] as const).filter(
    (level) => levelRank(before) < levelRank(level) && levelRank(after) >= levelRank(level),
  );
}

/** `incident-<UTC timestamp>-<fingerprint>.md`, with a timestamp that sorts and is valid on every file system. */
export function incidentReportFileName(at: Date, fingerprint: string): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('.', '');
  return `incident-${stamp}-${fingerprint}.md`;
}

/** What an HTTP 5xx is called in the incident log: the problem code, refined by the underlying error's own code. */
export function httpIncidentCode(problemCode: string, error: unknown): string {
  const own = (error as { code?: unknown } | null)?.code;
  if (problemCode === 'internal_error' && typeof own === 'string' && /^[A-Za-z0-9_.:-]{1,64}$/.test(own)) {
    return `internal_error:${own}`;
  }
  return problemCode;
}
