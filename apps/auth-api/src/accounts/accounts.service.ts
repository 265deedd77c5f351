import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AuthContext, Role } from '@realapp/auth-guard';
import { LoginThrottle } from '../credentials/login-throttle.service';
import { PasswordHasher } from '../credentials/password-hasher';
import { AuthError } from '../shared/auth.errors';
import { isUniqueViolation } from '../shared/database-errors';
import { MeResponse, SessionResponse, TenantStatus } from '../shared/views';
import { AccessTokenIssuer } from '../tokens/access-token.issuer';
import { RefreshTokenService } from '../tokens/refresh-token.service';
import { LoginRequest, SignupRequest } from './accounts.dto';

export interface AccountRow {
  user_id: string;
  email: string;
  user_name: string;
  role: Role;
  password_hash: string;
  tenant_id: string;
  tenant_name: string;
  tenant_status: TenantStatus;
}

export const ACCOUNT_COLUMNS = `u.id AS user_id, u.email, u.name AS user_name, u.role, u.password_hash,
  t.id AS tenant_id, t.name AS tenant_name, t.status AS tenant_status`;

export const emailTaken = (): AuthError =>
  new AuthError('email_taken', 'An account with this e-mail already exists.');

/** Sign-up, login, refresh, logout and me (SPEC §4). */
@Injectable()
export class AccountsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly passwords: PasswordHasher,
    private readonly throttle: LoginThrottle,
    private readonly accessTokens: AccessTokenIssuer,
    private readonly refreshTokens: RefreshTokenService,
  ) {}

  async signup(body: SignupRequest): Promise<SessionResponse> {
    const passwordHash = await this.passwords.hash(body.password);
    try {
      const { account, refreshToken } = await this.dataSource.transaction(async (tx) => {
        const [tenant] = (await tx.query(`INSERT INTO auth.tenants (name) VALUES ($1) RETURNING id`, [
          body.tenantName,
        ])) as Array<{
          id: string;
        }>;
        const [user] = (await tx.query(
          `INSERT INTO auth.users (tenant_id, email, name, role, password_hash) VALUES ($1, $2, $3, 'owner', $4) RETURNING id`,
          [tenant.id, body.email, body.name, passwordHash],
        )) as Array<{ id: string }>;
        const [row] = (await tx.query(
          `SELECT ${ACCOUNT_COLUMNS} FROM auth.users u JOIN auth.tenants t ON t.id = u.tenant_id WHERE u.id = $1`,
          [user.id],
        )) as AccountRow[];
        return {
          account: row,
          refreshToken: await this.refreshTokens.startFamily(tx, row.user_id, row.tenant_id),
        };
      });
      return this.session(account, refreshToken);
    } catch (error) {
      if (isUniqueViolation(error, 'users_email_key')) throw emailTaken();
      throw error;
    }
  }

  async login(body: LoginRequest, ip: string): Promise<SessionResponse> {
    const attempt = await this.throttle.begin(body.email, ip);
    const [account] = (await this.dataSource.query(
      `SELECT ${ACCOUNT_COLUMNS} FROM auth.users u JOIN auth.tenants t ON t.id = u.tenant_id
        WHERE u.email = $1 AND t.status = 'active'`,
      [body.email],
    )) as AccountRow[];
    const ok = await this.passwords.verifyOrDummy(account?.password_hash ?? null, body.password);
    if (!ok || !account) throw new AuthError('invalid_credentials', 'The e-mail or the password is wrong.');
    await this.throttle.succeeded(attempt);
    if (this.passwords.needsRehash(account.password_hash)) {
      await this.dataSource.query(
        `UPDATE auth.users SET password_hash = $2, updated_at = now() WHERE id = $1`,
        [account.user_id, await this.passwords.hash(body.password)],
      );
    }
    const refreshToken = await this.dataSource.transaction((tx) =>
      this.refreshTokens.startFamily(tx, account.user_id, account.tenant_id),
    );
    return this.session(account, refreshToken);
  }

  async refresh(token: string): Promise<SessionResponse> {
    const { subject, refreshToken } = await this.refreshTokens.rotate(token);
    const account = await this.findAccount(subject.userId, subject.tenantId);
    if (!account) {
      // The user or the tenant is gone (or suspended): the session ends here.
      await this.refreshTokens.revokeFamily(subject.familyId);
      throw new AuthError('invalid_token', 'The refresh token is not valid.');
    }
    return this.session(account, refreshToken);
  }

  async logout(auth: AuthContext, refreshToken: string): Promise<void> {
    await this.refreshTokens.revokeForUser(refreshToken, auth.userId, auth.tenantId);
  }

  async me(auth: AuthContext): Promise<MeResponse> {
    const account = await this.findAccount(auth.userId, auth.tenantId);
    if (!account) throw new AuthError('invalid_token', 'The account of this access token no longer exists.');
    return { user: userView(account), tenant: tenantView(account) };
  }

  /** The account and its tenant, scoped by both ids. */
  async findAccount(userId: string, tenantId: string): Promise<AccountRow | undefined> {
    const [row] = (await this.dataSource.query(
      `SELECT ${ACCOUNT_COLUMNS} FROM auth.users u JOIN auth.tenants t ON t.id = u.tenant_id
        WHERE u.id = $1 AND u.tenant_id = $2 AND t.status = 'active'`,
      [userId, tenantId],
    )) as AccountRow[];
    return row;
  }

  async session(account: AccountRow, refreshToken: string): Promise<SessionResponse> {
    const { accessToken, expiresIn } = await this.accessTokens.issue({
      userId: account.user_id,
      tenantId: account.tenant_id,
      role: account.role,
    });
    return { accessToken, refreshToken, expiresIn, user: userView(account), tenant: tenantView(account) };
  }
}

export const userView = (row: AccountRow): SessionResponse['user'] => ({
  id: row.user_id,
  email: row.email,
  name: row.user_name,
  role: row.role,
});
export const tenantView = (row: AccountRow): SessionResponse['tenant'] => ({
  id: row.tenant_id,
  name: row.tenant_name,
  status: row.tenant_status,
});
