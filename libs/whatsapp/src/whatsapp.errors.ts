/**
 * Every failure this lib raises on purpose. The codes are stable: the Nest layer maps them to
 * problem+json or to an ops incident, and an exhaustive switch over `WhatsAppErrorCode` makes a
 * new code a compile error wherever it is not handled yet.
 */
export type WhatsAppErrorCode =
  /** The flow engine was given a flow that never passed `validateFlow` (dangling start or next). */
  | 'flow_invalid'
  /** A token-encryption key is not 64 hex characters, or two keys claim the same id. */
  | 'token_key_invalid'
  /** A stored token blob is not in the `v1:<keyId>:<nonce>:<ciphertext>:<tag>` format. */
  | 'token_blob_malformed'
  /** A stored token was encrypted under a key id this process does not hold. */
  | 'token_key_unknown'
  /** Authentication failed: the blob, its key or its context (AAD) does not match. */
  | 'token_decrypt_failed';

export class WhatsAppError extends Error {
  constructor(
    readonly code: WhatsAppErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'WhatsAppError';
  }
}

export function isWhatsAppError(error: unknown, code?: WhatsAppErrorCode): error is WhatsAppError {
  return error instanceof WhatsAppError && (code === undefined || error.code === code);
}

/** Makes a switch over a closed union fail to compile when a member is left out. */
export function assertUnreachable(value: never): never {
  throw new Error(`Unhandled value: ${String(value)}`);
}
