import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { cursorAtSql, decodeCursor, lockInTransaction, Page, toPage, withAdvisoryLock } from '@realapp/platform';
import { isWhatsAppError } from '../whatsapp.errors';
import { WhatsAppGraphClient } from '../graph/whatsapp-graph.client';
import { isWhatsAppGraphError, WhatsAppGraphError } from '../graph/whatsapp-graph.errors';
import { notFound, requireUuid, WhatsAppApiError } from '../nest/whatsapp-api.errors';
import { TokenVault } from '../nest/token-vault';
import { WhatsAppAlerts } from '../nest/whatsapp-alerts';
import { WhatsAppMetrics } from '../nest/whatsapp.metrics';
import {
  ClaimedOrphanView,
  ConnectionRow,
  connectionView,
  ConnectionView,
  OrphanView,
  orphanView,
  TokenCheckView,
  wabaLockName,
} from './connection.row';
import { ConnectionStatus, statusAfterCheck, TokenFacts } from './token-status';

export interface TokenHealthSummary {
  checked: number;
  active: number;
  expiring: number;
  invalid: number;
  /** Checks that could not be made (Meta unavailable); they are tried again at the next run. */
  errors: number;
}

/**
 * The tenant's connections (SPEC §14): reading them, checking their token, disconnecting them,
 * plus the ops side (orphans and claims) and the token key rotation. Every tenant query is
 * scoped by tenant_id: another tenant's id is simply not found.
 */
@Injectable()
export class ConnectionsService {
  private readonly logger = new Logger('whatsapp');

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly vault: TokenVault,
    private readonly graph: WhatsAppGraphClient,
    private readonly alerts: WhatsAppAlerts,
    private readonly metrics: WhatsAppMetrics,
  ) {}

  async list(tenantId: string, limit: number, cursor?: string): Promise<Page<ConnectionView>> {
    const position = decodeCursor(cursor);
    const rows = (await this.dataSource.query(
      `SELECT *, ${cursorAtSql('created_at')} AS cursor_at FROM whatsapp.connections
       WHERE tenant_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
       ORDER BY created_at DESC, id DESC LIMIT $4`,
      [tenantId, position?.at ?? null, position?.id ?? null, limit + 1],
    )) as Array<ConnectionRow & { cursor_at: string }>;
    return toPage(rows, limit, (r) => ({ at: r.cursor_at, id: r.id }), connectionView);
  }

  async get(tenantId: string, id: string): Promise<ConnectionView> {
    return connectionView(await this.find(tenantId, id));
  }

  /** SPEC §14 on-demand check: asks Meta now, answers `{valid, expiresAt, scopes}`, updates the status. */
  async check(tenantId: string, id: string): Promise<TokenCheckView> {
    const row = await this.find(tenantId, id);
    try {
      return (await this.checkRow(row, 'check')).view;
    } catch (error) {
      throw providerError(error);
    }
  }

  /** Unsubscribes the app from the WABA and marks the connection `disconnected`; its history stays. */
  async disconnect(tenantId: string, id: string): Promise<void> {
    const row = await this.find(tenantId, id);
    if (row.status === 'disconnected') return;
    const token = this.openToken(row);
    if (token !== null) {
      try {
        await this.graph.unsubscribeApp(row.waba_id, token);
      } catch (error) {
        // A token Meta refuses cannot unsubscribe anything; the tenant still wants the connection gone.
        if (!isWhatsAppGraphError(error) || error.retryable) throw providerError(error);
        this.logger.warn({ connectionId: row.id, graphCode: error.graphCode }, 'could not unsubscribe the app; disconnecting anyway');
      }
    }
    // The token is of no use any more: it is wiped rather than kept at rest.
    await this.dataSource.query(
      `UPDATE whatsapp.connections
       SET status = 'disconnected', disconnected_at = now(), token_ciphertext = NULL, token_key_id = NULL, updated_at = now()
       WHERE id = $1 AND tenant_id = $2 AND status <> 'disconnected'`,
      [row.id, tenantId],
    );
  }

  // ---- ops -------------------------------------------------------------------------------------

  async listOrphans(limit: number, cursor?: string): Promise<Page<OrphanView>> {
    const position = decodeCursor(cursor);
    const rows = (await this.dataSource.query(
      `SELECT *, ${cursorAtSql('orphaned_at')} AS cursor_at FROM whatsapp.connections
       WHERE tenant_id IS NULL AND ($1::timestamptz IS NULL OR (orphaned_at, id) < ($1::timestamptz, $2::uuid))
       ORDER BY orphaned_at DESC, id DESC LIMIT $3`,
      [position?.at ?? null, position?.id ?? null, limit + 1],
    )) as Array<ConnectionRow & { cursor_at: string | null }>;
    // An orphan always has orphaned_at (the query's keyset); created_at stands in only for the type.
    return toPage(rows, limit, (r) => ({ at: r.cursor_at ?? r.created_at.toISOString(), id: r.id }), orphanView);
  }

  /**
   * Attaches an orphan to a tenant. Claiming it again for the same tenant answers the same
   * (a retried request is harmless); for another tenant it is refused.
   */
  async claimOrphan(id: string, tenantId: string): Promise<ClaimedOrphanView> {
    const connectionId = requireUuid(id, 'orphan');
    return this.dataSource.transaction(async (tx) => {
      const [found] = (await tx.query(`SELECT waba_id FROM whatsapp.connections WHERE id = $1`, [connectionId])) as Array<{
        waba_id: string;
      }>;
      if (!found) throw notFound('orphan');
      // Partner events and completions on this WABA take the same lock.
      await lockInTransaction(tx, wabaLockName(found.waba_id));
      const [row] = (await tx.query(`SELECT * FROM whatsapp.connections WHERE id = $1 FOR UPDATE`, [connectionId])) as ConnectionRow[];
      if (row.tenant_id !== null) {
        if (row.tenant_id === tenantId && row.claimed_at !== null) return { ...connectionView(row), tenantId };
        throw new WhatsAppApiError('orphan_already_claimed', 'This connection already belongs to a tenant.');
      }
      const [claimed] = (await tx.query(
        `UPDATE whatsapp.connections SET tenant_id = $2, claimed_at = now(), updated_at = now() WHERE id = $1 RETURNING *`,
        [connectionId, tenantId],
      )) as [ConnectionRow[], number];
      const updated = claimed[0];
      this.logger.log({ connectionId, tenantId, wabaId: updated.waba_id }, 'orphan connection claimed by ops');
      return { ...connectionView(updated), tenantId };
    });
  }

  // ---- jobs ------------------------------------------------------------------------------------

  /**
   * SPEC §14 token health: every live connection's token is checked; expiring and invalid ones
   * change status and raise an incident and a metric. Runs once across replicas.
   */
  async runTokenHealthCheck(): Promise<TokenHealthSummary | null> {
    const outcome = await withAdvisoryLock(this.dataSource, 'whatsapp-token-health', async () => {
      const summary: TokenHealthSummary = { checked: 0, active: 0, expiring: 0, invalid: 0, errors: 0 };
      let after = '00000000-0000-0000-0000-000000000000';
      for (;;) {
        const rows = (await this.dataSource.query(
          `SELECT * FROM whatsapp.connections
           WHERE status <> 'disconnected' AND tenant_id IS NOT NULL AND token_ciphertext IS NOT NULL AND id > $1
           ORDER BY id LIMIT 100`,
          [after],
        )) as ConnectionRow[];
        if (rows.length === 0) break;
        after = rows[rows.length - 1].id;
        for (const row of rows) {
          try {
            const { status } = await this.checkRow(row, 'job');
            summary.checked++;
            if (status === 'token_expiring') summary.expiring++;
            else if (status === 'token_invalid') summary.invalid++;
            else summary.active++;
          } catch (error) {
            summary.errors++;
            this.logger.warn({ connectionId: row.id, err: describe(error) }, 'token health check could not ask Meta; next run retries');
          }
        }
      }
      this.metrics.tokenProblemConnections.set({ status: 'token_expiring' }, summary.expiring);
      this.metrics.tokenProblemConnections.set({ status: 'token_invalid' }, summary.invalid);
      this.logger.log({ ...summary }, 'whatsapp token health check finished');
      return summary;
    });
    return outcome.ran ? outcome.result : null;
  }

  /**
   * Key rotation (docs/whatsapp.md): every token still sealed under a retired key is opened with
   * it and sealed again under the current one, row by row, each under its WABA lock.
   */
  async resealTokens(): Promise<{ resealed: number; remaining: number; failed: number }> {
    const current = this.vault.currentKeyId;
    let resealed = 0;
    let failed = 0;
    const skipped = new Set<string>();
    for (;;) {
      const rows = (await this.dataSource.query(
        `SELECT id, waba_id FROM whatsapp.connections
         WHERE token_key_id IS NOT NULL AND token_key_id <> $1 AND NOT (id = ANY($2::uuid[]))
         ORDER BY id LIMIT 100`,
        [current, [...skipped]],
      )) as Array<{ id: string; waba_id: string }>;
      if (rows.length === 0) break;
      for (const { id, waba_id: wabaId } of rows) {
        try {
          const done = await this.dataSource.transaction(async (tx) => {
            await lockInTransaction(tx, wabaLockName(wabaId));
            const [row] = (await tx.query(
              `SELECT id, token_ciphertext, token_key_id FROM whatsapp.connections WHERE id = $1 FOR UPDATE`,
              [id],
            )) as Array<Pick<ConnectionRow, 'id' | 'token_ciphertext' | 'token_key_id'>>;
            if (!row?.token_ciphertext || row.token_key_id === current) return false;
            const sealed = this.vault.reseal(row.token_ciphertext, row.id);
            await tx.query(
              `UPDATE whatsapp.connections SET token_ciphertext = $2, token_key_id = $3, updated_at = now() WHERE id = $1`,
              [row.id, sealed.ciphertext, sealed.keyId],
            );
            return true;
          });
          if (done) resealed++;
        } catch (error) {
          // A blob under a key that is no longer configured: reported, never dropped.
          failed++;
          skipped.add(id);
          this.logger.error(
            { code: 'whatsapp_token_reseal_failed', connectionId: id, reason: isWhatsAppError(error) ? error.code : describe(error) },
            'a WhatsApp token could not be re-encrypted under the current key',
          );
        }
      }
    }
    const [{ n }] = (await this.dataSource.query(
      `SELECT count(*)::int AS n FROM whatsapp.connections WHERE token_key_id IS NOT NULL AND token_key_id <> $1`,
      [current],
    )) as Array<{ n: number }>;
    if (resealed > 0 || n > 0) this.logger.log({ resealed, remaining: n, failed, currentKeyId: current }, 'whatsapp token re-encryption pass');
    return { resealed, remaining: n, failed };
  }

  // ---- shared ----------------------------------------------------------------------------------

  /** The business token in clear, for a Graph call; null when there is none or it cannot be opened. */
  openToken(row: Pick<ConnectionRow, 'id' | 'token_ciphertext'>): string | null {
    if (row.token_ciphertext === null) return null;
    try {
      return this.vault.open(row.token_ciphertext, row.id);
    } catch (error) {
      this.logger.error(
        { code: 'whatsapp_token_unreadable', connectionId: row.id, reason: isWhatsAppError(error) ? error.code : 'unknown' },
        'a stored WhatsApp token cannot be decrypted with the configured keys',
      );
      return null;
    }
  }

  /** Marks a connection whose token Meta refused (code 190 on a send), and raises the alert once. */
  async markTokenInvalid(row: Pick<ConnectionRow, 'id' | 'tenant_id' | 'token_expires_at'>): Promise<void> {
    const changed = (await this.dataSource.query(
      `UPDATE whatsapp.connections SET status = 'token_invalid', updated_at = now()
       WHERE id = $1 AND status IN ('active', 'token_expiring') RETURNING id`,
      [row.id],
    )) as [unknown[], number];
    if (changed[1] > 0) {
      await this.alerts.tokenProblem('token_invalid', { id: row.id, tenantId: row.tenant_id, tokenExpiresAt: row.token_expires_at }, 'send');
    }
  }

  private async checkRow(row: ConnectionRow, source: 'job' | 'check'): Promise<{ view: TokenCheckView; status: ConnectionStatus }> {
    const token = this.openToken(row);
    let facts: TokenFacts & { scopes: string[] };
    if (token === null) {
      facts = { valid: false, expiresAt: null, scopes: [] };
    } else {
      const info = await this.graph.debugToken(token);
      facts = { valid: info.isValid, expiresAt: info.expiresAt, scopes: info.scopes };
    }
    const now = new Date();
    const status = statusAfterCheck(row.status, facts, now);
    await this.dataSource.query(
      `UPDATE whatsapp.connections
       SET status = CASE WHEN status = 'disconnected' THEN status ELSE $2 END,
           token_expires_at = CASE WHEN $5 THEN $3::timestamptz ELSE token_expires_at END,
           token_scopes = $4, last_checked_at = $6, updated_at = now()
       WHERE id = $1`,
      [row.id, status, facts.expiresAt, facts.scopes, facts.valid, now],
    );
    // The daily job reports every problem it finds; an on-demand check only a change, so a tenant
    // pressing "check" repeatedly does not escalate the incident.
    const changed = status !== row.status;
    if ((status === 'token_expiring' || status === 'token_invalid') && (source === 'job' || changed)) {
      await this.alerts.tokenProblem(status, { id: row.id, tenantId: row.tenant_id, tokenExpiresAt: facts.expiresAt ?? row.token_expires_at }, source);
    }
    return { view: { valid: facts.valid, expiresAt: facts.expiresAt?.toISOString() ?? null, scopes: facts.scopes }, status };
  }

  private async find(tenantId: string, id: string): Promise<ConnectionRow> {
    const connectionId = requireUuid(id, 'connection');
    const [row] = (await this.dataSource.query(`SELECT * FROM whatsapp.connections WHERE id = $1 AND tenant_id = $2`, [
      connectionId,
      tenantId,
    ])) as ConnectionRow[];
    if (!row) throw notFound('connection');
    return row;
  }
}

/** A failed Graph call as the API answers it: 503 when trying later may work, 502 otherwise. */
export function providerError(error: unknown): unknown {
  if (!(error instanceof WhatsAppGraphError)) return error;
  return error.retryable
    ? new WhatsAppApiError('provider_unavailable', 'Meta did not answer; try again shortly.', { 'retry-after': '5' })
    : new WhatsAppApiError('provider_rejected', `Meta refused the ${error.operation}.`);
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
