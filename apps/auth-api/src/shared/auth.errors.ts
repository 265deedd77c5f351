import { AppError } from '@realapp/platform';

export type AuthErrorCode =
  | 'email_taken'
  | 'invalid_credentials'
  | 'too_many_attempts'
  | 'invalid_token'
  | 'refresh_token_reused'
  | 'invite_unusable'
  | 'whatsapp_number_taken';

/** auth-api's error vocabulary (SPEC §4, §13); the status follows from the code. */
export class AuthError extends AppError {
  constructor(code: AuthErrorCode, detail: string, headers: Record<string, string> = {}) {
    super(code, statusOf(code), detail, { headers });
    this.name = 'AuthError';
  }
}

function statusOf(code: AuthErrorCode): number {
  switch (code) {
    case 'invalid_credentials':
    case 'invalid_token':
    case 'refresh_token_reused':
      return 401;
    case 'email_taken':
    case 'whatsapp_number_taken':
      return 409;
    case 'invite_unusable':
      return 410;
    case 'too_many_attempts':
      return 429;
  }
}
