import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Ads orders and their transition history (schema `ads`, written only by `@realapp/orders`).
 * SPEC §6 and §13 "Orders".
 */
export class Orders1732400004000 implements MigrationInterface {
  name = 'Orders1732400004000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SCHEMA IF NOT EXISTS ads`);

    // held_cents is this order's share of the wallet's held amount (the ledger holds the truth per
    // tenant; this column lets an order release exactly what it still holds). spent_cents only grows.
    // The lease columns let one worker at a time talk to Meta about an order without holding a
    // database connection for the length of a Graph call; a lease left by a crashed worker expires.
    await q.query(`
      CREATE TABLE ads.orders (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        name text NOT NULL,
        objective text NOT NULL,
        status text NOT NULL,
        waiting_reason text,
        budget_cents bigint NOT NULL,
        held_cents bigint NOT NULL DEFAULT 0,
        spent_cents bigint NOT NULL DEFAULT 0,
        currency char(3) NOT NULL DEFAULT 'BRL',
        targeting jsonb NOT NULL,
        creative jsonb NOT NULL,
        starts_at timestamptz,
        ends_at timestamptz,
        campaign_id text,
        meta_status text,
        meta_sync_error text,
        failure_reason text,
        launch_attempts int NOT NULL DEFAULT 0,
        launch_started_at timestamptz,
        lease_owner uuid,
        lease_until timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT orders_name_length CHECK (char_length(name) BETWEEN 1 AND 200),
        CONSTRAINT orders_objective_known CHECK (objective IN ('traffic', 'engagement', 'leads', 'sales', 'awareness')),
        CONSTRAINT orders_status_known CHECK (
          status IN ('waiting_payment', 'queued', 'launching', 'active', 'paused', 'completed', 'stopped', 'failed')
        ),
        CONSTRAINT orders_waiting_reason_known CHECK (waiting_reason IN ('missing_plan', 'insufficient_balance')),
        CONSTRAINT orders_waiting_reason_iff_waiting CHECK ((status = 'waiting_payment') = (waiting_reason IS NOT NULL)),
        CONSTRAINT orders_budget_range CHECK (budget_cents BETWEEN 1000 AND 100000000),
        CONSTRAINT orders_money_within_budget CHECK (
          held_cents >= 0 AND spent_cents >= 0 AND held_cents + spent_cents <= budget_cents
        ),
        CONSTRAINT orders_nothing_held_while_waiting CHECK (status <> 'waiting_payment' OR held_cents = 0),
        CONSTRAINT orders_currency_iso CHECK (currency ~ '^[A-Z]{3}$'),
        CONSTRAINT orders_schedule_ordered CHECK (starts_at IS NULL OR ends_at IS NULL OR ends_at > starts_at),
        CONSTRAINT orders_meta_status_known CHECK (meta_status IN ('ACTIVE', 'PAUSED', 'ARCHIVED', 'DELETED')),
        CONSTRAINT orders_launch_attempts_not_negative CHECK (launch_attempts >= 0),
        CONSTRAINT orders_lease_complete CHECK ((lease_owner IS NULL) = (lease_until IS NULL))
      )`);
    // One order per Meta campaign: adopting a campaign found by name can never attach it twice.
    await q.query(
      `CREATE UNIQUE INDEX orders_campaign_id_key ON ads.orders (campaign_id) WHERE campaign_id IS NOT NULL`,
    );
    // The tenant's list, newest first (keyset on created_at, id).
    await q.query(`CREATE INDEX orders_tenant_page_idx ON ads.orders (tenant_id, created_at DESC, id DESC)`);
    // Re-evaluation walks a tenant's waiting orders oldest first.
    await q.query(
      `CREATE INDEX orders_tenant_waiting_idx ON ads.orders (tenant_id, created_at, id) WHERE status = 'waiting_payment'`,
    );
    // The worker's sweeps: orders with a campaign to watch, launches in flight, holds still to settle.
    await q.query(
      `CREATE INDEX orders_in_flight_idx ON ads.orders (status, updated_at) WHERE status IN ('queued', 'launching', 'active', 'paused')`,
    );
    await q.query(
      `CREATE INDEX orders_unsettled_idx ON ads.orders (updated_at) WHERE held_cents > 0 AND status IN ('completed', 'stopped', 'failed')`,
    );

    await q.query(`
      CREATE TABLE ads.order_transitions (
        id bigserial PRIMARY KEY,
        order_id uuid NOT NULL REFERENCES ads.orders (id),
        tenant_id uuid NOT NULL,
        from_status text,
        to_status text NOT NULL,
        reason text NOT NULL,
        at timestamptz NOT NULL DEFAULT clock_timestamp(),
        CONSTRAINT order_transitions_reason_length CHECK (char_length(reason) BETWEEN 1 AND 500)
      )`);
    await q.query(`CREATE INDEX order_transitions_order_idx ON ads.order_transitions (order_id, id)`);

    // History is evidence (what the customer asked, what Meta did): never rewritten.
    await q.query(`
      CREATE FUNCTION ads.refuse_transition_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'ads.order_transitions is append-only: % is not allowed', TG_OP
          USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(`
      CREATE TRIGGER order_transitions_append_only BEFORE UPDATE OR DELETE ON ads.order_transitions
      FOR EACH ROW EXECUTE FUNCTION ads.refuse_transition_change()`);

    await q.query(`GRANT USAGE ON SCHEMA ads TO realapp_app`);
    await q.query(`GRANT SELECT, INSERT, UPDATE ON ads.orders TO realapp_app`);
    await q.query(`GRANT SELECT, INSERT ON ads.order_transitions TO realapp_app`);
    await q.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA ads TO realapp_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP SCHEMA ads CASCADE`);
  }
}
