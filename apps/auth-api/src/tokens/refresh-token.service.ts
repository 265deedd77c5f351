import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Tx } from '@realapp/platform';
import { AuthApiConfig } from '../config';
import { AuthError } from '../shared/auth.errors';
import { looksLikeOpaqueToken, newOpaqueToken, tokenDigest } from '../shared/secrets';

/** Whose session a refresh token continues. */
export interface RefreshedSubject {
  familyId: string;
  userId: string;
  tenantId: string;
}

type SpendOutcome =
  | { kind: 'spent'; subject: RefreshedSubject; refreshToken: string }
  | { kind: 'reused' }
  | { kind: 'invalid' };

/**
 * Refresh tokens with rotation and reuse detection (SPEC §4; OAuth 2.0 Security BCP §4.14.2).
 * Each login starts a family; each refresh spends the presented token and adds a new one to the
 * family. A spent token presented again means it was copied: the whole family is revoked.
 */
@Injectable()
export class RefreshTokenService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: AuthApiConfig,
  ) {}

  /** Starts a family for a new login, inside the caller's transaction. */
  async startFamily(tx: Tx, userId: string, tenantId: string): Promise<string> {
    const [family] = (await tx.query(
      `INSERT INTO auth.refresh_families (user_id, tenant_id) VALUES ($1, $2) RETURNING id`,
      [userId, tenantId],
    )) as Array<{ id: string }>;
    return this.addToken(tx, family.id);
  }

  /**
   * Spends `token` and returns its successor. Concurrent presentations of one token are
   * serialised by the row lock of the UPDATE: exactly one spends it, the others find it spent.
   */
  async rotate(token: string): Promise<{ subject: RefreshedSubject; refreshToken: string }> {
    if (!looksLikeOpaqueToken(token)) throw invalidRefreshToken();
    const digest = tokenDigest(token);
    // Decided inside the transaction, thrown after it: a reuse must commit the family's revocation.
    const outcome = await this.dataSource.transaction(async (tx): Promise<SpendOutcome> => {
      const spent = (await tx.query(
        `UPDATE auth.refresh_tokens t SET spent_at = now()
           FROM auth.refresh_families f
          WHERE t.token_hash = $1 AND t.spent_at IS NULL AND t.expires_at > now()
            AND f.id = t.family_id AND f.revoked_at IS NULL
        RETURNING f.id AS family_id, f.user_id, f.tenant_id`,
        [digest],
      )) as [Array<{ family_id: string; user_id: string; tenant_id: string }>, number];
      const row = spent[0][0];
      if (row) {
        return {
          kind: 'spent',
          subject: { familyId: row.family_id, userId: row.user_id, tenantId: row.tenant_id },
          refreshToken: await this.addToken(tx, row.family_id),
        };
      }
      const known = (await tx.query(
        `SELECT family_id, spent_at FROM auth.refresh_tokens WHERE token_hash = $1`,
        [digest],
      )) as Array<{
        family_id: string;
        spent_at: Date | null;
      }>;
      if (!known[0]?.spent_at) return { kind: 'invalid' };
      await this.revokeFamilyIn(tx, known[0].family_id, 'reuse');
      return { kind: 'reused' };
    });
    switch (outcome.kind) {
      case 'spent':
        return { subject: outcome.subject, refreshToken: outcome.refreshToken };
      case 'reused':
        throw new AuthError(
          'refresh_token_reused',
          'This refresh token was already used; every session of that login is revoked.',
        );
      case 'invalid':
        throw invalidRefreshToken();
    }
  }

  /** Logout: revokes the family of `token` if it is the caller's own; unknown tokens change nothing. */
  async revokeForUser(token: string, userId: string, tenantId: string): Promise<void> {
    if (!looksLikeOpaqueToken(token)) return;
    await this.dataSource.query(
      `UPDATE auth.refresh_families f SET revoked_at = now(), revoked_reason = 'logout'
         FROM auth.refresh_tokens t
        WHERE t.token_hash = $1 AND f.id = t.family_id
          AND f.user_id = $2 AND f.tenant_id = $3 AND f.revoked_at IS NULL`,
      [tokenDigest(token), userId, tenantId],
    );
  }

  /** Revokes a family from outside a refresh (the subject of a session no longer exists). */
  async revokeFamily(familyId: string): Promise<void> {
    await this.dataSource.transaction((tx) => this.revokeFamilyIn(tx, familyId, 'logout'));
  }

  async purgeExpired(): Promise<number> {
    const rows = (await this.dataSource.query(
      `WITH gone AS (DELETE FROM auth.refresh_tokens WHERE expires_at < now() - interval '1 day' RETURNING 1)
       SELECT count(*)::int AS n FROM gone`,
    )) as Array<{ n: number }>;
    return rows[0]?.n ?? 0;
  }

  private async revokeFamilyIn(tx: Tx, familyId: string, reason: 'logout' | 'reuse'): Promise<void> {
    await tx.query(
      `UPDATE auth.refresh_families SET revoked_at = now(), revoked_reason = $2 WHERE id = $1 AND revoked_at IS NULL`,
      [familyId, reason],
    );
  }

  private async addToken(tx: Tx, familyId: string): Promise<string> {
    const token = newOpaqueToken();
    await tx.query(
      `INSERT INTO auth.refresh_tokens (family_id, token_hash, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))`,
      [familyId, tokenDigest(token), this.config.REFRESH_TOKEN_TTL_SECONDS],
    );
    return token;
  }
}

const invalidRefreshToken = (): AuthError =>
  new AuthError('invalid_token', 'The refresh token is not valid.');
