import { ProviderName, randomAlphanumeric } from './util';

/** A provider answer that is not a success: status, body in the provider's own error shape, extra headers. */
export interface ProviderErrorResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface MercadoPagoCause {
  code: number | string;
  description: string;
}

export function mercadoPagoError(
  status: number,
  message: string,
  error: string,
  cause: MercadoPagoCause[] = [],
): ProviderErrorResponse {
  return { status, body: { message, error, status, cause } };
}

export function stripeError(
  status: number,
  type: string,
  message: string,
  extra: { code?: string; param?: string } = {},
): ProviderErrorResponse {
  const error: Record<string, string> = { type, message };
  if (extra.code !== undefined) error['code'] = extra.code;
  if (extra.param !== undefined) error['param'] = extra.param;
  // Stripe echoes a request id on every answer; the SDK puts it on its errors.
  return { status, body: { error }, headers: { 'request-id': `req_${randomAlphanumeric(14)}` } };
}

export function openAiError(
  status: number,
  type: string,
  message: string,
  code: string | null = null,
  param: string | null = null,
): ProviderErrorResponse {
  return { status, body: { error: { message, type, param, code } } };
}

export function fbtraceId(): string {
  return randomAlphanumeric(11);
}

/** Graph's messages for the codes the platform must tell apart (retry vs. give up). */
const GRAPH_MESSAGES: Record<number, string> = {
  1: 'An unknown error occurred',
  2: 'An unexpected error has occurred. Please retry your request later.',
  4: '(#4) Application request limit reached',
  17: '(#17) User request limit reached',
  32: '(#32) Page request limit reached',
  100: '(#100) Invalid parameter',
  190: 'Invalid OAuth access token - Cannot parse access token',
  200: '(#200) Permissions error',
  368: 'The action attempted has been deemed abusive or is otherwise disallowed',
  613: '(#613) Calls to this api have exceeded the rate limit.',
  80004: '(#80004) There have been too many calls to this ad-account. Wait a bit and try again.',
};

const GRAPH_TRANSIENT = new Set([1, 2, 4, 17, 32, 341, 613]);

export function isGraphThrottlingCode(code: number): boolean {
  return code === 4 || code === 17 || code === 32 || code === 613 || (code >= 80000 && code <= 80014);
}

export interface GraphErrorOptions {
  subcode?: number;
  type?: string;
  userTitle?: string;
  userMessage?: string;
}

export function graphError(
  status: number,
  code: number,
  message?: string,
  options: GraphErrorOptions = {},
): ProviderErrorResponse {
  const error: Record<string, unknown> = {
    message: message ?? GRAPH_MESSAGES[code] ?? `(#${code}) Error`,
    type: options.type ?? 'OAuthException',
    code,
  };
  if (options.subcode !== undefined) error['error_subcode'] = options.subcode;
  if (GRAPH_TRANSIENT.has(code) || isGraphThrottlingCode(code)) error['is_transient'] = true;
  if (options.userTitle !== undefined) error['error_user_title'] = options.userTitle;
  if (options.userMessage !== undefined) error['error_user_msg'] = options.userMessage;
  error['fbtrace_id'] = fbtraceId();
  return { status, body: { error } };
}

/** Graph's answer when a token is missing: HTTP 400, OAuthException 190 (not 401). */
export function graphMissingToken(): ProviderErrorResponse {
  return graphError(
    400,
    190,
    'An active access token must be used to query information about the current user.',
  );
}

export function graphUnknownObject(method: string, id: string): ProviderErrorResponse {
  return graphError(
    400,
    100,
    `Unsupported ${method.toLowerCase()} request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
    { subcode: 33, type: 'GraphMethodException' },
  );
}

export function graphInvalidParameter(message: string, userMessage?: string): ProviderErrorResponse {
  return graphError(400, 100, message.startsWith('(#100)') ? message : `(#100) ${message}`, {
    userMessage,
  });
}

export interface FaultErrorInput {
  provider: ProviderName;
  status: number;
  graphCode?: number;
  errorCode?: string;
}

/** The error a provider answers when a fault is injected, in that provider's own shape. */
export function faultError(input: FaultErrorInput): ProviderErrorResponse {
  const { status } = input;
  const retryAfter: Record<string, string> = status === 429 || status === 503 ? { 'retry-after': '1' } : {};
  switch (input.provider) {
    case 'mercadopago': {
      const error =
        status === 429
          ? 'too_many_requests'
          : status === 423
            ? 'locked'
            : status === 409
              ? 'conflict'
              : status >= 500
                ? 'internal_error'
                : 'bad_request';
      const message =
        status === 423
          ? 'Idempotency key is locked, retry later'
          : status === 429
            ? 'Too many requests'
            : status >= 500
              ? 'Internal server error'
              : 'Sandbox injected fault';
      const response = mercadoPagoError(status, message, input.errorCode ?? error, [
        { code: status, description: message },
      ]);
      return { ...response, headers: { ...retryAfter } };
    }
    case 'stripe': {
      const response =
        status === 429
          ? stripeError(429, 'invalid_request_error', 'Too many requests made to the API too quickly', {
              code: input.errorCode ?? 'rate_limit',
            })
          : status >= 500
            ? stripeError(status, 'api_error', 'An unknown error occurred (sandbox injected fault)', {
                code: input.errorCode,
              })
            : stripeError(status, 'invalid_request_error', 'Sandbox injected fault', {
                code: input.errorCode,
              });
      return { ...response, headers: { ...response.headers, ...retryAfter } };
    }
    case 'meta': {
      const code = input.graphCode ?? (status === 429 ? 17 : status >= 500 ? 2 : 1);
      const response = graphError(status, code);
      return { ...response, headers: { ...retryAfter } };
    }
    case 'openai': {
      const response =
        status === 429
          ? input.errorCode === 'insufficient_quota'
            ? openAiError(
                429,
                'insufficient_quota',
                'You exceeded your current quota, please check your plan and billing details.',
                'insufficient_quota',
              )
            : openAiError(
                429,
                'requests',
                'Rate limit reached for requests (sandbox injected fault).',
                input.errorCode ?? 'rate_limit_exceeded',
              )
          : status >= 500
            ? openAiError(
                status,
                'server_error',
                'The server had an error while processing your request.',
                null,
              )
            : openAiError(status, 'invalid_request_error', 'Sandbox injected fault', input.errorCode ?? null);
      // An exhausted quota is not a rate limit: no retry-after, and the SDK is told not to retry.
      return {
        ...response,
        headers: input.errorCode === 'insufficient_quota' ? { 'x-should-retry': 'false' } : { ...retryAfter },
      };
    }
  }
}
