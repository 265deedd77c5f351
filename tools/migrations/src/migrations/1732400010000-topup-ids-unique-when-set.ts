import { MigrationInterface, QueryRunner } from 'typeorm';

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
 * Each new index is built before the old constraint goes, in the migration's transaction: the
 * ids are unique at every moment.
 */
const IDS = [
  { name: 'topups_provider_payment_unique', column: 'provider_payment_id' },
  { name: 'topups_provider_session_unique', column: 'provider_session_id' },
] as const;

export class TopupIdsUniqueWhenSet1732400010000 implements MigrationInterface {
  name = 'TopupIdsUniqueWhenSet1732400010000';

  async up(q: QueryRunner): Promise<void> {
    for (const { name, column } of IDS) {
      await q.query(
        `CREATE UNIQUE INDEX ${name}_new ON billing.topups (provider, ${column}) WHERE ${column} IS NOT NULL`,
      );
      await q.query(`ALTER TABLE billing.topups DROP CONSTRAINT ${name}`);
      await q.query(`ALTER INDEX billing.${name}_new RENAME TO ${name}`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const { name, column } of IDS) {
      await q.query(`ALTER INDEX billing.${name} RENAME TO ${name}_partial`);
      await q.query(`ALTER TABLE billing.topups ADD CONSTRAINT ${name} UNIQUE (provider, ${column})`);
      await q.query(`DROP INDEX billing.${name}_partial`);
    }
  }
}
