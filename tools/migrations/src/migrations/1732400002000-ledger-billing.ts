import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The wallet ledger (schema `ledger`, written only by `@realapp/ledger`) and the top-ups and
 * subscriptions that feed it (schema `billing`, `@realapp/payments`). SPEC §5.
 */
export class LedgerBilling1732400002000 implements MigrationInterface {
  name = 'LedgerBilling1732400002000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SCHEMA IF NOT EXISTS ledger`);
    await q.query(`CREATE SCHEMA IF NOT EXISTS billing`);

    // ---- ledger ---------------------------------------------------------------------------------

    // The wallet row is a cache of its entries (balance = Σ amount, held = Σ held delta) and the
    // row every posting locks, so postings of one tenant are serialised and the chain stays linear.
    await q.query(`
      CREATE TABLE ledger.wallets (
        tenant_id uuid PRIMARY KEY,
        balance_cents bigint NOT NULL DEFAULT 0,
        held_cents bigint NOT NULL DEFAULT 0,
        currency char(3) NOT NULL DEFAULT 'BRL',
        last_seq bigint NOT NULL DEFAULT 0,
        last_entry_id uuid,
        last_hash char(64) NOT NULL DEFAULT repeat('0', 64),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT wallets_held_not_negative CHECK (held_cents >= 0),
        CONSTRAINT wallets_currency_iso CHECK (currency ~ '^[A-Z]{3}$'),
        CONSTRAINT wallets_last_seq_not_negative CHECK (last_seq >= 0),
        CONSTRAINT wallets_last_hash_hex CHECK (last_hash ~ '^[0-9a-f]{64}$')
      )`);

    // amount_cents is the signed effect on the balance, held_delta_cents the signed effect on the
    // held amount; the shape of each kind is enforced here so no code path can write a hold that
    // moves the balance or a top-up that is negative.
    await q.query(`
      CREATE TABLE ledger.entries (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES ledger.wallets (tenant_id),
        seq bigint NOT NULL,
        kind text NOT NULL,
        amount_cents bigint NOT NULL,
        held_delta_cents bigint NOT NULL,
        balance_after_cents bigint NOT NULL,
        held_after_cents bigint NOT NULL,
        reference text NOT NULL,
        metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
        prev_hash char(64) NOT NULL,
        hash char(64) NOT NULL,
        created_at timestamptz NOT NULL,
        CONSTRAINT entries_reference_unique UNIQUE (reference),
        CONSTRAINT entries_tenant_seq_unique UNIQUE (tenant_id, seq),
        CONSTRAINT entries_seq_positive CHECK (seq >= 1),
        CONSTRAINT entries_reference_length CHECK (length(reference) BETWEEN 1 AND 255),
        CONSTRAINT entries_held_after_not_negative CHECK (held_after_cents >= 0),
        CONSTRAINT entries_hashes_hex CHECK (prev_hash ~ '^[0-9a-f]{64}$' AND hash ~ '^[0-9a-f]{64}$'),
        CONSTRAINT entries_kind_shape CHECK (
          (kind = 'topup' AND amount_cents > 0 AND held_delta_cents = 0)
          OR (kind = 'hold' AND amount_cents = 0 AND held_delta_cents > 0)
          OR (kind = 'hold_release' AND amount_cents = 0 AND held_delta_cents < 0)
          OR (kind = 'spend' AND amount_cents < 0 AND held_delta_cents = amount_cents)
          OR (kind IN ('refund', 'chargeback') AND amount_cents < 0 AND held_delta_cents = 0)
          OR (kind = 'adjustment' AND amount_cents <> 0 AND held_delta_cents = 0)
        )
      )`);

    // Append-only, enforced by the database for every role (the trigger) and by privileges for the
    // application role (the REVOKE below): corrections are new `adjustment` entries.
    await q.query(`
      CREATE FUNCTION ledger.refuse_entry_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'ledger.entries is append-only: % is not allowed', TG_OP
          USING ERRCODE = 'insufficient_privilege', HINT = 'Post a new adjustment entry instead.';
      END $$`);
    await q.query(`
      CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON ledger.entries
      FOR EACH ROW EXECUTE FUNCTION ledger.refuse_entry_change()`);
    await q.query(`
      CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON ledger.entries
      FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_entry_change()`);
    await q.query(`
      CREATE FUNCTION ledger.refuse_wallet_removal() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'ledger.wallets rows are never removed: % is not allowed', TG_OP
          USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await q.query(`
      CREATE TRIGGER wallets_no_delete BEFORE DELETE ON ledger.wallets
      FOR EACH ROW EXECUTE FUNCTION ledger.refuse_wallet_removal()`);
    await q.query(`
      CREATE TRIGGER wallets_no_truncate BEFORE TRUNCATE ON ledger.wallets
      FOR EACH STATEMENT EXECUTE FUNCTION ledger.refuse_wallet_removal()`);

    // ---- billing --------------------------------------------------------------------------------

    await q.query(`
      CREATE TABLE billing.topups (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        provider text NOT NULL,
        status text NOT NULL DEFAULT 'pending',
        amount_cents bigint NOT NULL,
        currency char(3) NOT NULL DEFAULT 'BRL',
        provider_payment_id text,
        provider_session_id text,
        provider_payment_intent_id text,
        provider_status text,
        provider_status_detail text,
        pix jsonb,
        checkout_url text,
        expires_at timestamptz,
        refunded_cents bigint NOT NULL DEFAULT 0,
        charged_back_cents bigint NOT NULL DEFAULT 0,
        failure_code text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        approved_at timestamptz,
        closed_at timestamptz,
        refunded_at timestamptz,
        charged_back_at timestamptz,
        reconciled_at timestamptz,
        CONSTRAINT topups_provider_known CHECK (provider IN ('mercadopago', 'stripe')),
        CONSTRAINT topups_status_known CHECK (
          status IN ('pending', 'approved', 'rejected', 'expired', 'cancelled', 'refunded', 'charged_back')
        ),
        CONSTRAINT topups_amount_positive CHECK (amount_cents > 0),
        CONSTRAINT topups_taken_back_within_amount CHECK (
          refunded_cents >= 0 AND charged_back_cents >= 0 AND refunded_cents + charged_back_cents <= amount_cents
        ),
        CONSTRAINT topups_provider_payment_unique UNIQUE (provider, provider_payment_id),
        CONSTRAINT topups_provider_session_unique UNIQUE (provider, provider_session_id)
      )`);
    await q.query(
      `CREATE INDEX topups_tenant_page_idx ON billing.topups (tenant_id, created_at DESC, id DESC)`,
    );
    await q.query(
      `CREATE INDEX topups_payment_intent_idx ON billing.topups (provider_payment_intent_id) WHERE provider_payment_intent_id IS NOT NULL`,
    );
    // Reconciliation walks pending top-ups, least recently checked first.
    await q.query(
      `CREATE INDEX topups_pending_reconcile_idx ON billing.topups (reconciled_at NULLS FIRST, created_at) WHERE status = 'pending'`,
    );

    // One row per pre-approval. A tenant has at most one current (active or past_due) and at most
    // one pending subscription: a plan change is a pending row beside the active one until the new
    // pre-approval is authorized, so the tenant keeps a plan at all times.
    await q.query(`
      CREATE TABLE billing.subscriptions (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        plan_id text NOT NULL,
        provider text NOT NULL DEFAULT 'mercadopago',
        status text NOT NULL DEFAULT 'pending',
        amount_cents bigint NOT NULL,
        currency char(3) NOT NULL DEFAULT 'BRL',
        provider_preapproval_id text,
        provider_status text,
        checkout_url text,
        current_period_end timestamptz,
        cancel_at_period_end boolean NOT NULL DEFAULT false,
        cancel_reason text,
        replaces_subscription_id uuid REFERENCES billing.subscriptions (id),
        failure_code text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        activated_at timestamptz,
        cancelled_at timestamptz,
        CONSTRAINT subscriptions_provider_known CHECK (provider IN ('mercadopago')),
        CONSTRAINT subscriptions_status_known CHECK (status IN ('pending', 'active', 'past_due', 'cancelled')),
        CONSTRAINT subscriptions_amount_positive CHECK (amount_cents > 0),
        CONSTRAINT subscriptions_cancel_reason_known CHECK (
          cancel_reason IS NULL OR cancel_reason IN ('tenant_request', 'replaced', 'provider', 'abandoned', 'provider_error')
        ),
        CONSTRAINT subscriptions_preapproval_unique UNIQUE (provider, provider_preapproval_id)
      )`);
    await q.query(
      `CREATE UNIQUE INDEX subscriptions_one_current_per_tenant ON billing.subscriptions (tenant_id) WHERE status IN ('active', 'past_due')`,
    );
    await q.query(
      `CREATE UNIQUE INDEX subscriptions_one_pending_per_tenant ON billing.subscriptions (tenant_id) WHERE status = 'pending'`,
    );
    await q.query(
      `CREATE INDEX subscriptions_tenant_idx ON billing.subscriptions (tenant_id, created_at DESC, id DESC)`,
    );

    // ---- privileges -----------------------------------------------------------------------------

    await q.query(`GRANT USAGE ON SCHEMA ledger, billing TO realapp_app`);
    await q.query(`REVOKE ALL ON ALL TABLES IN SCHEMA ledger FROM PUBLIC`);
    await q.query(`REVOKE UPDATE, DELETE, TRUNCATE ON ledger.entries FROM PUBLIC, realapp_app`);
    await q.query(`REVOKE DELETE, TRUNCATE ON ledger.wallets FROM PUBLIC, realapp_app`);
    await q.query(`GRANT SELECT, INSERT ON ledger.entries TO realapp_app`);
    await q.query(`GRANT SELECT, INSERT, UPDATE ON ledger.wallets TO realapp_app`);
    await q.query(`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA billing TO realapp_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP SCHEMA billing CASCADE`);
    await q.query(`DROP SCHEMA ledger CASCADE`);
  }
}
