import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Tx } from '@realapp/platform';
import { ACCOUNT_COLUMNS, AccountRow, AccountsService, emailTaken } from '../accounts/accounts.service';
import { AuthApiConfig } from '../config';
import { PasswordHasher } from '../credentials/password-hasher';
import { AuthError } from '../shared/auth.errors';
import { isUniqueViolation } from '../shared/database-errors';
import { looksLikeOpaqueToken, newOpaqueToken, tokenDigest } from '../shared/secrets';
import { InviteResponse, SessionResponse } from '../shared/views';
import { RefreshTokenService } from '../tokens/refresh-token.service';
import { InvitableRole } from './invites.dto';

const unusable = (): AuthError =>
  new AuthError('invite_unusable', 'This invite was already used, has expired, or does not exist.');

/**
 * Invitations (SPEC §4, §16): a single-use token, valid INVITE_TTL_HOURS, of which only the
 * SHA-256 digest is stored. Accepting creates the user in the invite's tenant with its role.
 */
@Injectable()
export class InviteService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: AuthApiConfig,
    private readonly passwords: PasswordHasher,
    private readonly refreshTokens: RefreshTokenService,
    private readonly accounts: AccountsService,
  ) {}

  /** In the caller's transaction (tenant creation invites its admin atomically). */
  async create(
    tx: Tx,
    tenantId: string,
    email: string,
    role: InvitableRole,
    invitedBy: string | null,
  ): Promise<InviteResponse> {
    const taken = (await tx.query(`SELECT 1 FROM auth.users WHERE email = $1`, [email])) as unknown[];
    if (taken.length) throw emailTaken();
    const token = newOpaqueToken();
    const [row] = (await tx.query(
      `INSERT INTO auth.invites (tenant_id, email, role, token_hash, invited_by, expires_at)
       VALUES ($1, $2, $3, $4, $5, now() + make_interval(hours => $6))
       RETURNING expires_at`,
      [tenantId, email, role, tokenDigest(token), invitedBy, this.config.INVITE_TTL_HOURS],
    )) as Array<{ expires_at: Date }>;
    return { token, expiresAt: row.expires_at.toISOString() };
  }

  async createFor(
    tenantId: string,
    email: string,
    role: InvitableRole,
    invitedBy: string | null,
  ): Promise<InviteResponse> {
    return this.dataSource.transaction((tx) => this.create(tx, tenantId, email, role, invitedBy));
  }

  /**
   * Spends the invite and creates the account in one transaction: concurrent acceptances of one
   * token are serialised by the invite's row lock, so exactly one of them gets the account.
   */
  async accept(token: string, password: string, name: string): Promise<SessionResponse> {
    if (!looksLikeOpaqueToken(token)) throw unusable();
    const passwordHash = await this.passwords.hash(password);
    try {
      const { account, refreshToken } = await this.dataSource.transaction(async (tx) => {
        // FOR UPDATE re-checks the row once a concurrent acceptance commits: then it no longer qualifies.
        const [invite] = (await tx.query(
          `SELECT i.id, i.tenant_id, i.email, i.role
             FROM auth.invites i JOIN auth.tenants t ON t.id = i.tenant_id
            WHERE i.token_hash = $1 AND i.accepted_at IS NULL AND i.expires_at > now() AND t.status = 'active'
            FOR UPDATE OF i`,
          [tokenDigest(token)],
        )) as Array<{ id: string; tenant_id: string; email: string; role: InvitableRole }>;
        if (!invite) throw unusable();
        const [user] = (await tx.query(
          `INSERT INTO auth.users (tenant_id, email, name, role, password_hash) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
          [invite.tenant_id, invite.email, name, invite.role, passwordHash],
        )) as Array<{ id: string }>;
        await tx.query(`UPDATE auth.invites SET accepted_at = now(), accepted_user_id = $2 WHERE id = $1`, [
          invite.id,
          user.id,
        ]);
        const [row] = (await tx.query(
          `SELECT ${ACCOUNT_COLUMNS} FROM auth.users u JOIN auth.tenants t ON t.id = u.tenant_id WHERE u.id = $1`,
          [user.id],
        )) as AccountRow[];
        return {
          account: row,
          refreshToken: await this.refreshTokens.startFamily(tx, row.user_id, row.tenant_id),
        };
      });
      return this.accounts.session(account, refreshToken);
    } catch (error) {
      if (isUniqueViolation(error, 'users_email_key')) throw emailTaken();
      throw error;
    }
  }
}
