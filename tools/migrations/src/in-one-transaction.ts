import { QueryRunner } from 'typeorm';

/**
 * For migrations that run outside a transaction (`transaction = false`, to build or validate without
 * blocking writes): the short steps that must happen together still do.
 */
export async function inOneTransaction(q: QueryRunner, statements: readonly string[]): Promise<void> {
  await q.startTransaction();
  try {
    for (const statement of statements) await q.query(statement);
    await q.commitTransaction();
  } catch (error) {
    await q.rollbackTransaction();
    throw error;
  }
}
