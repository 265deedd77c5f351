import { ProviderName, isRecord } from './util';

export interface RequestLogEntry {
  /** Increases in the order requests arrived. */
  id: number;
  /** When the request arrived (ISO-8601 UTC). */
  at: string;
  provider: ProviderName;
  method: string;
  path: string;
  query: Record<string, unknown>;
  headers: Record<string, string>;
  body: unknown;
  response: { status: number; body: unknown };
  durationMs: number;
  /** Set when an injected fault answered or delayed this call. */
  faultId?: number;
}

export interface RequestLogQuery {
  provider?: ProviderName;
  limit?: number;
}

const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);
const SECRET_HEADER_PATTERN = /token|secret|api-?key|password/i;
/** Graph and OAuth parameters that carry credentials. */
const SECRET_FIELDS = new Set([
  'access_token',
  'input_token',
  'client_secret',
  'appsecret_proof',
  'card_token_id',
  'password',
  'secret',
  'code',
]);

/** Keeps a short prefix so a reader can still tell test tokens apart, hides the rest. */
export function maskSecret(value: string): string {
  const bearer = /^(Bearer|Basic)\s+(.*)$/i.exec(value);
  if (bearer) return `${bearer[1]} ${maskSecret(bearer[2])}`;
  if (value.length <= 8) return '***';
  return `${value.slice(0, 4)}***`;
}

export function maskHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(headers)) {
    if (raw === undefined) continue;
    const value = Array.isArray(raw) ? raw.join(', ') : raw;
    const lower = name.toLowerCase();
    out[lower] = SECRET_HEADERS.has(lower) || SECRET_HEADER_PATTERN.test(lower) ? maskSecret(value) : value;
  }
  return out;
}

/** Answers only ever carry issued tokens; `code` there is an error code, not an OAuth code. */
const SECRET_RESPONSE_FIELDS = new Set(['access_token']);

/** Masks credential fields at any depth of a parsed request body or query. */
export function maskFields(value: unknown, fields: ReadonlySet<string> = SECRET_FIELDS, depth = 0): unknown {
  if (depth > 10) return value;
  if (Array.isArray(value)) return value.map((item) => maskFields(item, fields, depth + 1));
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] =
      fields.has(key.toLowerCase()) && typeof item === 'string'
        ? maskSecret(item)
        : maskFields(item, fields, depth + 1);
  }
  return out;
}

export function maskResponseBody(value: unknown): unknown {
  return maskFields(value, SECRET_RESPONSE_FIELDS);
}

/** An entry as stored: built when first read, then kept. */
interface StoredEntry {
  id: number;
  build: () => RequestLogEntry;
  entry?: RequestLogEntry;
}

/**
 * Provider calls, kept in memory up to a bound so a long demo cannot grow without limit. Entries are
 * built when first read: masking the headers and parsing the answer back from JSON was a third of
 * the sandbox's CPU per call under the webhook bench, for a log read a few times per test.
 */
export class RequestLog {
  private entries: StoredEntry[] = [];
  private lastId = 0;

  constructor(private readonly capacity: number) {}

  /** Reserves the arrival-order id when a request comes in. */
  nextId(): number {
    this.lastId += 1;
    return this.lastId;
  }

  /** `build` runs at most once, when the entry is first listed; what it reads must not change meanwhile. */
  record(id: number, build: () => RequestLogEntry): void {
    // Entries are recorded when answered; keep them sorted by arrival so slow calls land in place.
    let index = this.entries.length;
    while (index > 0 && this.entries[index - 1].id > id) index -= 1;
    this.entries.splice(index, 0, { id, build });
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
  }

  /** Newest first. */
  list(query: RequestLogQuery = {}): RequestLogEntry[] {
    const limit = query.limit ?? 100;
    const out: RequestLogEntry[] = [];
    for (let i = this.entries.length - 1; i >= 0 && out.length < limit; i -= 1) {
      const stored = this.entries[i];
      const entry = (stored.entry ??= stored.build());
      if (query.provider === undefined || entry.provider === query.provider) out.push(entry);
    }
    return out;
  }

  clear(): void {
    // Ids keep increasing so a reader polling "since id N" never sees an old id reused.
    this.entries = [];
  }
}
