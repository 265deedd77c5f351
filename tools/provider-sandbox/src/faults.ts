import { ProviderName, isProviderName, isRecord } from './util';

export interface FaultSpec {
  provider: ProviderName;
  /** HTTP status to answer with; absent means "delay only, then answer normally". */
  status?: number;
  /** How many of the provider's next calls this fault affects. */
  count: number;
  delayMs?: number;
  /** Graph error code for Meta faults (default 17 for 429, 2 for 5xx, 1 otherwise). */
  graphCode?: number;
  /** Provider-specific error code, e.g. OpenAI's `insufficient_quota`. */
  errorCode?: string;
}

export interface Fault extends FaultSpec {
  id: number;
  remaining: number;
  createdAt: string;
}

/** What one affected call must do. */
export interface FaultHit {
  faultId: number;
  provider: ProviderName;
  status?: number;
  delayMs?: number;
  graphCode?: number;
  errorCode?: string;
}

export type FaultSpecResult = { ok: true; spec: FaultSpec } | { ok: false; errors: string[] };

const MAX_COUNT = 10_000;
const MAX_DELAY_MS = 120_000;

export function parseFaultSpec(body: unknown): FaultSpecResult {
  if (!isRecord(body)) return { ok: false, errors: ['body must be a JSON object'] };
  const errors: string[] = [];
  const { provider, status, count, delayMs, graphCode, errorCode } = body;
  if (!isProviderName(provider)) errors.push('provider must be one of mercadopago, stripe, meta, openai');
  if (
    status !== undefined &&
    (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599)
  ) {
    errors.push('status must be an integer HTTP error status (400..599)');
  }
  if (
    count !== undefined &&
    (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_COUNT)
  ) {
    errors.push(`count must be an integer 1..${MAX_COUNT}`);
  }
  if (
    delayMs !== undefined &&
    (typeof delayMs !== 'number' || !Number.isInteger(delayMs) || delayMs < 0 || delayMs > MAX_DELAY_MS)
  ) {
    errors.push(`delayMs must be an integer 0..${MAX_DELAY_MS}`);
  }
  if (
    graphCode !== undefined &&
    (typeof graphCode !== 'number' || !Number.isInteger(graphCode) || graphCode < 1)
  ) {
    errors.push('graphCode must be a positive integer');
  }
  if (errorCode !== undefined && (typeof errorCode !== 'string' || errorCode === '')) {
    errors.push('errorCode must be a non-empty string');
  }
  if (status === undefined && delayMs === undefined) errors.push('give status, delayMs or both');
  if (errors.length > 0 || !isProviderName(provider)) return { ok: false, errors };

  const spec: FaultSpec = { provider, count: typeof count === 'number' ? count : 1 };
  if (typeof status === 'number') spec.status = status;
  if (typeof delayMs === 'number') spec.delayMs = delayMs;
  if (typeof graphCode === 'number') spec.graphCode = graphCode;
  if (typeof errorCode === 'string') spec.errorCode = errorCode;
  return { ok: true, spec };
}

/**
 * Pending faults, consumed first-in first-out per provider: a test can queue "two 500s, then one
 * 429" and the provider's next three calls see exactly that.
 */
export class FaultRegistry {
  private faults: Fault[] = [];
  private lastId = 0;

  constructor(private readonly now: () => Date) {}

  add(spec: FaultSpec): Fault {
    this.lastId += 1;
    const fault: Fault = {
      ...spec,
      id: this.lastId,
      remaining: spec.count,
      createdAt: this.now().toISOString(),
    };
    this.faults.push(fault);
    return { ...fault };
  }

  /** Consumes one unit of the oldest pending fault for the provider. */
  take(provider: ProviderName): FaultHit | undefined {
    const fault = this.faults.find((candidate) => candidate.provider === provider && candidate.remaining > 0);
    if (fault === undefined) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults = this.faults.filter((candidate) => candidate !== fault);
    const hit: FaultHit = { faultId: fault.id, provider };
    if (fault.status !== undefined) hit.status = fault.status;
    if (fault.delayMs !== undefined) hit.delayMs = fault.delayMs;
    if (fault.graphCode !== undefined) hit.graphCode = fault.graphCode;
    if (fault.errorCode !== undefined) hit.errorCode = fault.errorCode;
    return hit;
  }

  list(provider?: ProviderName): Fault[] {
    return this.faults
      .filter((fault) => provider === undefined || fault.provider === provider)
      .map((fault) => ({ ...fault }));
  }

  clear(provider?: ProviderName): number {
    const before = this.faults.length;
    this.faults = provider === undefined ? [] : this.faults.filter((fault) => fault.provider !== provider);
    return before - this.faults.length;
  }
}
