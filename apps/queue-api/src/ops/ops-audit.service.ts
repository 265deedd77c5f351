import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { cursorAtSql, decodeCursor, Page, redactValue, toPage } from '@realapp/platform';

export interface AuditRecord {
  /** Who: `ops-key:<fingerprint>` of the X-Ops-Key that was used (never the key itself). */
  actor: string;
  /** What: a stable name such as `credits.adjust`, `dead_letters.replay`. */
  action: string;
  /** On what: `tenant:<id>`, `dead_letter:<id>`, … */
  target: string | null;
  details: Record<string, unknown>;
  correlationId: string;
}

export interface AuditEntryView extends AuditRecord {
  id: string;
  at: string;
}

interface AuditRow {
  id: string;
  at: Date;
  cursor_at: string;
  actor: string;
  action: string;
  target: string | null;
  details: Record<string, unknown>;
  correlation_id: string;
}

/** The ops audit trail (append-only in the database): who did what, when, and under which correlation id. */
@Injectable()
export class OpsAuditService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Writes in `tx` when given, so an action and its audit row commit together or not at all. */
  async write(record: AuditRecord, tx?: EntityManager): Promise<void> {
    await (tx ?? this.dataSource).query(
      `INSERT INTO ops.audit_log (actor, action, target, details, correlation_id) VALUES ($1, $2, $3, $4::jsonb, $5)`,
      [
        record.actor.slice(0, 200),
        record.action.slice(0, 200),
        record.target?.slice(0, 500) ?? null,
        JSON.stringify(redactValue(record.details)),
        record.correlationId,
      ],
    );
  }

  async list(query: {
    limit: number;
    cursor?: string;
    action?: string;
    target?: string;
  }): Promise<Page<AuditEntryView>> {
    const position = decodeCursor(query.cursor);
    const rows = (await this.dataSource.query(
      `SELECT id, at, ${cursorAtSql('at')} AS cursor_at,
              actor, action, target, details, correlation_id
       FROM ops.audit_log
       WHERE ($1::timestamptz IS NULL OR (at, id) < ($1::timestamptz, $2::uuid))
         AND ($3::text IS NULL OR action = $3)
         AND ($4::text IS NULL OR target = $4)
       ORDER BY at DESC, id DESC LIMIT $5`,
      [
        position?.at ?? null,
        position?.id ?? null,
        query.action ?? null,
        query.target ?? null,
        query.limit + 1,
      ],
    )) as AuditRow[];
    return toPage(
      rows,
      query.limit,
      (row) => ({ at: row.cursor_at, id: row.id }),
      (row) => ({
        id: row.id,
        at: row.at.toISOString(),
        actor: row.actor,
        action: row.action,
        target: row.target,
        details: row.details,
        correlationId: row.correlation_id,
      }),
    );
  }
}
