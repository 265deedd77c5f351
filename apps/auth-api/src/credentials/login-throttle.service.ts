import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AuthApiConfig } from '../config';
import { AuthError } from '../shared/auth.errors';

/** One login attempt in progress, counted before the password is even checked. */
export interface LoginAttempt {
  id: string;
  accountHash: Buffer;
}

/**
 * Brute-force protection (SPEC §4): failed logins per account and per client IP in a sliding
 * window (table auth.login_failures). Every attempt is first recorded as a failure and only
 * then may check its password; one whose rank in the window is past a limit is refused with
 * 429 and erased. Concurrent guesses therefore cannot slip past the limit together, and a
 * locked account refuses even the right password. A success erases the account's failures.
 */
@Injectable()
export class LoginThrottle {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: AuthApiConfig,
  ) {}

  async begin(email: string, ip: string): Promise<LoginAttempt> {
    const accountHash = createHash('sha256').update(`login:${email}`, 'utf8').digest();
    const clientIp = ip.slice(0, 64) || 'unknown';
    const window = this.config.LOGIN_FAILURE_WINDOW_SECONDS;
    const [{ id }] = (await this.dataSource.query(
      `INSERT INTO auth.login_failures (account_hash, ip) VALUES ($1, $2) RETURNING id::text AS id`,
      [accountHash, clientIp],
    )) as Array<{ id: string }>;
    const [rank] = (await this.dataSource.query(
      `SELECT
         (SELECT count(*)::int FROM auth.login_failures
           WHERE account_hash = $1 AND failed_at > now() - make_interval(secs => $3) AND id <= $4) AS account_rank,
         (SELECT count(*)::int FROM auth.login_failures
           WHERE ip = $2 AND failed_at > now() - make_interval(secs => $3) AND id <= $4) AS ip_rank`,
      [accountHash, clientIp, window, id],
    )) as Array<{ account_rank: number; ip_rank: number }>;
    if (
      rank.account_rank > this.config.LOGIN_MAX_FAILURES_PER_ACCOUNT ||
      rank.ip_rank > this.config.LOGIN_MAX_FAILURES_PER_IP
    ) {
      await this.dataSource.query(`DELETE FROM auth.login_failures WHERE id = $1`, [id]);
      const retryAfter = await this.retryAfterSeconds(accountHash, clientIp);
      throw new AuthError('too_many_attempts', 'Too many failed logins; try again later.', {
        'retry-after': String(retryAfter),
      });
    }
    return { id, accountHash };
  }

  /** The password was right: the account starts afresh (the IP's other failures stay counted). */
  async succeeded(attempt: LoginAttempt): Promise<void> {
    await this.dataSource.query(`DELETE FROM auth.login_failures WHERE account_hash = $1 OR id = $2`, [
      attempt.accountHash,
      attempt.id,
    ]);
  }

  async purgeExpired(): Promise<number> {
    const rows = (await this.dataSource.query(
      `WITH gone AS (DELETE FROM auth.login_failures WHERE failed_at < now() - make_interval(secs => $1) RETURNING 1)
       SELECT count(*)::int AS n FROM gone`,
      [this.config.LOGIN_FAILURE_WINDOW_SECONDS],
    )) as Array<{ n: number }>;
    return rows[0]?.n ?? 0;
  }

  /**
   * When the window will hold fewer failures than the limit again: the limit-th newest failure
   * leaves the window then. The later of the two limits decides.
   */
  private async retryAfterSeconds(accountHash: Buffer, ip: string): Promise<number> {
    const window = this.config.LOGIN_FAILURE_WINDOW_SECONDS;
    const [row] = (await this.dataSource.query(
      `SELECT GREATEST(
         (SELECT extract(epoch FROM failed_at + make_interval(secs => $3) - now()) FROM auth.login_failures
           WHERE account_hash = $1 AND failed_at > now() - make_interval(secs => $3)
           ORDER BY failed_at DESC, id DESC OFFSET $4 - 1 LIMIT 1),
         (SELECT extract(epoch FROM failed_at + make_interval(secs => $3) - now()) FROM auth.login_failures
           WHERE ip = $2 AND failed_at > now() - make_interval(secs => $3)
           ORDER BY failed_at DESC, id DESC OFFSET $5 - 1 LIMIT 1)
       )::float8 AS seconds`,
      [
        accountHash,
        ip,
        window,
        this.config.LOGIN_MAX_FAILURES_PER_ACCOUNT,
        this.config.LOGIN_MAX_FAILURES_PER_IP,
      ],
    )) as Array<{ seconds: number | null }>;
    return Math.max(1, Math.ceil(row?.seconds ?? 1));
  }
}
