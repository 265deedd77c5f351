import { MigrationInterface, QueryRunner } from 'typeorm';

/** Schema `auth` (SPEC §4): tenants, users, signing keys, refresh tokens, invites, login failures, WhatsApp numbers. */
export class Auth1732400001000 implements MigrationInterface {
  name = 'Auth1732400001000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SCHEMA IF NOT EXISTS auth`);

    await q.query(`
      CREATE TABLE auth.tenants (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
        status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Keyset pagination of the super-admin list, newest first.
    await q.query(`CREATE INDEX tenants_created_at_id_idx ON auth.tenants (created_at DESC, id DESC)`);

    // E-mails are stored normalised (trimmed, lower case); one account per e-mail across tenants,
    // because login names no tenant.
    await q.query(`
      CREATE TABLE auth.users (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES auth.tenants (id),
        email text NOT NULL CHECK (email = lower(btrim(email)) AND char_length(email) BETWEEN 3 AND 254),
        name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
        role text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
        password_hash text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT users_email_key UNIQUE (email)
      )`);
    await q.query(`CREATE INDEX users_tenant_id_idx ON auth.users (tenant_id)`);

    // At most one active key (the partial unique index makes concurrent first starts safe);
    // only the active key keeps its (sealed) private half.
    await q.query(`
      CREATE TABLE auth.signing_keys (
        kid text PRIMARY KEY,
        alg text NOT NULL CHECK (alg = 'ES256'),
        public_jwk jsonb NOT NULL,
        private_key_sealed text,
        status text NOT NULL CHECK (status IN ('active', 'retired')),
        created_at timestamptz NOT NULL DEFAULT now(),
        retired_at timestamptz,
        verify_until timestamptz,
        CONSTRAINT signing_keys_private_only_active CHECK ((status = 'active') = (private_key_sealed IS NOT NULL)),
        CONSTRAINT signing_keys_retired_dates CHECK (status = 'active' OR (retired_at IS NOT NULL AND verify_until IS NOT NULL))
      )`);
    await q.query(
      `CREATE UNIQUE INDEX signing_keys_one_active_idx ON auth.signing_keys (status) WHERE status = 'active'`,
    );

    // One family per login; refresh tokens are stored as SHA-256 digests only.
    await q.query(`
      CREATE TABLE auth.refresh_families (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES auth.users (id),
        tenant_id uuid NOT NULL REFERENCES auth.tenants (id),
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz,
        revoked_reason text CHECK (revoked_reason IN ('logout', 'reuse')),
        CONSTRAINT refresh_families_revoked_reason CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
      )`);
    await q.query(`CREATE INDEX refresh_families_user_id_idx ON auth.refresh_families (user_id)`);
    await q.query(`
      CREATE TABLE auth.refresh_tokens (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        family_id uuid NOT NULL REFERENCES auth.refresh_families (id) ON DELETE CASCADE,
        token_hash bytea NOT NULL CHECK (octet_length(token_hash) = 32),
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        spent_at timestamptz,
        CONSTRAINT refresh_tokens_token_hash_key UNIQUE (token_hash)
      )`);
    await q.query(`CREATE INDEX refresh_tokens_family_id_idx ON auth.refresh_tokens (family_id)`);
    await q.query(`CREATE INDEX refresh_tokens_expires_at_idx ON auth.refresh_tokens (expires_at)`);

    await q.query(`
      CREATE TABLE auth.invites (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES auth.tenants (id),
        email text NOT NULL CHECK (email = lower(btrim(email)) AND char_length(email) BETWEEN 3 AND 254),
        role text NOT NULL CHECK (role IN ('admin', 'member')),
        token_hash bytea NOT NULL CHECK (octet_length(token_hash) = 32),
        invited_by uuid REFERENCES auth.users (id),
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        accepted_at timestamptz,
        accepted_user_id uuid REFERENCES auth.users (id),
        CONSTRAINT invites_token_hash_key UNIQUE (token_hash),
        CONSTRAINT invites_accepted CHECK ((accepted_at IS NULL) = (accepted_user_id IS NULL))
      )`);
    await q.query(`CREATE INDEX invites_tenant_id_idx ON auth.invites (tenant_id, created_at DESC)`);

    // Sliding-window brute-force counters. The account is a digest of the normalised e-mail, so
    // guesses at addresses that have no account leave no e-mail behind.
    await q.query(`
      CREATE TABLE auth.login_failures (
        id bigserial PRIMARY KEY,
        account_hash bytea NOT NULL CHECK (octet_length(account_hash) = 32),
        ip text NOT NULL CHECK (char_length(ip) BETWEEN 1 AND 64),
        failed_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(
      `CREATE INDEX login_failures_account_idx ON auth.login_failures (account_hash, failed_at DESC)`,
    );
    await q.query(`CREATE INDEX login_failures_ip_idx ON auth.login_failures (ip, failed_at DESC)`);
    await q.query(`CREATE INDEX login_failures_failed_at_idx ON auth.login_failures (failed_at)`);

    // A WhatsApp number routes to exactly one tenant (webhook-gateway learns it from an event).
    await q.query(`
      CREATE TABLE auth.whatsapp_numbers (
        phone_number_id text PRIMARY KEY CHECK (phone_number_id ~ '^[0-9]{1,32}$'),
        tenant_id uuid NOT NULL REFERENCES auth.tenants (id),
        waba_id text NOT NULL CHECK (waba_id ~ '^[0-9]{1,32}$'),
        display_phone_number text NOT NULL CHECK (char_length(display_phone_number) BETWEEN 1 AND 32),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX whatsapp_numbers_tenant_id_idx ON auth.whatsapp_numbers (tenant_id)`);

    await q.query(`GRANT USAGE ON SCHEMA auth TO realapp_app`);
    await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA auth TO realapp_app`);
    await q.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA auth TO realapp_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP SCHEMA auth CASCADE`);
  }
}
