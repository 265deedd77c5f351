import { MigrationInterface, QueryRunner } from 'typeorm';

/** Schemas of the platform itself: idempotency keys, the outbox, the inbox and dead letters. */
export class PlatformMessaging1732400000000 implements MigrationInterface {
  name = 'PlatformMessaging1732400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE EXTENSION IF NOT EXISTS pgcrypto`);
    await q.query(`CREATE SCHEMA IF NOT EXISTS platform`);
    await q.query(`CREATE SCHEMA IF NOT EXISTS messaging`);

    // The role production services log in as: it gets what the code needs and nothing more.
    // (Local development and CI connect as postgres, so nothing depends on the role existing.)
    await q.query(`DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'realapp_app') THEN CREATE ROLE realapp_app NOLOGIN; END IF;
    END $$`);

    await q.query(`
      CREATE TABLE platform.idempotency_keys (
        scope text NOT NULL,
        key text NOT NULL,
        fingerprint text NOT NULL,
        state text NOT NULL CHECK (state IN ('in_progress', 'completed')),
        response_status int,
        response_body jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (scope, key)
      )`);
    await q.query(`CREATE INDEX idempotency_keys_expires_at_idx ON platform.idempotency_keys (expires_at)`);

    await q.query(`
      CREATE TABLE messaging.outbox (
        seq bigserial PRIMARY KEY,
        id uuid NOT NULL UNIQUE,
        type text NOT NULL,
        routing_key text NOT NULL,
        envelope jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz
      )`);
    await q.query(`CREATE INDEX outbox_unpublished_idx ON messaging.outbox (seq) WHERE published_at IS NULL`);
    await q.query(`CREATE INDEX outbox_published_at_idx ON messaging.outbox (published_at) WHERE published_at IS NOT NULL`);
    // Wakes the relays as soon as a transaction with outbox rows commits (NOTIFY is transactional).
    await q.query(`
      CREATE FUNCTION messaging.notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_notify('realapp_outbox', ''); RETURN NULL; END $$`);
    await q.query(`
      CREATE TRIGGER outbox_notify AFTER INSERT ON messaging.outbox
      FOR EACH STATEMENT EXECUTE FUNCTION messaging.notify_outbox()`);

    await q.query(`
      CREATE TABLE messaging.inbox (
        consumer text NOT NULL,
        message_id uuid NOT NULL,
        processed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, message_id)
      )`);
    await q.query(`CREATE INDEX inbox_processed_at_idx ON messaging.inbox (processed_at)`);

    await q.query(`
      CREATE TABLE messaging.dead_letters (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        queue text NOT NULL,
        message_id uuid,
        type text,
        attempts int NOT NULL,
        last_error text NOT NULL,
        body text NOT NULL,
        dead_at timestamptz NOT NULL DEFAULT now(),
        replayed_at timestamptz,
        replay_count int NOT NULL DEFAULT 0
      )`);
    await q.query(`CREATE INDEX dead_letters_dead_at_idx ON messaging.dead_letters (dead_at DESC, id DESC)`);

    await q.query(`GRANT USAGE ON SCHEMA platform, messaging TO realapp_app`);
    await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA platform, messaging TO realapp_app`);
    await q.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA messaging TO realapp_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP SCHEMA messaging CASCADE`);
    await q.query(`DROP SCHEMA platform CASCADE`);
  }
}
