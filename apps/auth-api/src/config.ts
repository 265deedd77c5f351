import { Type } from 'class-transformer';
import { IsInt, IsString, Matches, Max, Min } from 'class-validator';
import { BaseConfig } from '@realapp/platform';

export class AuthApiConfig extends BaseConfig {
  override PORT = 3001;

  @IsString()
  SUPER_ADMIN_API_KEY!: string;

  @IsString()
  OPS_API_KEY!: string;

  /** 32 bytes as 64 hex chars: encrypts signing keys (and WhatsApp tokens) at rest. */
  @Matches(/^[0-9a-fA-F]{64}(,[0-9a-fA-F]{64})*$/, {
    message: 'must be 64 hex characters (comma-separated for rotation)',
  })
  TOKEN_ENCRYPTION_KEY!: string;

  @Type(() => Number)
  @IsInt()
  @Min(60)
  @Max(3600)
  ACCESS_TOKEN_TTL_SECONDS = 900;

  /** A refresh token's life; each refresh issues a new one with a fresh life. */
  @Type(() => Number)
  @IsInt()
  @Min(300)
  @Max(90 * 24 * 3600)
  REFRESH_TOKEN_TTL_SECONDS = 30 * 24 * 3600;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(30 * 24)
  INVITE_TTL_HOURS = 72;

  /**
   * How long a retired signing key stays in the JWKS beyond the access-token lifetime: covers
   * clock skew between services and tokens signed while the rotation was committing.
   */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(3600)
  SIGNING_KEY_RETIRE_GRACE_SECONDS = 120;

  /** argon2id cost (OWASP password storage cheat sheet: m=19 MiB, t=2, p=1). */
  @Type(() => Number)
  @IsInt()
  @Min(1024)
  @Max(1024 * 1024)
  ARGON2_MEMORY_COST = 19456;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(10)
  ARGON2_TIME_COST = 2;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(16)
  ARGON2_PARALLELISM = 1;

  /** Failed logins tolerated per account inside the window before it is locked (429). */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  LOGIN_MAX_FAILURES_PER_ACCOUNT = 5;

  /** Failed logins tolerated per client IP inside the window (password spraying). */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100000)
  LOGIN_MAX_FAILURES_PER_IP = 20;

  /** The sliding window of the two limits above. */
  @Type(() => Number)
  @IsInt()
  @Min(10)
  @Max(24 * 3600)
  LOGIN_FAILURE_WINDOW_SECONDS = 900;
}

export const AUTH_API_SECRETS = ['SUPER_ADMIN_API_KEY', 'OPS_API_KEY', 'TOKEN_ENCRYPTION_KEY'] as const;
