import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The outbox stops notifying. PostgreSQL serialises the commits of every transaction that called
 * NOTIFY under one lock held through the WAL flush, so the per-statement trigger turned group
 * commit into one fsync at a time on every outbox-writing path (docs/performance.md). The writing
 * process now wakes its own relay after the commit, and every relay polls for the rest.
 *
 * The unpublished-rows partial index is only as small as vacuum keeps it, and every row turns
 * from unpublished to published once: vacuum the table after 2% of it changed, not 20%.
 */
export class OutboxWakeups1732400007000 implements MigrationInterface {
  name = 'OutboxWakeups1732400007000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER IF EXISTS outbox_notify ON messaging.outbox`);
    await q.query(`DROP FUNCTION IF EXISTS messaging.notify_outbox()`);
    await q.query(
      `ALTER TABLE messaging.outbox SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE messaging.outbox RESET (autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor)`,
    );
    await q.query(`
      CREATE FUNCTION messaging.notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_notify('realapp_outbox', ''); RETURN NULL; END $$`);
    await q.query(`
      CREATE TRIGGER outbox_notify AFTER INSERT ON messaging.outbox
      FOR EACH STATEMENT EXECUTE FUNCTION messaging.notify_outbox()`);
  }
}
