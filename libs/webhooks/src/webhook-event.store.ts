import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { DataSource, EntityManager } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { WebhookProvider, WebhookReceivedData } from '@realapp/contracts';
import { OutboxService } from '@realapp/messaging';
import { AppError, currentCorrelationId, cursorAtSql, decodeCursor, Page, toPage } from '@realapp/platform';
import { storableJsonText, webhookEventDefinition } from './webhook-envelope';
import { uuidV7 } from './uuid-v7';
import {
  IncomingWebhook,
  StoreOutcome,
  TENANT_NOT_MAPPED,
  WebhookEventFilter,
  WebhookEventStatus,
  WebhookEventView,
} from './webhook-event.types';
import { WhatsAppRoutingService } from './whatsapp-routing.service';

/**
 * Events and their outbox rows in one statement, so one round trip and one implicit transaction:
 * either both exist or neither. A provider retry hits the unique (provider, provider_event_id)
 * key and inserts nothing, so it publishes nothing (`ob` joins only what `ev` inserted); two
 * deliveries of one event in the same group insert once (ON CONFLICT DO NOTHING also skips a row
 * inserted earlier by the same statement).
 *
 * The body travels once, as text: the intake has parsed it with a fatal UTF-8 decoder, so it is
 * valid UTF-8 without NUL and its text is exactly its bytes (`convert_to` gives them back), and
 * the `webhook.<provider>.received` envelope is built here around it (the shape
 * `buildWebhookEnvelope` gives, which a test pins) instead of being serialised, escaped and sent a
 * second time. That halved what the gateway writes to PostgreSQL per webhook (docs/performance.md).
 * Only a body whose payload text differs from its bytes (a leading byte order mark, a `\u0000`
 * escape: `storableJsonText`) sends that text too, as `payload_text`; every other row sends NULL.
 */
const STORE_SQL = `
WITH input AS (
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                       $8::text[], $9::text[], $10::uuid[], $11::uuid[], $12::text[], $13::int[], $14::text[],
                       $15::text[], $16::boolean[], $17::text[])
    AS t(id, provider, provider_event_id, topic, resource_id, status, last_error,
         body, headers, tenant_id, outbox_id, type, version, occurred_at, correlation_id, publish, payload_text)
), ev AS (
  INSERT INTO webhooks.events
    (id, provider, provider_event_id, topic, resource_id, status, last_error, raw_body, headers, tenant_id)
  SELECT id, provider, provider_event_id, topic, resource_id, status, last_error, convert_to(body, 'UTF8'),
         headers::jsonb, tenant_id
  FROM input
  ON CONFLICT (provider, provider_event_id) DO NOTHING
  RETURNING id
), ob AS (
  INSERT INTO messaging.outbox (id, type, routing_key, envelope)
  SELECT i.outbox_id, i.type, i.type,
         jsonb_build_object(
           'id', i.outbox_id, 'type', i.type, 'version', i.version, 'occurredAt', i.occurred_at,
           'correlationId', i.correlation_id, 'causationId', NULL, 'tenantId', i.tenant_id,
           'data', jsonb_build_object(
             'webhookEventId', i.id, 'provider', i.provider, 'providerEventId', i.provider_event_id,
             'topic', i.topic,
             'payload', COALESCE(i.payload_text, i.body)::jsonb
           ) || CASE WHEN i.resource_id IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('resourceId', i.resource_id) END)
  FROM input i JOIN ev ON ev.id = i.id WHERE i.publish
  RETURNING 1
)
SELECT id FROM ev`;

/** Concurrent grouped writes; each holds one pool connection. */
const MAX_IN_FLIGHT = 2;
const MAX_GROUP = 200;

interface PreparedRow {
  id: string;
  provider: WebhookProvider;
  providerEventId: string;
  topic: string;
  resourceId: string | null;
  status: WebhookEventStatus;
  lastError: string | null;
  body: string;
  /** The payload's JSON text when it is not `body` itself (see STORE_SQL); null otherwise. */
  payloadText: string | null;
  headers: string;
  tenantId: string | null;
  outboxId: string;
  type: string;
  version: number;
  occurredAt: string;
  correlationId: string;
  publish: boolean;
}

interface PendingStore {
  row: PreparedRow;
  resolve: (outcome: StoreOutcome) => void;
  reject: (error: unknown) => void;
}

interface EventRow {
  id: string;
  provider: WebhookProvider;
  provider_event_id: string;
  topic: string;
  resource_id: string | null;
  status: WebhookEventStatus;
  attempts: number;
  last_error: string | null;
  tenant_id: string | null;
  received_at: Date;
  processed_at: Date | null;
}

const VIEW_COLUMNS = `id, provider, provider_event_id, topic, resource_id, status, attempts, last_error, tenant_id, received_at, processed_at`;

/**
 * What ops sees (SPEC §7): `published` is not written, because the relay would then update every
 * event row after its confirm (a second write of a ~1 KB row per webhook, on the hot path). The
 * outbox row is the publication record instead: an event still `received` whose row has left the
 * outbox was confirmed by the broker, so it reads as `published` until the worker moves it on.
 * `queued` is the set of event ids still in the outbox (webhook messages only).
 */
const VIEW_STATUS = `CASE WHEN e.status = 'received' AND e.id::text NOT IN (SELECT id FROM queued) THEN 'published' ELSE e.status END`;
// Compared as text, as republishStale compares them: an odd envelope cannot fail the cast for every list.
const QUEUED_CTE = `queued AS MATERIALIZED (
  SELECT o.envelope -> 'data' ->> 'webhookEventId' AS id FROM messaging.outbox o
  WHERE o.type LIKE 'webhook.%' AND o.envelope -> 'data' ->> 'webhookEventId' IS NOT NULL)`;
const VIEW_SELECT = `SELECT e.id, e.provider, e.provider_event_id, e.topic, e.resource_id, ${VIEW_STATUS} AS status,
  e.attempts, e.last_error, e.tenant_id, e.received_at, e.processed_at FROM webhooks.events e`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_ERROR_LENGTH = 2000;

function toView(row: EventRow): WebhookEventView {
  return {
    id: row.id,
    provider: row.provider,
    providerEventId: row.provider_event_id,
    type: row.topic,
    status: row.status,
    attempts: row.attempts,
    lastError: row.last_error,
    receivedAt: row.received_at.toISOString(),
    processedAt: row.processed_at ? row.processed_at.toISOString() : null,
  };
}

/** Stored provider webhooks: the gateway writes them, the worker records how processing went. */
@Injectable()
export class WebhookEventStore {
  private readonly logger = new Logger('webhook-events');
  private readonly pool: Pool;
  private readonly pending: PendingStore[] = [];
  private inFlight = 0;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly outbox: OutboxService,
    private readonly routing: WhatsAppRoutingService,
  ) {
    if (!(dataSource.driver instanceof PostgresDriver)) throw new Error('WebhookEventStore needs PostgreSQL');
    // The hot path talks to node-pg directly: a named (prepared) statement is planned once per
    // connection, and TypeORM's query wrapper adds nothing this single statement needs.
    this.pool = dataSource.driver.master as Pool;
  }

  /**
   * Stores a verified webhook and, unless parked, its outbox row; committed before this resolves.
   *
   * Concurrent calls are grouped: while `MAX_IN_FLIGHT` writes are running, new webhooks queue and
   * the next write takes all of them in one statement (one round trip, one commit, one fsync for
   * the group). Nothing waits for a group to fill: under light load every webhook is written at
   * once, alone; under a burst the groups grow by themselves. Each caller still gets its answer
   * only after its own row committed.
   */
  store(incoming: IncomingWebhook): Promise<StoreOutcome> {
    const row = this.prepare(incoming);
    return new Promise<StoreOutcome>((resolve, reject) => {
      this.pending.push({ row, resolve, reject });
      this.drain();
    });
  }

  private drain(): void {
    while (this.inFlight < MAX_IN_FLIGHT && this.pending.length > 0) {
      const group = this.pending.splice(0, MAX_GROUP);
      this.inFlight++;
      void this.write(group).finally(() => {
        this.inFlight--;
        this.drain();
      });
    }
  }

  private async write(group: PendingStore[]): Promise<void> {
    try {
      const stored = await this.insert(group.map((pending) => pending.row));
      let published = false;
      for (const { row, resolve } of group) {
        const isStored = stored.has(row.id);
        published ||= isStored && row.publish;
        resolve({ stored: isStored, published: isStored && row.publish, webhookEventId: row.id });
      }
      if (published) this.outbox.committed();
    } catch (error) {
      if (group.length === 1) {
        group[0].reject(error);
        return;
      }
      // One bad row must not fail the others: each is written alone, and only its own error counts.
      this.logger.warn(
        { err: error, size: group.length },
        'grouped webhook write failed; writing one by one',
      );
      await Promise.all(group.map((pending) => this.write([pending])));
    }
  }

  private prepare(incoming: IncomingWebhook): PreparedRow {
    const now = Date.now();
    const definition = webhookEventDefinition(incoming.provider);
    const parked = incoming.parkedReason !== null;
    const { bodyText: body, payloadText } = incoming;
    return {
      id: uuidV7(now),
      provider: incoming.provider,
      providerEventId: incoming.providerEventId,
      topic: incoming.topic,
      resourceId: incoming.resourceId,
      status: parked ? 'dead' : 'received',
      lastError: incoming.parkedReason,
      body,
      payloadText: payloadText === body ? null : payloadText,
      headers: JSON.stringify(incoming.headers),
      tenantId: incoming.tenantId,
      // Time-ordered like the event's: message ids that sort by arrival in logs and the history.
      outboxId: uuidV7(now),
      type: definition.type,
      version: definition.version,
      occurredAt: new Date(now).toISOString(),
      correlationId: currentCorrelationId() ?? randomUUID(),
      publish: !parked,
    };
  }

  /** Ids of the rows that were new (a provider retry of a stored event inserts nothing). */
  private async insert(rows: PreparedRow[]): Promise<Set<string>> {
    const column = <K extends keyof PreparedRow>(key: K): Array<PreparedRow[K]> =>
      rows.map((row) => row[key]);
    const result = await this.pool.query<{ id: string }>({
      name: 'webhooks_store_events',
      text: STORE_SQL,
      values: [
        column('id'),
        column('provider'),
        column('providerEventId'),
        column('topic'),
        column('resourceId'),
        column('status'),
        column('lastError'),
        column('body'),
        column('headers'),
        column('tenantId'),
        column('outboxId'),
        column('type'),
        column('version'),
        column('occurredAt'),
        column('correlationId'),
        column('publish'),
        column('payloadText'),
      ],
    });
    return new Set(result.rows.map((row) => row.id));
  }

  async list(filter: WebhookEventFilter): Promise<Page<WebhookEventView>> {
    const position = decodeCursor(filter.cursor);
    const rows = (await this.dataSource.query(
      `WITH ${QUEUED_CTE}, v AS (${VIEW_SELECT})
       SELECT *, ${cursorAtSql('received_at')} AS cursor_at FROM v
       WHERE ($1::text IS NULL OR status = $1)
         AND ($2::text IS NULL OR provider = $2)
         AND ($3::timestamptz IS NULL OR (received_at, id) < ($3::timestamptz, $4::uuid))
       ORDER BY received_at DESC, id DESC
       LIMIT $5`,
      [
        filter.status ?? null,
        filter.provider ?? null,
        position?.at ?? null,
        position?.id ?? null,
        filter.limit + 1,
      ],
    )) as Array<EventRow & { cursor_at: string }>;
    return toPage(rows, filter.limit, (r) => ({ at: r.cursor_at, id: r.id }), toView);
  }

  async get(id: string): Promise<WebhookEventView> {
    const row = await this.viewRow(this.dataSource.manager, id);
    if (!row) throw new AppError('not_found', 404, 'No such webhook event.');
    return toView(row);
  }

  /**
   * Publishes a stored event again (SPEC §7, §13: always 202). Consumers are idempotent, so a
   * replay of an event that was applied is harmless; a parked Meta message is routed again, in
   * case its number has been mapped since.
   */
  async replay(id: string): Promise<WebhookEventView> {
    return this.dataSource.transaction(async (tx) => {
      const row = await this.findRow(tx, id, true);
      if (!row) throw new AppError('not_found', 404, 'No such webhook event.');
      await this.republish(tx, row);
      const updated = await this.viewRow(tx, id);
      return toView(updated ?? row);
    });
  }

  /**
   * The worker handled the event: final, unless replayed. `note` says why nothing changed when that
   * is worth knowing (no top-up matched, a topic nobody handles); it replaces the last error.
   */
  async markProcessed(
    tx: EntityManager,
    id: string,
    tenantId: string | null = null,
    note: string | null = null,
  ): Promise<void> {
    await this.markProcessedMany(tx, [{ id, tenantId, note }]);
  }

  /** `markProcessed` for the events of a batch applied in one transaction, in one statement. */
  async markProcessedMany(
    tx: EntityManager,
    events: ReadonlyArray<{ id: string; tenantId: string | null; note: string | null }>,
  ): Promise<void> {
    if (events.length === 0) return;
    await tx.query(
      `UPDATE webhooks.events e
       SET status = 'processed', attempts = e.attempts + 1, processed_at = now(), updated_at = now(),
           tenant_id = COALESCE(e.tenant_id, v.tenant_id), last_error = COALESCE(v.note, e.last_error)
       FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS v(id, tenant_id, note)
       WHERE e.id = v.id`,
      [
        events.map((e) => e.id),
        events.map((e) => e.tenantId),
        events.map((e) => (e.note === null ? null : e.note.slice(0, MAX_ERROR_LENGTH))),
      ],
    );
  }

  /** One processing attempt failed; the message is retried by the broker (or dead-lettered). */
  async markFailed(id: string, error: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE webhooks.events
       SET status = CASE WHEN status IN ('processed', 'dead') THEN status ELSE 'failed' END,
           attempts = attempts + 1, last_error = $2, updated_at = now()
       WHERE id = $1`,
      [id, error.slice(0, MAX_ERROR_LENGTH)],
    );
  }

  /** Its message was dead-lettered: nothing more happens until ops replays it. */
  async markDead(id: string, reason: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE webhooks.events
       SET status = CASE WHEN status = 'processed' THEN status ELSE 'dead' END,
           last_error = $2, updated_at = now()
       WHERE id = $1`,
      [id, reason.slice(0, MAX_ERROR_LENGTH)],
    );
  }

  /**
   * Events that should have been processed long ago and have no unpublished outbox row left
   * (their message was lost, or a worker died before recording the outcome) are published again.
   * Runs on worker start (SPEC §8, MVP_RUNNING_STALE_SECONDS); returns how many it re-published.
   * Only events received in the last `lookbackDays` are looked at: the sweep reads along the
   * received_at index (status has none, so that the worker's updates stay cheap), and an event
   * stuck for longer is ops' to replay.
   */
  async republishStale(staleSeconds: number, batch = 200, lookbackDays = 7): Promise<number> {
    let total = 0;
    for (;;) {
      const count = await this.dataSource.transaction(async (tx) => {
        const rows = (await tx.query(
          `SELECT ${VIEW_COLUMNS} FROM webhooks.events e
           WHERE e.received_at > now() - make_interval(days => $3)
             AND e.status IN ('received', 'published', 'failed')
             AND e.updated_at < now() - make_interval(secs => $1)
             AND NOT EXISTS (
               SELECT 1 FROM messaging.outbox o
               WHERE o.envelope -> 'data' ->> 'webhookEventId' = e.id::text)
           ORDER BY e.received_at
           LIMIT $2
           FOR UPDATE SKIP LOCKED`,
          [staleSeconds, batch, lookbackDays],
        )) as EventRow[];
        for (const row of rows) await this.republish(tx, row);
        return rows.length;
      });
      total += count;
      if (count < batch) break;
    }
    if (total > 0)
      this.logger.warn({ republished: total, staleSeconds }, 'stale webhook events published again');
    return total;
  }

  private async republish(tx: EntityManager, row: EventRow): Promise<void> {
    const [{ raw }] = (await tx.query(
      `SELECT convert_from(raw_body, 'UTF8') AS raw FROM webhooks.events WHERE id = $1`,
      [row.id],
    )) as Array<{ raw: string }>;
    const payload = JSON.parse(storableJsonText(raw)) as Record<string, unknown>;
    let tenantId = row.tenant_id;
    let lastError = row.last_error;
    if (
      row.provider === 'meta' &&
      tenantId === null &&
      row.last_error === TENANT_NOT_MAPPED &&
      row.resource_id
    ) {
      tenantId = await this.routing.tenantFor(row.resource_id, tx);
      if (tenantId !== null) lastError = null;
    }
    const data: WebhookReceivedData = {
      webhookEventId: row.id,
      provider: row.provider,
      providerEventId: row.provider_event_id,
      topic: row.topic,
      payload,
    };
    if (row.resource_id !== null) data.resourceId = row.resource_id;
    await this.outbox.enqueue(tx, webhookEventDefinition(row.provider), {
      tenantId,
      causationId: null,
      data,
    });
    await tx.query(
      `UPDATE webhooks.events SET status = 'received', tenant_id = $2, last_error = $3, updated_at = now() WHERE id = $1`,
      [row.id, tenantId, lastError],
    );
  }

  /** The event as ops sees it (VIEW_STATUS). */
  private async viewRow(manager: EntityManager, id: string): Promise<EventRow | null> {
    if (!UUID.test(id)) return null;
    const rows = (await manager.query(`WITH ${QUEUED_CTE} ${VIEW_SELECT} WHERE e.id = $1`, [id])) as EventRow[];
    return rows[0] ?? null;
  }

  private async findRow(manager: EntityManager, id: string, forUpdate: boolean): Promise<EventRow | null> {
    if (!UUID.test(id)) return null;
    const rows = (await manager.query(
      `SELECT ${VIEW_COLUMNS} FROM webhooks.events WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
      [id],
    )) as EventRow[];
    return rows[0] ?? null;
  }
}
