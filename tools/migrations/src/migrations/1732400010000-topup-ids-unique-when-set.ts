import { MigrationInterface, QueryRunner } from 'typeorm';
import { inOneTransaction } from '../in-one-transaction';

/**
 * A top-up's provider ids are unique when they are set, and no longer indexed while they are not.
 *
 * A Mercado Pago top-up never has a Stripe session id, and a Stripe top-up has no payment id until
 * it is paid, yet the two UNIQUE constraints indexed every row's NULL. Each insert, and each credit
 * (not a HOT update: `status` leaves the partial index of pending top-ups), wrote an entry for a
 * NULL that no lookup can ever find: one index entry, ~9 µs of PostgreSQL's time and a WAL record
 * per credit (docs/performance.md). Partial unique indexes keep the same guarantee for every
 * non-NULL id (NULLs never conflicted), and every lookup (`provider_payment_id = $1`, `= ANY($1)`,
 * `provider_session_id = $1`) still uses them: an equality implies NOT NULL, for generic plans
 * too. They keep the constraints' names, which is what an error on a duplicate reports.
 *
 * Outside a transaction, so that each new index is built CONCURRENTLY (top-ups go on being created
 * and credited meanwhile) before the old constraint goes in one short transaction: the ids are
 * unique at every moment. Each step can run again after a failure half-way (a failed concurrent
 * build leaves an invalid index, dropped on the next run).
 */
const IDS = [
  { name: 'topups_provider_payment_unique', column: 'provider_payment_id' },
  { name: 'topups_provider_session_unique', column: 'provider_session_id' },
] as const;

export class TopupIdsUniqueWhenSet1732400010000 implements MigrationInterface {
  name = 'TopupIdsUniqueWhenSet1732400010000';

  /** Runs outside a transaction: see above. */
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    for (const { name, column } of IDS) {
      await q.query(`DROP INDEX CONCURRENTLY IF EXISTS billing.${name}_next`);
      await q.query(
        `CREATE UNIQUE INDEX CONCURRENTLY ${name}_next ON billing.topups (provider, ${column}) WHERE ${column} IS NOT NULL`,
      );
      await inOneTransaction(q, [
        `ALTER TABLE billing.topups DROP CONSTRAINT IF EXISTS ${name}`,
        `DROP INDEX IF EXISTS billing.${name}`,
        `ALTER INDEX billing.${name}_next RENAME TO ${name}`,
      ]);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const { name, column } of IDS) {
      await inOneTransaction(q, [
        `ALTER INDEX billing.${name} RENAME TO ${name}_partial`,
        `ALTER TABLE billing.topups ADD CONSTRAINT ${name} UNIQUE (provider, ${column})`,
        `DROP INDEX billing.${name}_partial`,
      ]);
    }
  }
}
