import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The outbox holds only what is still to be published; the relay moves each published row to
 * `messaging.outbox_published`, an UNLOGGED history kept a week.
 *
 * Marking a row published was an UPDATE, and PostgreSQL writes an updated row whole to the WAL with
 * an entry in every index: ~0.9 KB and 5 WAL records per event, a fifth of all the WAL a webhook and
 * its credit wrote (docs/performance.md). A delete writes ~50 bytes, and the unlogged history
 * writes none. The history is for people (was this event published, and when?), never for
 * correctness: consumers de-duplicate by their inbox. PostgreSQL empties an unlogged table after a
 * crash and does not replicate it, which is the price of that; the rows still to be published are
 * in the logged outbox and survive everything.
 *
 * Every row left in the outbox is unpublished, so the partial indexes on `published_at` go, and
 * with them the column; the relay reads along the primary key. The message id keeps no unique
 * index: ids are random UUIDs minted by OutboxService, and consumers' inboxes are keyed by them.
 * `messaging.outbox_log` shows both, pending and published, for on-call and tests.
 */
export class OutboxAsQueue1732400008000 implements MigrationInterface {
  name = 'OutboxAsQueue1732400008000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE UNLOGGED TABLE messaging.outbox_published (
        seq bigint NOT NULL,
        id uuid NOT NULL,
        type text NOT NULL,
        routing_key text NOT NULL,
        envelope jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        published_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Rows arrive in publication order, so a block range index is all the retention purge needs.
    await q.query(`CREATE INDEX outbox_published_at_brin ON messaging.outbox_published USING brin (published_at)`);
    await q.query(`
      INSERT INTO messaging.outbox_published (seq, id, type, routing_key, envelope, created_at, published_at)
      SELECT seq, id, type, routing_key, envelope, created_at, published_at
      FROM messaging.outbox WHERE published_at IS NOT NULL ORDER BY published_at`);
    await q.query(`DELETE FROM messaging.outbox WHERE published_at IS NOT NULL`);
    await q.query(`DROP INDEX messaging.outbox_unpublished_idx`);
    await q.query(`DROP INDEX messaging.outbox_published_at_idx`);
    await q.query(`ALTER TABLE messaging.outbox DROP CONSTRAINT outbox_id_key`);
    await q.query(`ALTER TABLE messaging.outbox DROP COLUMN published_at`);
    await q.query(`
      CREATE VIEW messaging.outbox_log AS
        SELECT seq, id, type, routing_key, envelope, created_at, NULL::timestamptz AS published_at FROM messaging.outbox
        UNION ALL
        SELECT seq, id, type, routing_key, envelope, created_at, published_at FROM messaging.outbox_published`);
    await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON messaging.outbox_published TO realapp_app`);
    await q.query(`GRANT SELECT ON messaging.outbox_log TO realapp_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP VIEW messaging.outbox_log`);
    await q.query(`ALTER TABLE messaging.outbox ADD COLUMN published_at timestamptz`);
    await q.query(`ALTER TABLE messaging.outbox ADD CONSTRAINT outbox_id_key UNIQUE (id)`);
    await q.query(`
      INSERT INTO messaging.outbox (seq, id, type, routing_key, envelope, created_at, published_at)
      SELECT seq, id, type, routing_key, envelope, created_at, published_at FROM messaging.outbox_published
      ON CONFLICT DO NOTHING`);
    await q.query(`CREATE INDEX outbox_unpublished_idx ON messaging.outbox (seq) WHERE published_at IS NULL`);
    await q.query(`CREATE INDEX outbox_published_at_idx ON messaging.outbox (published_at) WHERE published_at IS NOT NULL`);
    await q.query(`DROP TABLE messaging.outbox_published`);
  }
}
