import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * On-call's tables (SPEC §9): recurring errors and the incidents they open, the audit log of every
 * ops action, and the readiness each service instance reports for the status page.
 * Schema `ops` itself (and `ops.worker_heartbeats`) come from the webhooks migration; IF NOT EXISTS
 * keeps this one independent of that order.
 */
export class Ops1732400005000 implements MigrationInterface {
  name = 'Ops1732400005000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SCHEMA IF NOT EXISTS ops`);

    // One row per recorded error; the 15-minute window is counted from here, across services and replicas.
    await q.query(`
      CREATE TABLE ops.incident_occurrences (
        id bigserial PRIMARY KEY,
        fingerprint text NOT NULL,
        code text NOT NULL,
        place text NOT NULL,
        service text NOT NULL,
        instance_id text NOT NULL,
        message text NOT NULL,
        correlation_id text,
        stack text,
        at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(
      `CREATE INDEX incident_occurrences_fingerprint_at_idx ON ops.incident_occurrences (fingerprint, at DESC)`,
    );
    await q.query(`CREATE INDEX incident_occurrences_at_idx ON ops.incident_occurrences (at)`);

    await q.query(`
      CREATE TABLE ops.incidents (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        fingerprint text NOT NULL,
        code text NOT NULL,
        place text NOT NULL,
        level text NOT NULL CHECK (level IN ('L1', 'L2', 'L3')),
        status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
        count int NOT NULL CHECK (count > 0),
        first_seen_at timestamptz NOT NULL,
        last_seen_at timestamptz NOT NULL CHECK (last_seen_at >= first_seen_at),
        sample jsonb NOT NULL,
        services text[] NOT NULL DEFAULT '{}',
        reports jsonb NOT NULL DEFAULT '[]',
        created_at timestamptz NOT NULL DEFAULT now(),
        resolved_at timestamptz,
        resolved_by text,
        CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
      )`);
    // At most one open incident per fingerprint, whichever replica opens it first.
    await q.query(
      `CREATE UNIQUE INDEX incidents_open_fingerprint_key ON ops.incidents (fingerprint) WHERE status = 'open'`,
    );
    await q.query(
      `CREATE INDEX incidents_open_created_idx ON ops.incidents (created_at DESC, id DESC) WHERE status = 'open'`,
    );
    await q.query(
      `CREATE INDEX incidents_fingerprint_resolved_idx ON ops.incidents (fingerprint, resolved_at DESC) WHERE status = 'resolved'`,
    );

    await q.query(`
      CREATE TABLE ops.audit_log (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        at timestamptz NOT NULL DEFAULT now(),
        actor text NOT NULL,
        action text NOT NULL,
        target text,
        details jsonb NOT NULL DEFAULT '{}',
        correlation_id text NOT NULL
      )`);
    await q.query(`CREATE INDEX audit_log_at_idx ON ops.audit_log (at DESC, id DESC)`);
    // An audit trail that can be edited proves nothing: the database refuses changes, as for the ledger.
    await q.query(`
      CREATE FUNCTION ops.refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'ops.audit_log is append-only' USING ERRCODE = 'insufficient_privilege'; END $$`);
    await q.query(`
      CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON ops.audit_log
      FOR EACH ROW EXECUTE FUNCTION ops.refuse_audit_change()`);
    await q.query(`
      CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON ops.audit_log
      FOR EACH STATEMENT EXECUTE FUNCTION ops.refuse_audit_change()`);

    // What each running process last said about its own readiness (status page, alerts).
    await q.query(`
      CREATE TABLE ops.service_instances (
        service text NOT NULL,
        instance_id text NOT NULL,
        hostname text NOT NULL,
        pid int NOT NULL,
        ready boolean NOT NULL,
        checks jsonb NOT NULL DEFAULT '{}',
        started_at timestamptz NOT NULL,
        reported_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (service, instance_id)
      )`);
    await q.query(`CREATE INDEX service_instances_reported_at_idx ON ops.service_instances (reported_at)`);

    await q.query(`GRANT USAGE ON SCHEMA ops TO realapp_app`);
    await q.query(
      `GRANT SELECT, INSERT, UPDATE, DELETE ON ops.incident_occurrences, ops.incidents, ops.service_instances TO realapp_app`,
    );
    await q.query(`GRANT SELECT, INSERT ON ops.audit_log TO realapp_app`);
    await q.query(`GRANT USAGE ON SEQUENCE ops.incident_occurrences_id_seq TO realapp_app`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE ops.service_instances`);
    await q.query(`DROP TABLE ops.audit_log`);
    await q.query(`DROP FUNCTION ops.refuse_audit_change()`);
    await q.query(`DROP TABLE ops.incidents`);
    await q.query(`DROP TABLE ops.incident_occurrences`);
  }
}
