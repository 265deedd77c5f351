/** A field-level complaint in a 400 `validation_failed` answer. */
export interface FieldError {
  field: string;
  message: string;
}

/**
 * The one error vocabulary of the platform: a stable snake_case `code` the app can switch on,
 * the HTTP status it maps to, and a human `detail`. Libraries subclass it with their own codes.
 */
export class AppError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    readonly detail: string,
    readonly extra: { errors?: FieldError[]; headers?: Record<string, string>; [key: string]: unknown } = {},
  ) {
    super(detail);
    this.name = 'AppError';
  }
}

export const validationFailed = (errors: FieldError[], detail = 'The request has invalid fields.'): AppError =>
  new AppError('validation_failed', 400, detail, { errors });

export const payloadTooLarge = (): AppError => new AppError('payload_too_large', 413, 'The request body exceeds 1 MB.');

export const notFound = (what = 'resource'): AppError => new AppError('not_found', 404, `The ${what} does not exist.`);
