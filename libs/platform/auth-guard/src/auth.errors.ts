import { AppError } from '@realapp/platform';

export type AuthGuardErrorCode = 'invalid_token' | 'token_expired' | 'forbidden_role' | 'auth_unavailable';

/** Errors of the bearer guard; codes from SPEC §13 / §16. */
export class AuthGuardError extends AppError {
  constructor(code: AuthGuardErrorCode, detail: string) {
    super(code, statusOf(code), detail, { headers: headersOf(code) });
    this.name = 'AuthGuardError';
  }
}

function statusOf(code: AuthGuardErrorCode): number {
  switch (code) {
    case 'invalid_token':
    case 'token_expired':
      return 401;
    case 'forbidden_role':
      return 403;
    case 'auth_unavailable':
      return 503;
  }
}

function headersOf(code: AuthGuardErrorCode): Record<string, string> {
  switch (code) {
    case 'invalid_token':
      return { 'www-authenticate': 'Bearer error="invalid_token"' };
    case 'token_expired':
      return {
        'www-authenticate': 'Bearer error="invalid_token", error_description="The access token expired"',
      };
    case 'forbidden_role':
      return {};
    case 'auth_unavailable':
      return { 'retry-after': '5' };
  }
}

export const invalidToken = (detail = 'The access token is missing or not valid.'): AuthGuardError =>
  new AuthGuardError('invalid_token', detail);
