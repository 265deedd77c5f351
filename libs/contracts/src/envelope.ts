/**
 * Every event on the broker travels in this envelope (SPEC §8). `causationId` is the id of the
 * message (or request) that caused this one, so a chain of effects can be followed in the logs.
 */
export interface EventEnvelope<T = unknown> {
  id: string;
  type: string;
  version: number;
  occurredAt: string;
  correlationId: string;
  causationId: string | null;
  tenantId: string | null;
  data: T;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Structural check of the envelope itself; the payload is checked against its registered schema. */
export function envelopeProblems(value: unknown): string[] {
  if (!value || typeof value !== 'object') return ['envelope: not an object'];
  const e = value as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof e.id !== 'string' || !UUID.test(e.id)) problems.push('id: must be a UUID');
  if (typeof e.type !== 'string' || !/^[a-z0-9_.]+$/.test(e.type)) problems.push('type: must be a dotted name');
  if (!Number.isInteger(e.version) || (e.version as number) < 1) problems.push('version: must be a positive integer');
  if (typeof e.occurredAt !== 'string' || Number.isNaN(Date.parse(e.occurredAt))) problems.push('occurredAt: must be ISO-8601');
  if (typeof e.correlationId !== 'string' || e.correlationId.length === 0) problems.push('correlationId: required');
  if (e.causationId !== null && typeof e.causationId !== 'string') problems.push('causationId: string or null');
  if (e.tenantId !== null && typeof e.tenantId !== 'string') problems.push('tenantId: string or null');
  if (!e.data || typeof e.data !== 'object') problems.push('data: must be an object');
  return problems;
}
