import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Stored provider webhooks (SPEC §7), the WhatsApp number routing table the gateway reads on
 * the hot path (SPEC §14), and the worker heartbeats ops reads (SPEC §9).
 */
export class Webhooks1732400003000 implements MigrationInterface {
  name = 'Webhooks1732400003000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SCHEMA IF NOT EXISTS webhooks`);
    // Other capabilities add their own ops tables; whoever migrates first creates the schema.
    await q.query(`CREATE SCHEMA IF NOT EXISTS ops`);

    // Written once per webhook on the gateway's hot path and updated once or twice by the worker,
    // so it carries as few indexes as it can: none on a column an update changes (status, attempts,
    // updated_at…), which keeps those updates HOT (no index writes), with room left on each page.
    await q.query(`
      CREATE TABLE webhooks.events (
        id uuid PRIMARY KEY,
        provider text NOT NULL CHECK (provider IN ('mercadopago', 'stripe', 'meta')),
        provider_event_id text NOT NULL CHECK (length(provider_event_id) BETWEEN 1 AND 255),
        topic text NOT NULL CHECK (length(topic) BETWEEN 1 AND 255),
        resource_id text CHECK (length(resource_id) <= 255),
        status text NOT NULL DEFAULT 'received'
          CHECK (status IN ('received', 'published', 'processed', 'failed', 'dead')),
        attempts int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        last_error text,
        -- The exact bytes the provider signed: a later audit can verify them again.
        raw_body bytea NOT NULL,
        -- Without signatures, credentials or cookies (the gateway strips them before storing).
        headers jsonb NOT NULL DEFAULT '{}'::jsonb,
        tenant_id uuid,
        received_at timestamptz NOT NULL DEFAULT now(),
        processed_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now(),
        -- A provider retry of a stored event is recognised here and publishes nothing new.
        CONSTRAINT events_provider_event_uq UNIQUE (provider, provider_event_id)
      ) WITH (fillfactor = 85)`);
    // Ops pages, newest first (keyset on received_at, id); the status and provider filters and the
    // worker's start-up sweep (recent events only) read along it.
    await q.query(`CREATE INDEX events_received_idx ON webhooks.events (received_at DESC, id DESC)`);

    await q.query(`
      CREATE TABLE webhooks.whatsapp_numbers (
        phone_number_id text PRIMARY KEY CHECK (phone_number_id ~ '^[0-9]{1,32}$'),
        tenant_id uuid NOT NULL,
        waba_id text NOT NULL,
        display_phone_number text NOT NULL,
        -- occurredAt of the mapping event applied last, so a late redelivery cannot undo a newer mapping.
        mapped_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX whatsapp_numbers_tenant_idx ON webhooks.whatsapp_numbers (tenant_id)`);

    await q.query(`
      CREATE TABLE ops.worker_heartbeats (
        worker_id text PRIMARY KEY CHECK (length(worker_id) BETWEEN 1 AND 100),
        started_at timestamptz NOT NULL,
        last_heartbeat_at timestamptz NOT NULL,
        hostname text NOT NULL,
        pid int NOT NULL,
        version text NOT NULL
      )`);
    await q.query(`CREATE INDEX worker_heartbeats_last_idx ON ops.worker_heartbeats (last_heartbeat_at DESC)`);

    await q.query(`GRANT USAGE ON SCHEMA webhooks, ops TO realapp_app`);
    await q.query(`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA webhooks TO realapp_app`);
    await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ops.worker_heartbeats TO realapp_app`);
    await q.query(`GRANT DELETE ON webhooks.whatsapp_numbers TO realapp_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE ops.worker_heartbeats`);
    await q.query(`DROP SCHEMA webhooks CASCADE`);
  }
}
