export const CONNECTION_STATUSES = ['active', 'token_expiring', 'token_invalid', 'disconnected'] as const;
export type ConnectionStatus = (typeof CONNECTION_STATUSES)[number];

/** SPEC §14: under 7 days to expiry the token is `token_expiring`. */
export const TOKEN_EXPIRING_WITHIN_MS = 7 * 24 * 60 * 60 * 1000;

export interface TokenFacts {
  /** False when there is no token, Meta says it is not valid, or it could not be opened. */
  valid: boolean;
  /** Null: never expires. */
  expiresAt: Date | null;
}

/**
 * The status a live connection takes after a token check. A disconnected connection keeps its
 * status whatever its token says: only a new signup brings it back.
 */
export function statusAfterCheck(current: ConnectionStatus, facts: TokenFacts, now: Date): ConnectionStatus {
  if (current === 'disconnected') return 'disconnected';
  if (!facts.valid) return 'token_invalid';
  if (facts.expiresAt === null) return 'active';
  const left = facts.expiresAt.getTime() - now.getTime();
  if (left <= 0) return 'token_invalid';
  return left < TOKEN_EXPIRING_WITHIN_MS ? 'token_expiring' : 'active';
}
