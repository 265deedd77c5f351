import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The WhatsApp channel (SPEC §14): Embedded Signup sessions, connections (one per WABA, tenant or
 * orphan), versioned chatbot flows, conversations and their messages (inbound, and the outbound
 * reply intents that make a reply happen once per inbound message).
 */
export class WhatsApp1732400006000 implements MigrationInterface {
  name = 'WhatsApp1732400006000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SCHEMA IF NOT EXISTS whatsapp`);

    await q.query(`
      CREATE TABLE whatsapp.onboarding_sessions (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        -- The app's handle for its own signup attempt; unguessable, so it is safe in logs and URLs.
        tracking_code text NOT NULL CHECK (tracking_code ~ '^[A-Za-z0-9_-]{16,64}$'),
        app_id text NOT NULL,
        config_id text NOT NULL,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'completing', 'completed')),
        created_by uuid,
        expires_at timestamptz NOT NULL,
        -- A completion in flight holds the session; a crashed one is taken over after a lease.
        completing_since timestamptz,
        completed_at timestamptz,
        connection_id uuid,
        waba_id text CHECK (waba_id ~ '^[0-9]{1,32}$'),
        phone_number_id text CHECK (phone_number_id ~ '^[0-9]{1,32}$'),
        business_id text CHECK (business_id ~ '^[0-9]{1,32}$'),
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT onboarding_sessions_tracking_code_uq UNIQUE (tracking_code),
        CHECK ((status = 'completed') = (completed_at IS NOT NULL))
      )`);
    await q.query(`CREATE INDEX onboarding_sessions_tenant_idx ON whatsapp.onboarding_sessions (tenant_id, created_at DESC)`);
    // Partner-event case 1 (the WABA a session reported) and case 2 (a tenant's known business id).
    await q.query(`CREATE INDEX onboarding_sessions_waba_idx ON whatsapp.onboarding_sessions (waba_id) WHERE waba_id IS NOT NULL`);
    await q.query(
      `CREATE INDEX onboarding_sessions_business_idx ON whatsapp.onboarding_sessions (business_id) WHERE business_id IS NOT NULL`,
    );

    await q.query(`
      CREATE TABLE whatsapp.connections (
        id uuid PRIMARY KEY,
        -- NULL while the connection is an orphan ("phantom") that only ops can attach.
        tenant_id uuid,
        waba_id text NOT NULL CHECK (waba_id ~ '^[0-9]{1,32}$'),
        phone_number_id text CHECK (phone_number_id ~ '^[0-9]{1,32}$'),
        display_phone_number text CHECK (length(display_phone_number) <= 32),
        business_id text CHECK (business_id ~ '^[0-9]{1,32}$'),
        status text NOT NULL CHECK (status IN ('active', 'token_expiring', 'token_invalid', 'disconnected')),
        -- AES-256-GCM blob (v1:<keyId>:<nonce>:<ciphertext>:<tag>), bound to this row's id: the
        -- database refuses anything that is not one, so a token can never be stored in clear.
        token_ciphertext text CHECK (
          token_ciphertext ~ '^v1:[A-Za-z0-9_-]{1,32}:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]+:[A-Za-z0-9_-]{22}$'),
        token_key_id text CHECK (token_key_id ~ '^[A-Za-z0-9_-]{1,32}$'),
        token_expires_at timestamptz,
        token_scopes text[] NOT NULL DEFAULT '{}',
        last_checked_at timestamptz,
        source text NOT NULL CHECK (source IN ('signup', 'partner_event')),
        onboarding_session_id uuid REFERENCES whatsapp.onboarding_sessions (id),
        partner_event text,
        partner_event_at timestamptz,
        -- When Meta reported it without a session or tenant to attach it to.
        orphaned_at timestamptz,
        claimed_at timestamptz,
        disconnected_at timestamptz,
        -- Millisecond precision: list cursors carry ISO timestamps (ms), and keyset pages must not skip rows.
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        updated_at timestamptz NOT NULL DEFAULT now(),
        -- One connection per WABA, whatever the order and number of Meta's deliveries.
        CONSTRAINT connections_waba_uq UNIQUE (waba_id),
        CHECK ((token_ciphertext IS NULL) = (token_key_id IS NULL)),
        CHECK (tenant_id IS NOT NULL OR orphaned_at IS NOT NULL)
      )`);
    // A number answers for one live connection only (SPEC §4: mapped elsewhere → 409).
    await q.query(
      `CREATE UNIQUE INDEX connections_live_phone_uq ON whatsapp.connections (phone_number_id)
       WHERE phone_number_id IS NOT NULL AND status <> 'disconnected'`,
    );
    await q.query(
      `CREATE INDEX connections_tenant_idx ON whatsapp.connections (tenant_id, created_at DESC, id DESC) WHERE tenant_id IS NOT NULL`,
    );
    await q.query(`CREATE INDEX connections_orphans_idx ON whatsapp.connections (orphaned_at DESC, id DESC) WHERE tenant_id IS NULL`);
    await q.query(`CREATE INDEX connections_business_idx ON whatsapp.connections (business_id) WHERE business_id IS NOT NULL`);
    // Key rotation finds what is still sealed under a retired key.
    await q.query(`CREATE INDEX connections_token_key_idx ON whatsapp.connections (token_key_id) WHERE token_key_id IS NOT NULL`);

    await q.query(`
      CREATE TABLE whatsapp.flows (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        domain text NOT NULL CHECK (domain ~ '^[a-z][a-z0-9_]{0,63}$'),
        version int NOT NULL CHECK (version >= 1),
        status text NOT NULL CHECK (status IN ('draft', 'published')),
        -- {start, nodes: [{id, message, options: [{match, next}]}], fallbackMessage?}, validated before insert.
        definition jsonb NOT NULL,
        created_by uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz,
        CONSTRAINT flows_version_uq UNIQUE (tenant_id, domain, version),
        CHECK ((status = 'published') = (published_at IS NOT NULL))
      )`);
    // The live flow of a tenant is its most recently published version.
    await q.query(
      `CREATE INDEX flows_live_idx ON whatsapp.flows (tenant_id, published_at DESC, version DESC) WHERE status = 'published'`,
    );

    await q.query(`
      CREATE TABLE whatsapp.conversations (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        phone_number_id text NOT NULL CHECK (phone_number_id ~ '^[0-9]{1,32}$'),
        sender text NOT NULL CHECK (length(sender) BETWEEN 1 AND 64),
        -- The state the flow engine works on; Redis caches it, this row is the source of truth.
        current_node_id text,
        flow_domain text,
        flow_version int,
        state_version bigint NOT NULL DEFAULT 0,
        state_updated_at timestamptz,
        last_message_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT conversations_sender_uq UNIQUE (tenant_id, phone_number_id, sender)
      )`);
    await q.query(
      `CREATE INDEX conversations_recent_idx ON whatsapp.conversations (tenant_id, last_message_at DESC, id DESC)`,
    );
    // The nightly cleanup looks only at conversations that still hold a state.
    await q.query(
      `CREATE INDEX conversations_idle_idx ON whatsapp.conversations (last_message_at) WHERE current_node_id IS NOT NULL`,
    );

    await q.query(`
      CREATE TABLE whatsapp.messages (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        conversation_id uuid NOT NULL REFERENCES whatsapp.conversations (id),
        phone_number_id text NOT NULL,
        direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
        -- Inbound: what the customer wrote (NULL for media). Outbound: the reply, NULL while composing.
        text text CHECK (length(text) <= 4096),
        message_type text NOT NULL DEFAULT 'text',
        -- The wamid: Meta's for inbound, Graph's answer for a sent reply.
        provider_message_id text,
        -- Outbound only: the inbound message it answers. UNIQUE: one reply per inbound message.
        reply_to_message_id uuid REFERENCES whatsapp.messages (id),
        reply_kind text CHECK (reply_kind IN ('flow', 'ai', 'fallback')),
        -- Outbound only: what to send if the AI cannot answer.
        fallback_text text CHECK (length(fallback_text) <= 4096),
        status text NOT NULL CHECK (status IN (
          'received', 'processed',
          'composing', 'pending', 'sending', 'sent', 'failed', 'unknown')),
        attempts int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        lease_until timestamptz,
        last_error text CHECK (length(last_error) <= 2000),
        at timestamptz NOT NULL,
        sent_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT messages_reply_uq UNIQUE (reply_to_message_id),
        CHECK ((direction = 'inbound') = (status IN ('received', 'processed'))),
        CHECK ((direction = 'outbound') = (reply_to_message_id IS NOT NULL))
      )`);
    // Meta delivers a message at least once: the second copy of a wamid is recognised here.
    await q.query(
      `CREATE UNIQUE INDEX messages_inbound_uq ON whatsapp.messages (phone_number_id, provider_message_id) WHERE direction = 'inbound'`,
    );
    await q.query(`CREATE INDEX messages_conversation_idx ON whatsapp.messages (conversation_id, at DESC, created_at DESC)`);
    // Replies that never reached a final state, for ops and the retry path.
    await q.query(
      `CREATE INDEX messages_unfinished_idx ON whatsapp.messages (updated_at) WHERE status IN ('composing', 'pending', 'sending')`,
    );

    await q.query(`GRANT USAGE ON SCHEMA whatsapp TO realapp_app`);
    await q.query(`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA whatsapp TO realapp_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP SCHEMA whatsapp CASCADE`);
  }
}
