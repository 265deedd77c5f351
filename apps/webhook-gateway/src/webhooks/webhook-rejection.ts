import { AppError, FieldError, validationFailed } from '@realapp/platform';

/** Why a webhook was refused; also the `reason` label of the rejection metric. */
export type RejectionReason = 'invalid_signature' | 'signature_expired' | 'malformed_json' | 'validation_failed';

export class WebhookRejected extends AppError {
  constructor(
    readonly reason: RejectionReason,
    status: number,
    detail: string,
    extra: ConstructorParameters<typeof AppError>[3] = {},
  ) {
    super(reason, status, detail, extra);
    this.name = 'WebhookRejected';
  }
}

export const invalidSignature = (): WebhookRejected =>
  new WebhookRejected('invalid_signature', 401, 'The webhook signature is missing or does not match.');

export const signatureExpired = (): WebhookRejected =>
  new WebhookRejected('signature_expired', 401, 'The webhook signature timestamp is outside the tolerance (a replay?).');

export const malformedJson = (): WebhookRejected =>
  new WebhookRejected('malformed_json', 400, 'The request body is not valid JSON.');

export function invalidWebhook(errors: FieldError[]): WebhookRejected {
  const base = validationFailed(errors, 'The notification lacks what identifies it.');
  return new WebhookRejected('validation_failed', base.status, base.detail, base.extra);
}
