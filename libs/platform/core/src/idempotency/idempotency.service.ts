import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';

export type IdempotencyClaim =
  | { kind: 'claimed' }
  | { kind: 'replay'; status: number; body: unknown }
  | { kind: 'in_progress' }
  | { kind: 'reused' };

/** Keys are kept at least 24 h (SPEC §3); we keep them 48 h so a retry storm around the edge is safe. */
export const IDEMPOTENCY_TTL_HOURS = 48;
/** A claim older than this with no response is from a crashed request and may be taken over. */
const ABANDONED_AFTER_SECONDS = 120;

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value as Record<string, unknown>)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export function requestFingerprint(method: string, route: string, body: unknown): string {
  return createHash('sha256').update(`${method} ${route}\n${canonical(body)}`).digest('hex');
}

@Injectable()
export class IdempotencyService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async claim(scope: string, key: string, fingerprint: string): Promise<IdempotencyClaim> {
    const inserted = (await this.dataSource.query(
      `INSERT INTO platform.idempotency_keys (scope, key, fingerprint, state, expires_at)
       VALUES ($1, $2, $3, 'in_progress', now() + make_interval(hours => $4))
       ON CONFLICT (scope, key) DO UPDATE
         SET fingerprint = EXCLUDED.fingerprint, created_at = now(), expires_at = EXCLUDED.expires_at
         WHERE platform.idempotency_keys.state = 'in_progress'
           AND platform.idempotency_keys.fingerprint = EXCLUDED.fingerprint
           AND platform.idempotency_keys.created_at < now() - make_interval(secs => $5)
       RETURNING 1`,
      [scope, key, fingerprint, IDEMPOTENCY_TTL_HOURS, ABANDONED_AFTER_SECONDS],
    )) as unknown[];
    if (inserted.length === 1) return { kind: 'claimed' };
    const rows = (await this.dataSource.query(
      `SELECT fingerprint, state, response_status, response_body FROM platform.idempotency_keys WHERE scope = $1 AND key = $2`,
      [scope, key],
    )) as Array<{ fingerprint: string; state: string; response_status: number | null; response_body: unknown }>;
    const row = rows[0];
    if (!row) return this.claim(scope, key, fingerprint);
    if (row.fingerprint !== fingerprint) return { kind: 'reused' };
    if (row.state !== 'completed') return { kind: 'in_progress' };
    return { kind: 'replay', status: row.response_status ?? 200, body: row.response_body };
  }

  async complete(scope: string, key: string, status: number, body: unknown): Promise<void> {
    await this.dataSource.query(
      `UPDATE platform.idempotency_keys SET state = 'completed', response_status = $3, response_body = $4::jsonb
       WHERE scope = $1 AND key = $2`,
      [scope, key, status, JSON.stringify(body ?? null)],
    );
  }

  /** A failed first attempt frees the key, so the client may retry it once the cause is fixed. */
  async release(scope: string, key: string): Promise<void> {
    await this.dataSource.query(
      `DELETE FROM platform.idempotency_keys WHERE scope = $1 AND key = $2 AND state = 'in_progress'`,
      [scope, key],
    );
  }

  async purgeExpired(): Promise<number> {
    const result = (await this.dataSource.query(
      `WITH gone AS (DELETE FROM platform.idempotency_keys WHERE expires_at < now() RETURNING 1) SELECT count(*)::int AS n FROM gone`,
    )) as Array<{ n: number }>;
    return result[0]?.n ?? 0;
  }
}
