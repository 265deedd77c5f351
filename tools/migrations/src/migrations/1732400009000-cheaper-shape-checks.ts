import { MigrationInterface, QueryRunner } from 'typeorm';
import { inOneTransaction } from '../in-one-transaction';

/**
 * The same shape checks, written so that PostgreSQL's regular expression engine does not count.
 *
 * `x ~ '^[0-9a-f]{64}$'` costs ~10 µs a value: the engine runs a bounded repetition one position
 * at a time. `length(x) = 64 AND x !~ '[^0-9a-f]'` accepts exactly the same strings (64
 * characters, none outside the class; NULL passes both, as a CHECK lets unknown through) and
 * costs ~0.5 µs. A credit checked three hashes (the entry's two, the wallet's head), so every
 * credit paid ~30 µs of PostgreSQL's CPU for them: ~6% of a core at 2,000 credits/s
 * (docs/performance.md). The currency codes get the same treatment; they are checked on every
 * wallet and order write.
 *
 * Outside a transaction, so that the scan that validates a check takes only a lock that lets reads
 * and writes go on: each new check is added NOT VALID under a temporary name (an instant change),
 * validated, and then takes the old one's place in one short transaction, so every row is checked
 * by one of the two at every moment. Each step can run again after a failure half-way.
 */
const CHECKS: ReadonlyArray<{ table: string; name: string; before: string; after: string }> = [
  {
    table: 'ledger.entries',
    name: 'entries_hashes_hex',
    before: `prev_hash ~ '^[0-9a-f]{64}$' AND hash ~ '^[0-9a-f]{64}$'`,
    after: `length(prev_hash) = 64 AND prev_hash !~ '[^0-9a-f]' AND length(hash) = 64 AND hash !~ '[^0-9a-f]'`,
  },
  {
    table: 'ledger.wallets',
    name: 'wallets_last_hash_hex',
    before: `last_hash ~ '^[0-9a-f]{64}$'`,
    after: `length(last_hash) = 64 AND last_hash !~ '[^0-9a-f]'`,
  },
  {
    table: 'ledger.wallets',
    name: 'wallets_currency_iso',
    before: `currency ~ '^[A-Z]{3}$'`,
    after: `length(currency) = 3 AND currency !~ '[^A-Z]'`,
  },
  {
    table: 'ads.orders',
    name: 'orders_currency_iso',
    before: `currency ~ '^[A-Z]{3}$'`,
    after: `length(currency) = 3 AND currency !~ '[^A-Z]'`,
  },
];

async function replaceChecks(q: QueryRunner, pick: 'before' | 'after'): Promise<void> {
  for (const check of CHECKS) {
    const next = `${check.name}_next`;
    await q.query(`ALTER TABLE ${check.table} DROP CONSTRAINT IF EXISTS ${next}`);
    await q.query(`ALTER TABLE ${check.table} ADD CONSTRAINT ${next} CHECK (${check[pick]}) NOT VALID`);
    await q.query(`ALTER TABLE ${check.table} VALIDATE CONSTRAINT ${next}`);
    await inOneTransaction(q, [
      `ALTER TABLE ${check.table} DROP CONSTRAINT IF EXISTS ${check.name}`,
      `ALTER TABLE ${check.table} RENAME CONSTRAINT ${next} TO ${check.name}`,
    ]);
  }
}

export class CheaperShapeChecks1732400009000 implements MigrationInterface {
  name = 'CheaperShapeChecks1732400009000';
  /** Runs outside a transaction: see above. */
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    await replaceChecks(q, 'after');
  }

  async down(q: QueryRunner): Promise<void> {
    await replaceChecks(q, 'before');
  }
}
