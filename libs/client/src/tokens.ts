/** The pair auth-api answers on sign-up, login, refresh and invite acceptance (SPEC §4). */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
}

/**
 * Where the client keeps the session. In the Expo app, back it with expo-secure-store; the client only ever
 * calls `load` before a request and `save` after a refresh, sign-in or sign-out (`null`).
 */
export interface TokenStorage {
  load(): TokenPair | null | Promise<TokenPair | null>;
  save(tokens: TokenPair | null): void | Promise<void>;
}

/** Keeps the session in memory only (tests, scripts, server-side callers). */
export class MemoryTokenStorage implements TokenStorage {
  private tokens: TokenPair | null;

  constructor(initial: TokenPair | null = null) {
    this.tokens = initial;
  }

  load(): TokenPair | null {
    return this.tokens;
  }

  save(tokens: TokenPair | null): void {
    this.tokens = tokens;
  }
}

export function isTokenPair(value: unknown): value is TokenPair {
  const candidate = value as Partial<TokenPair> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.accessToken === 'string' &&
    candidate.accessToken.length > 0 &&
    typeof candidate.refreshToken === 'string' &&
    candidate.refreshToken.length > 0
  );
}
