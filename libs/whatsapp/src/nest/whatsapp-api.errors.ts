import { AppError } from '@realapp/platform';
import { assertUnreachable } from '../whatsapp.errors';

/** Every refusal the WhatsApp API answers with on purpose (problem+json `code`). */
export type WhatsAppApiErrorCode =
  | 'not_found'
  /** The session expired (30 min) or was already completed (SPEC §14). */
  | 'onboarding_session_unusable'
  /** Another completion of the same session is running right now. */
  | 'onboarding_in_progress'
  /** Meta refused the signup code (expired after 30 s, already used, or not ours). */
  | 'onboarding_code_rejected'
  /** Neither the completion nor the token names a WABA. */
  | 'waba_unknown'
  /** The phoneNumberId sent is not one of the WABA's numbers. */
  | 'phone_number_not_in_waba'
  | 'waba_connected_elsewhere'
  | 'whatsapp_number_taken'
  | 'no_draft_to_publish'
  | 'orphan_already_claimed'
  /** Meta did not answer usefully after our retries; trying again later may work. */
  | 'provider_unavailable'
  /** Meta refused a call that should have worked (permissions, unknown object). */
  | 'provider_rejected';

export class WhatsAppApiError extends AppError {
  constructor(code: WhatsAppApiErrorCode, detail: string, headers?: Record<string, string>) {
    super(code, statusOf(code), detail, headers ? { headers } : {});
    this.name = 'WhatsAppApiError';
  }
}

function statusOf(code: WhatsAppApiErrorCode): number {
  switch (code) {
    case 'not_found':
      return 404;
    case 'onboarding_session_unusable':
      return 410;
    case 'onboarding_in_progress':
    case 'waba_connected_elsewhere':
    case 'whatsapp_number_taken':
    case 'no_draft_to_publish':
    case 'orphan_already_claimed':
      return 409;
    case 'onboarding_code_rejected':
    case 'waba_unknown':
    case 'phone_number_not_in_waba':
      return 422;
    case 'provider_rejected':
      return 502;
    case 'provider_unavailable':
      return 503;
    default:
      return assertUnreachable(code);
  }
}

export const notFound = (what: string): WhatsAppApiError => new WhatsAppApiError('not_found', `No such ${what}.`);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A path id that is not a UUID cannot name anything: 404 like any other unknown id. */
export function requireUuid(id: string, what: string): string {
  if (!UUID.test(id)) throw notFound(what);
  return id.toLowerCase();
}
