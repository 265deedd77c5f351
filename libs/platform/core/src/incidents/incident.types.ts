import { IncidentLevel } from './incident-rules';

export const INCIDENTS_OPTIONS = Symbol('INCIDENTS_OPTIONS');

export interface IncidentsOptions {
  /** The service recording (auth-api, queue-api, …), kept with each occurrence. */
  service: string;
  /** How often this process reports its readiness for the status page (default 15 s). */
  reportIntervalMs?: number;
}

/** What a consumer, a job or the HTTP edge reports when something fails. */
export interface IncidentInput {
  /** Stable machine code of the failure (`meta_unavailable`, `internal_error:57014`, …). */
  code: string;
  /** Where it failed: `POST /v1/billing/topups/pix`, `consumer:codex-worker:billing.topup.approved`, `job:topup-reconciliation`. */
  place: string;
  message: string;
  correlationId?: string | null;
  error?: unknown;
}

export interface RecordedIncident {
  fingerprint: string;
  /** Occurrences of this fingerprint inside the 15-minute window, this one included. */
  windowCount: number;
  /** The open incident's level after this occurrence, or null while below L1. */
  level: IncidentLevel | null;
  incidentId: string | null;
  /** Report files written because this occurrence crossed L2 or L3 (absolute paths). */
  reports: string[];
}

export interface IncidentSample {
  code: string;
  place: string;
  message: string;
  service: string;
  correlationId: string | null;
  at: string;
}

export interface IncidentReportRef {
  level: IncidentLevel;
  at: string;
  /** Absolute path of the file in DEBUG_LOG_DIR, or null when the service has no DEBUG_LOG_DIR. */
  file: string | null;
}

/** SPEC §13: `{id, level, fingerprint, count, firstSeenAt, lastSeenAt, sample}`, plus what on-call needs next. */
export interface IncidentView {
  id: string;
  level: IncidentLevel;
  fingerprint: string;
  count: number;
  firstSeenAt: string;
  lastSeenAt: string;
  sample: IncidentSample;
  code: string;
  place: string;
  status: 'open' | 'resolved';
  services: string[];
  reports: IncidentReportRef[];
  resolvedAt: string | null;
}
