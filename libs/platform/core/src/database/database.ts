import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { ReadinessCheck } from '../health/readiness';

export type Tx = EntityManager;

@Injectable()
export class DatabaseReadiness implements ReadinessCheck {
  readonly name = 'database';
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}
  async isReady(): Promise<boolean> {
    await this.dataSource.query('SELECT 1');
    return true;
  }
}

/** Stable 64-bit key for pg advisory locks from a readable job name. */
const lockKeySql = `('x' || substr(md5($1), 1, 16))::bit(64)::bigint`;

/**
 * Runs `fn` only if no other replica holds the lock for `name` (session-level advisory lock on a
 * dedicated connection). Periodic jobs use it so they run once per interval across replicas.
 */
export async function withAdvisoryLock<T>(
  dataSource: DataSource,
  name: string,
  fn: () => Promise<T>,
): Promise<{ ran: true; result: T } | { ran: false }> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    const [{ locked }] = (await runner.query(`SELECT pg_try_advisory_lock(${lockKeySql}) AS locked`, [name])) as Array<{
      locked: boolean;
    }>;
    if (!locked) return { ran: false };
    try {
      return { ran: true, result: await fn() };
    } finally {
      await runner.query(`SELECT pg_advisory_unlock(${lockKeySql})`, [name]).catch(() => undefined);
    }
  } finally {
    await runner.release();
  }
}

/** Transaction-scoped advisory lock: serialises work on one key (e.g. one tenant) until commit. */
export async function lockInTransaction(tx: Tx, name: string): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(${lockKeySql})`, [name]);
}

/** pg returns bigint columns as strings; money must stay exact. */
export function toSafeNumber(value: string | number | bigint | null | undefined): number {
  if (value === null || value === undefined) return 0;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`integer out of safe range: ${String(value)}`);
  return n;
}

export const bigintTransformer = {
  to: (value: number | null | undefined): number | null | undefined => value,
  from: (value: string | null): number | null => (value === null ? null : toSafeNumber(value)),
};
