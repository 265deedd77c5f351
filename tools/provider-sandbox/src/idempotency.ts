import { canonicalJson } from './util';

export type IdempotencyLookup =
  { kind: 'miss' } | { kind: 'replay'; status: number; body: unknown } | { kind: 'conflict' };

interface StoredAnswer {
  fingerprint: string;
  status: number;
  body: unknown;
}

/**
 * Remembers the first answer per (scope, key) so a retried create returns the same object
 * instead of a second payment or session, and a reused key with another body is refused.
 */
export class IdempotencyStore {
  private readonly answers = new Map<string, StoredAnswer>();

  lookup(scope: string, key: string, requestBody: unknown): IdempotencyLookup {
    const stored = this.answers.get(`${scope}\u0000${key}`);
    if (stored === undefined) return { kind: 'miss' };
    if (stored.fingerprint !== canonicalJson(requestBody ?? null)) return { kind: 'conflict' };
    return { kind: 'replay', status: stored.status, body: structuredClone(stored.body) };
  }

  remember(scope: string, key: string, requestBody: unknown, status: number, body: unknown): void {
    this.answers.set(`${scope}\u0000${key}`, {
      fingerprint: canonicalJson(requestBody ?? null),
      status,
      body: structuredClone(body),
    });
  }

  clear(): void {
    this.answers.clear();
  }
}
