import { writeFileSync } from 'node:fs';
import { connect } from 'amqplib';
import autocannon from 'autocannon';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpus, getPriority, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { Client, Pool } from 'pg';
import { SUBSCRIPTIONS } from '@realapp/contracts';
import { destroyTopology, Topology } from '@realapp/messaging';
import { signMercadoPago } from '@realapp/payments';
import { timedAutocannon } from './app-load';
import { pacedLoad } from './paced-load';
import { freePort, Service, startService } from './processes';
import {
  creditDeadlineMs,
  creditsKeptPace,
  heldRate,
  peakRate,
  percentile,
  ratePerSecond,
  round,
  sortedCopy,
} from './stats';

/*
 * `npm run bench -- webhooks`: correctly signed Mercado Pago webhooks against the built
 * webhook-gateway, with the codex-worker crediting them as they arrive, next to a bare node:http
 * + one INSERT baseline measured in the same run on the same machine (SPEC issue 4 targets).
 * Two gateway runs with the worker: a flood (as fast as the gateway answers: its capacity) and a
 * sustained run at a fixed rate (whether credits keep pace with arrivals, and latency at that rate
 * rather than at saturation, where p99 is queueing by construction).
 */

export interface WebhookBenchOptions {
  root: string;
  adminDatabaseUrl: string;
  amqpUrl: string;
  /** Distinct pre-signed events (each with its own pending top-up) for the flood; it stops when they are spent. */
  events: number;
  /** Webhooks per second, all connections together, in the sustained run. */
  rate: number;
  /** The sustained run sends `rate × sustainedSeconds` fresh events. */
  sustainedSeconds: number;
  /** How long the baseline runs, cycling through the events (it stores bytes; a repeat costs it what a new one does). */
  durationSeconds: number;
  connections: number;
  /** Gateway's connection pool (DATABASE_POOL_SIZE); the baseline gets the same. */
  poolSize: number;
  logLevel: string;
  /** Measure the gateway alone too (worker stopped), to separate intake from crediting. */
  intakeOnly: boolean;
  /** Write V8 CPU profiles of the gateway and the worker to tmp/bench/profiles. */
  cpuProfiles: boolean;
  /**
   * Write every paced request's scheduled time and latency to tmp/bench/timeline-<run>.tsv: where a
   * p99 comes from (a slow tail, or the whole gateway stopping at once; docs/performance.md).
   */
  timelines?: boolean;
}

export interface LoadFigures {
  label: string;
  /** 1-minute load average when the run started: other work on the machine skews every figure. */
  loadAverage: number;
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  /** First request sent → last response received, measured by the bench (not autocannon's whole-second duration). */
  seconds: number;
  /** 2xx responses per measured second. */
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
}

export interface CreditFigures {
  sent: number;
  credited: number;
  creditedWhenLoadEnded: number;
  /** Webhook sent → its top-up's approved_at, ms. */
  p50: number;
  p99: number;
  max: number;
  /** Credits per second, first webhook sent → last credit. */
  perSecond: number;
  /** Last webhook sent → last credit, ms; NaN when not every webhook was credited. */
  drainLagMs: number;
  /** See creditsKeptPace. */
  keptPace: boolean;
  ledgerTopups: number;
  storedEvents: number;
  exactlyOnce: boolean;
}

export interface SustainedFigures {
  /** Webhooks per second asked of the paced sender. */
  askedRate: number;
  load: LoadFigures;
  /** Most webhooks sent in any 100 ms, per second: shows the sending was even (close to the asked rate). */
  peakSendRate: number;
  /** accepted/s reached HELD_RATE_SHARE of the asked rate. */
  heldRate: boolean;
  credits: CreditFigures;
}

export interface WebhookBenchResult {
  options: WebhookBenchOptions;
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    node: string;
    postgres: string;
    loadGeneratorNice: number;
  };
  baseline: LoadFigures;
  /** tools/bench/src/floor-server.ts: the least work issue 4's contract asks for, written as bare as the baseline. */
  floor: LoadFigures;
  intakeOnly: LoadFigures | null;
  /** The gateway alone at the sustained rate: its latency when it does not share the cores with crediting. */
  intakePaced: LoadFigures | null;
  /** Gateway with the worker crediting, as fast as the gateway answers. */
  flood: LoadFigures;
  floodCredits: CreditFigures;
  sustained: SustainedFigures;
  /** The flood's accepted/s over the baseline's. */
  ratio: number;
  /** The intake-only run's accepted/s over the baseline's, when measured. */
  intakeRatio: number | null;
  /** The floor's accepted/s over the baseline's: the most any gateway keeping the contract could reach here. */
  floorRatio: number;
}

interface PreparedEvent {
  topupId: string;
  paymentId: string;
  requestId: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

const BENCH_DB = 'realapp_bench';
const AMQP_PREFIX = 'bench.';
const MP_SECRET = 'dev-mercadopago-webhook-secret';
const TENANTS = 1000;
/**
 * A credit wait also ends when nothing was credited for this long, so a dead worker does not hold
 * the bench for the whole deadline. Six times the longest retry delay a credit can sit in (5 s
 * before the third and last attempt, at the default MESSAGE_RETRY_BASE_DELAY_MS and attempts).
 */
const CREDIT_STALL_MS = 30_000;

function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function inParallel<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

function log(message: string): void {
  process.stdout.write(`[bench] ${message}\n`);
}

/** A fresh, migrated bench database with the baseline's table beside the platform's. */
async function prepareDatabase(options: WebhookBenchOptions): Promise<string> {
  await withClient(options.adminDatabaseUrl, async (admin) => {
    await admin.query(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${BENCH_DB}`);
  });
  const url = databaseUrl(options.adminDatabaseUrl, BENCH_DB);
  // The migration runner as deploys run it (tools are not imported across projects).
  const migrated = spawnSync(process.execPath, [join(options.root, 'dist/tools/migrations/src/run.js')], {
    cwd: options.root,
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: url },
    encoding: 'utf8',
  });
  if (migrated.status !== 0) throw new Error(`migrations failed: ${migrated.stderr || migrated.stdout}`);
  await withClient(url, async (client) => {
    await client.query(`CREATE SCHEMA bench`);
    // As close to webhooks.events as a single-table insert gets: a key, the bytes, a timestamp.
    await client.query(
      `CREATE TABLE bench.baseline_webhooks (id bigserial PRIMARY KEY, body bytea NOT NULL, received_at timestamptz NOT NULL DEFAULT now())`,
    );
    // The floor's event and outbox row: the baseline's table, and the least an outbox row can be.
    await client.query(
      `CREATE TABLE bench.floor_events (id bigserial PRIMARY KEY, provider_event_id text NOT NULL UNIQUE, body bytea NOT NULL, received_at timestamptz NOT NULL DEFAULT now())`,
    );
    await client.query(
      `CREATE TABLE bench.floor_outbox (seq bigserial PRIMARY KEY, event_id bigint NOT NULL, envelope jsonb NOT NULL)`,
    );
  });
  return url;
}

/** Pending PIX top-ups whose payments the sandbox already reports approved, and their signed notifications. */
async function prepareEvents(
  count: number,
  dbUrl: string,
  sandboxUrl: string,
  gatewayUrl: string,
): Promise<PreparedEvent[]> {
  const tenants = Array.from({ length: TENANTS }, () => randomUUID());
  const rows: Array<{
    topupId: string;
    tenantId: string;
    paymentId: string;
    amountCents: number;
    pix: { copyPasteCode: string; qrCodeBase64: string; expiresAt: string };
    providerStatus: string;
    providerStatusDetail: string;
    expiresAt: string;
  }> = [];
  const indexes = Array.from({ length: count }, (_, i) => i);
  let made = 0;
  await inParallel(indexes, 24, async (i) => {
    const topupId = randomUUID();
    const amountCents = 3000 + (i % 100);
    const created = await fetch(`${sandboxUrl}/v1/payments`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer TEST-bench',
        'content-type': 'application/json',
        'x-idempotency-key': `bench-${topupId}`,
      },
      body: JSON.stringify({
        transaction_amount: amountCents / 100,
        payment_method_id: 'pix',
        payer: { email: 'bench@example.com' },
        description: 'bench',
        external_reference: topupId,
        notification_url: `${gatewayUrl}/v1/webhooks/mercadopago`,
      }),
    });
    const payment = (await created.json()) as {
      id: number;
      status: string;
      status_detail: string;
      date_of_expiration: string;
      point_of_interaction: { transaction_data: { qr_code: string; qr_code_base64: string } };
    };
    const approved = await fetch(`${sandboxUrl}/_sandbox/mercadopago/payments/${payment.id}/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'approved' }),
    });
    if (!approved.ok) throw new Error(`sandbox refused to approve ${payment.id}: ${approved.status}`);
    const { qr_code, qr_code_base64 } = payment.point_of_interaction.transaction_data;
    rows.push({
      topupId,
      tenantId: tenants[i % TENANTS],
      paymentId: String(payment.id),
      amountCents,
      // As TopupService.createPix leaves the row: the PIX code and the provider's words kept.
      pix: { copyPasteCode: qr_code, qrCodeBase64: qr_code_base64, expiresAt: payment.date_of_expiration },
      providerStatus: payment.status,
      providerStatusDetail: payment.status_detail,
      expiresAt: payment.date_of_expiration,
    });
    if (++made % 5000 === 0) log(`  ${made}/${count} payments approved at the sandbox`);
  });
  await withClient(dbUrl, (client) =>
    client.query(
      `INSERT INTO billing.topups (id, tenant_id, provider, status, amount_cents, provider_payment_id, pix,
                                   provider_status, provider_status_detail, expires_at)
       SELECT id, tenant, 'mercadopago', 'pending', amount, payment, pix, status, detail, expires
       FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::text[], $5::jsonb[], $6::text[], $7::text[],
                   $8::timestamptz[]) AS t(id, tenant, amount, payment, pix, status, detail, expires)`,
      [
        rows.map((r) => r.topupId),
        rows.map((r) => r.tenantId),
        rows.map((r) => r.amountCents),
        rows.map((r) => r.paymentId),
        rows.map((r) => JSON.stringify(r.pix)),
        rows.map((r) => r.providerStatus),
        rows.map((r) => r.providerStatusDetail),
        rows.map((r) => r.expiresAt),
      ],
    ),
  );
  let notificationId = 90_000_000_000 + Math.floor(Math.random() * 1_000_000_000);
  const unsigned = rows.map((row) => {
    const requestId = randomUUID();
    const id = ++notificationId;
    return {
      topupId: row.topupId,
      paymentId: row.paymentId,
      requestId,
      path: `/v1/webhooks/mercadopago?data.id=${row.paymentId}&type=payment`,
      headers: { 'content-type': 'application/json', 'x-request-id': requestId },
      body: JSON.stringify({
        id,
        live_mode: false,
        type: 'payment',
        date_created: new Date().toISOString(),
        user_id: 1000000001,
        api_version: 'v1',
        action: 'payment.updated',
        data: { id: row.paymentId },
      }),
    };
  });
  return signedNow(unsigned);
}

/**
 * The events signed with the current time, just before their run: the gateway refuses signatures
 * older than its 300 s tolerance, and the sustained run starts only after the flood's credits,
 * which can take minutes.
 */
function signedNow(events: readonly PreparedEvent[]): PreparedEvent[] {
  const ts = Math.floor(Date.now() / 1000);
  return events.map((event) => ({
    ...event,
    headers: {
      ...event.headers,
      'x-signature': signMercadoPago({
        secret: MP_SECRET,
        dataId: event.paymentId,
        xRequestId: event.requestId,
        ts,
      }),
    },
  }));
}

function figures(
  label: string,
  result: autocannon.Result,
  seconds: number,
): Omit<LoadFigures, 'loadAverage'> {
  const ok = result['2xx'];
  return {
    label,
    requests: result.requests.total,
    ok,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    seconds: round(seconds, 2),
    perSecond: round(ratePerSecond(ok, seconds), 0),
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
  };
}

interface LoadPlan {
  /**
   * Cycle through the events for this long instead of sending each once. Only for the baseline: it
   * stores bytes, so a repeat costs it what a new event does, and it spends the events in 2-3 s,
   * too short for a steady-state rate.
   */
  cycleForSeconds?: number;
  /**
   * Webhooks per second over all connections, each sent at its own evenly spaced moment
   * (pacedLoad); unset, autocannon's connections send as fast as they are answered.
   */
  rate?: number;
  /** Learns when each event left. */
  onSent?: (event: PreparedEvent, at: number) => void;
}

/** autocannon with one pre-built request per event, each sent once unless the plan cycles them. */
async function load(
  label: string,
  url: string,
  events: readonly PreparedEvent[],
  options: WebhookBenchOptions,
  plan: LoadPlan = {},
): Promise<LoadFigures> {
  let next = 0;
  const cycling = plan.cycleForSeconds !== undefined;
  const loadAverage = round(loadavg()[0], 1);
  if (plan.rate !== undefined) {
    const timeline: string[] = [];
    const paced = await pacedLoad(
      url,
      events,
      plan.rate,
      options.connections,
      (index, at) => plan.onSent?.(events[index], at),
      options.timelines
        ? (index, scheduledAt, latencyMs) =>
            timeline.push(`${index}\t${scheduledAt.toFixed(1)}\t${latencyMs.toFixed(2)}`)
        : undefined,
    );
    if (options.timelines) {
      const file = join(
        options.root,
        'tmp/bench',
        `timeline-${label.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '')}.tsv`,
      );
      writeFileSync(file, `index\tscheduled_epoch_ms\tlatency_ms\n${timeline.join('\n')}\n`);
      console.log(`[bench]   per-request latencies: ${file}`);
    }
    const pacedFigures: LoadFigures = {
      label,
      loadAverage,
      requests: paced.sent,
      ok: paced.ok,
      non2xx: paced.non2xx,
      errors: paced.errors,
      seconds: round(paced.seconds, 2),
      perSecond: round(ratePerSecond(paced.ok, paced.seconds), 0),
      p50: paced.p50,
      p99: paced.p99,
      max: paced.max,
    };
    logFigures(pacedFigures);
    return pacedFigures;
  }
  const { result, seconds } = await timedAutocannon(
    {
      url,
      connections: options.connections,
      timeout: 10,
      ...(cycling ? { duration: plan.cycleForSeconds } : { amount: events.length }),
    },
    (request) => {
      // Past the pool (a reconnecting connection may ask once more) the last event repeats: a duplicate, still 200.
      const event = cycling ? events[next++ % events.length] : events[Math.min(next++, events.length - 1)];
      plan.onSent?.(event, Date.now());
      return { ...request, method: 'POST', path: event.path, headers: event.headers, body: event.body };
    },
  );
  const figuresOf = { ...figures(label, result, seconds), loadAverage };
  logFigures(figuresOf);
  return figuresOf;
}

function logFigures(figuresOf: LoadFigures): void {
  log(
    `  ${figuresOf.label}: ${figuresOf.perSecond}/s over ${figuresOf.seconds.toFixed(2)} s (load average before: ${figuresOf.loadAverage}), ` +
      `p50 ${figuresOf.p50} ms, p99 ${figuresOf.p99} ms, non-2xx ${figuresOf.non2xx}, errors ${figuresOf.errors}`,
  );
}

function profileArgs(options: WebhookBenchOptions, logDir: string): string[] {
  return options.cpuProfiles ? ['--cpu-prof', `--cpu-prof-dir=${join(logDir, 'profiles')}`] : [];
}

/** One connection for all the bench's own polling: PostgreSQL's connection slots are shared with the services. */
const monitors = new Map<string, Pool>();
function monitor(dbUrl: string): Pool {
  let pool = monitors.get(dbUrl);
  if (!pool) {
    pool = new Pool({ connectionString: dbUrl, max: 1 });
    monitors.set(dbUrl, pool);
  }
  return pool;
}

async function countApproved(dbUrl: string, ids: string[]): Promise<number> {
  const result = await monitor(dbUrl).query<{ n: number }>(
    `SELECT count(*)::int AS n FROM billing.topups WHERE id = ANY($1::uuid[]) AND status = 'approved'`,
    [ids],
  );
  return result.rows[0].n;
}

async function creditFigures(
  dbUrl: string,
  sentAt: Map<string, number>,
  creditedWhenLoadEnded: number,
  storedBefore: number,
): Promise<CreditFigures> {
  const ids = [...sentAt.keys()];
  const started = Date.now();
  const deadline = started + creditDeadlineMs(ids.length);
  let credited = await countApproved(dbUrl, ids);
  let progressedAt = started;
  while (credited < ids.length && Date.now() < deadline && Date.now() - progressedAt < CREDIT_STALL_MS) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = await countApproved(dbUrl, ids);
    if (now > credited) progressedAt = Date.now();
    credited = now;
  }
  if (credited < ids.length) {
    const why =
      Date.now() >= deadline ? 'the deadline passed' : `nothing credited for ${CREDIT_STALL_MS / 1000} s`;
    log(
      `  gave up waiting after ${round((Date.now() - started) / 1000)} s (${why}): ${credited}/${ids.length} credited`,
    );
  }
  return withClient(dbUrl, async (client) => {
    const rows = (
      await client.query<{ id: string; approved_at: Date }>(
        `SELECT id, approved_at FROM billing.topups WHERE id = ANY($1::uuid[]) AND status = 'approved'`,
        [ids],
      )
    ).rows;
    const latencies = sortedCopy(
      rows.map((row) => row.approved_at.getTime() - (sentAt.get(row.id) ?? row.approved_at.getTime())),
    );
    // Reduced, not spread: a spread of a few hundred thousand values (a large --events) overflows the stack.
    const sent = [...sentAt.values()];
    const firstSent = sent.reduce((a, b) => Math.min(a, b), Infinity);
    const lastSent = sent.reduce((a, b) => Math.max(a, b), -Infinity);
    const lastCredit = rows.reduce((a, row) => Math.max(a, row.approved_at.getTime()), -Infinity);
    // The credits of exactly the top-ups this run sent webhooks for (the warm-up's is not one of them).
    const ledger = (
      await client.query<{ n: number; distinct: number }>(
        `SELECT count(*)::int AS n, count(DISTINCT metadata ->> 'topupId')::int AS distinct
         FROM ledger.entries WHERE kind = 'topup' AND metadata ->> 'topupId' = ANY($1::text[])`,
        [ids],
      )
    ).rows[0];
    const stored =
      (await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM webhooks.events`)).rows[0].n -
      storedBefore;
    const p99 = percentile(latencies, 99);
    const drainLagMs = credited === ids.length && ids.length > 0 ? lastCredit - lastSent : Number.NaN;
    return {
      sent: ids.length,
      credited,
      creditedWhenLoadEnded,
      p50: percentile(latencies, 50),
      p99,
      max: latencies.length > 0 ? latencies[latencies.length - 1] : Number.NaN,
      perSecond: round(ratePerSecond(credited, (lastCredit - firstSent) / 1000), 0),
      drainLagMs,
      keptPace: creditsKeptPace({ sent: ids.length, credited, drainLagMs, p99Ms: p99 }),
      ledgerTopups: ledger.n,
      storedEvents: stored,
      exactlyOnce: ledger.n === ledger.distinct && ledger.n === credited,
    };
  });
}

/**
 * What autovacuum would have done by now. This machine's PostgreSQL runs with autovacuum off (its
 * conf.d, for the test suites), so without this every run would measure the one before it as dead
 * rows: a deleted outbox row, a superseded top-up or event version stays in the table and its
 * indexes until vacuumed, and the next run's statements wade through them, as no production
 * database with autovacuum on does.
 */
async function vacuumAsAutovacuumWould(dbUrl: string): Promise<void> {
  await withClient(dbUrl, async (client) => {
    await client.query(
      `VACUUM (ANALYZE) messaging.outbox, messaging.outbox_published, messaging.inbox, webhooks.events,
         billing.topups, ledger.wallets, ledger.entries`,
    );
  });
}

/** The bench's own queues (prefix `bench.`), emptied so no earlier run's messages leak into this one. */
async function resetBrokerTopology(amqpUrl: string): Promise<void> {
  const connection = await connect(amqpUrl);
  try {
    const channel = await connection.createChannel();
    await destroyTopology(channel, new Topology(AMQP_PREFIX, 3, 1000, SUBSCRIPTIONS));
    await channel.close();
  } finally {
    await connection.close();
  }
}

/**
 * Waits until the platform is idle again: no outbox row left to relay and nothing queued for the
 * worker. The flood's credits are followed by their own events (approval, re-evaluation); a run
 * started before they are consumed would measure them too.
 */
async function waitForQuiet(dbUrl: string, amqpUrl: string): Promise<void> {
  const topology = new Topology(AMQP_PREFIX, 3, 1000, SUBSCRIPTIONS);
  // The worker's queues: the other services are not running here, so theirs only fill up.
  const queues = (SUBSCRIPTIONS['codex-worker'] ?? []).map((type) => topology.queue('codex-worker', type));
  const connection = await connect(amqpUrl);
  try {
    const channel = await connection.createChannel();
    const deadline = Date.now() + 60_000;
    for (;;) {
      const unpublished = (
        await monitor(dbUrl).query<{ n: number }>(`SELECT count(*)::int AS n FROM messaging.outbox`)
      ).rows[0].n;
      let queued = 0;
      for (const queue of queues) queued += (await channel.checkQueue(queue)).messageCount;
      if (unpublished === 0 && queued === 0) return;
      if (Date.now() > deadline) {
        log(
          `  still busy after 60 s (${unpublished} outbox rows, ${queued} queued messages): starting anyway`,
        );
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    await connection.close();
  }
}

export async function runWebhookBench(options: WebhookBenchOptions): Promise<WebhookBenchResult> {
  const sustainedCount = options.rate * options.sustainedSeconds;
  // Fewer requests than connections would leave connections idle and the figures about something else.
  if (sustainedCount < options.connections || options.rate < options.connections) {
    throw new Error(
      `--rate (${options.rate}) and --rate × --sustained-seconds (${sustainedCount}) must be at least --connections (${options.connections})`,
    );
  }
  const logDir = join(options.root, 'tmp/bench');
  // Nothing to delete on a first run; a broker that is down fails the run when the services start.
  await resetBrokerTopology(options.amqpUrl).catch(() => undefined);
  log(`preparing ${BENCH_DB} (fresh, migrated)`);
  const dbUrl = await prepareDatabase(options);
  const [gatewayPort, workerPort, sandboxPort, baselinePort, floorPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const common = {
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    DATABASE_URL: dbUrl,
    AMQP_URL: options.amqpUrl,
    AMQP_PREFIX: AMQP_PREFIX,
    LOG_LEVEL: options.logLevel,
    DATABASE_POOL_SIZE: String(options.poolSize),
  };
  const services: Service[] = [];
  try {
    const sandbox = await startService({
      name: 'provider-sandbox',
      root: options.root,
      main: 'dist/tools/provider-sandbox/src/main.js',
      env: { SANDBOX_PORT: String(sandboxPort), SANDBOX_WEBHOOK_BASE_URL: `http://127.0.0.1:${gatewayPort}` },
      port: sandboxPort,
      logDir,
      readyPath: '/_sandbox/health',
    });
    services.push(sandbox);
    const gateway = await startService({
      name: 'webhook-gateway',
      root: options.root,
      main: 'dist/apps/webhook-gateway/src/main.js',
      env: common,
      port: gatewayPort,
      logDir,
      readyPath: '/health/readiness',
      nodeArgs: profileArgs(options, logDir),
    });
    services.push(gateway);
    const baseline = await startService({
      name: 'baseline',
      root: options.root,
      main: 'dist/tools/bench/src/baseline-server.js',
      env: { DATABASE_URL: dbUrl, DATABASE_POOL_SIZE: String(options.poolSize) },
      port: baselinePort,
      logDir,
      readyPath: '/health',
    });
    services.push(baseline);
    const floor = await startService({
      name: 'floor',
      root: options.root,
      main: 'dist/tools/bench/src/floor-server.js',
      env: {
        DATABASE_URL: dbUrl,
        DATABASE_POOL_SIZE: String(options.poolSize),
        AMQP_URL: options.amqpUrl,
        FLOOR_QUEUE: `${AMQP_PREFIX}.floor`,
      },
      port: floorPort,
      logDir,
      readyPath: '/health',
    });
    services.push(floor);
    const workerEnv = {
      ...common,
      MERCADO_PAGO_BASE_URL: sandbox.url,
      STRIPE_API_BASE_URL: sandbox.url,
      META_GRAPH_BASE_URL: sandbox.url,
      PUBLIC_WEBHOOK_BASE_URL: gateway.url,
      WORKER_ID: 'bench-worker',
      DATABASE_POOL_SIZE: '10',
    };

    const intakeEvents = options.intakeOnly ? Math.floor(options.events / 3) : 0;
    const intakePacedCount = options.intakeOnly ? sustainedCount : 0;
    const total = options.events + intakeEvents + intakePacedCount + sustainedCount;
    log(`creating ${total} pending top-ups with approved PIX payments at the sandbox`);
    const all = await prepareEvents(total + 1, dbUrl, sandbox.url, gateway.url);
    const events = all.slice(0, options.events);
    const intake = all.slice(options.events, options.events + intakeEvents);
    const intakePaced = all.slice(
      options.events + intakeEvents,
      options.events + intakeEvents + intakePacedCount,
    );
    const sustainedEvents = all.slice(options.events + intakeEvents + intakePacedCount, total);
    const warmUp = all[total];

    log('warming up (500 deliveries of one event to each server: JIT, pools, prepared statements)');
    await load('warm-up gateway', gateway.url, Array<PreparedEvent>(500).fill(warmUp), options);
    await load('warm-up baseline', baseline.url, Array<PreparedEvent>(500).fill(warmUp), options);
    await load('warm-up floor', floor.url, Array<PreparedEvent>(500).fill(warmUp), options);

    log(
      `baseline: node:http + one INSERT, ${options.connections} connections, the events in turn for ${options.durationSeconds} s`,
    );
    const baselineFigures = await load('baseline', baseline.url, events, options, {
      cycleForSeconds: options.durationSeconds,
    });
    // Its connections go back to PostgreSQL before the gateway's run.
    await baseline.stop();
    log(
      `floor: node:http + what the contract asks (HMAC, parse, event + outbox row committed, published with confirms), the events in turn for ${options.durationSeconds} s`,
    );
    const floorFigures = await load('floor', floor.url, events, options, {
      cycleForSeconds: options.durationSeconds,
    });
    await floor.stop();

    let intakeFigures: LoadFigures | null = null;
    let intakePacedFigures: LoadFigures | null = null;
    await vacuumAsAutovacuumWould(dbUrl);
    if (options.intakeOnly) {
      log('gateway alone (no worker running): intake capacity');
      intakeFigures = await load('gateway (intake only)', gateway.url, intake, options);
      log(`gateway alone at ${options.rate}/s: intake latency without the worker sharing the cores`);
      intakePacedFigures = await load(
        `gateway (intake only, ${options.rate}/s asked)`,
        gateway.url,
        signedNow(intakePaced),
        options,
        { rate: options.rate },
      );
    }

    const worker = await startService({
      name: 'codex-worker',
      root: options.root,
      main: 'dist/apps/codex-worker/src/main.js',
      env: workerEnv,
      port: workerPort,
      logDir,
      readyPath: '/health/readiness',
      nodeArgs: profileArgs(options, logDir),
    });
    services.push(worker);
    if (intakeFigures) {
      const started = Date.now();
      const drained = await creditFigures(
        dbUrl,
        new Map([...intake, ...intakePaced].map((e) => [e.topupId, started])),
        0,
        0,
      );
      const seconds = (Date.now() - started) / 1000;
      log(
        `  the worker drained the intake-only backlog (${drained.credited} credits) at ${round(ratePerSecond(drained.credited, seconds), 0)}/s`,
      );
    }

    const storedEvents = async (): Promise<number> =>
      withClient(
        dbUrl,
        async (c) =>
          (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM webhooks.events`)).rows[0].n,
      );
    /** One gateway run with the worker crediting, then its credits waited for and measured. */
    const creditedRun = async (
      label: string,
      runEvents: readonly PreparedEvent[],
      rate?: number,
    ): Promise<{ figures: LoadFigures; sentAt: Map<string, number>; credits: CreditFigures }> => {
      await vacuumAsAutovacuumWould(dbUrl);
      const storedBefore = await storedEvents();
      const sentAt = new Map<string, number>();
      const figures = await load(label, gateway.url, signedNow(runEvents), options, {
        rate,
        onSent: (event, at) => {
          if (!sentAt.has(event.topupId)) sentAt.set(event.topupId, at);
        },
      });
      const creditedWhenLoadEnded = await countApproved(dbUrl, [...sentAt.keys()]);
      log(`waiting for the credits (${creditedWhenLoadEnded}/${sentAt.size} done when the load ended)`);
      const credits = await creditFigures(dbUrl, sentAt, creditedWhenLoadEnded, storedBefore);
      log(
        `  ${credits.credited}/${credits.sent} credited, ${credits.perSecond}/s, end-to-end p99 ${credits.p99} ms, ` +
          (Number.isNaN(credits.drainLagMs)
            ? 'not every webhook credited'
            : `last credit ${credits.drainLagMs} ms after the last webhook`),
      );
      return { figures, sentAt, credits };
    };

    log(
      `flood, the worker crediting: ${events.length} distinct signed webhooks, ${options.connections} connections, as fast as answered`,
    );
    const flood = await creditedRun('gateway + worker (flood)', events);
    await waitForQuiet(dbUrl, options.amqpUrl);

    log(
      `sustained, the worker crediting: ${sustainedEvents.length} distinct signed webhooks at ${options.rate}/s, ${options.connections} connections`,
    );
    const sustained = await creditedRun(
      `gateway + worker (sustained, ${options.rate}/s asked)`,
      sustainedEvents,
      options.rate,
    );

    return {
      options,
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? 'unknown',
        memoryGiB: round(totalmem() / 1024 ** 3, 1),
        node: process.version,
        postgres: await withClient(
          dbUrl,
          async (c) =>
            (await c.query<{ server_version: string }>(`SHOW server_version`)).rows[0].server_version,
        ),
        loadGeneratorNice: getPriority(),
      },
      baseline: baselineFigures,
      floor: floorFigures,
      intakeOnly: intakeFigures,
      intakePaced: intakePacedFigures,
      flood: flood.figures,
      floodCredits: flood.credits,
      sustained: {
        askedRate: options.rate,
        load: sustained.figures,
        peakSendRate: round(peakRate(sortedCopy(sustained.sentAt.values()), 100), 0),
        heldRate: heldRate(sustained.figures.perSecond, options.rate),
        credits: sustained.credits,
      },
      ratio: round(flood.figures.perSecond / baselineFigures.perSecond, 2),
      intakeRatio: intakeFigures ? round(intakeFigures.perSecond / baselineFigures.perSecond, 2) : null,
      floorRatio: round(floorFigures.perSecond / baselineFigures.perSecond, 2),
    };
  } finally {
    for (const pool of monitors.values()) await pool.end().catch(() => undefined);
    monitors.clear();
    for (const service of services.reverse()) await service.stop();
    await resetBrokerTopology(options.amqpUrl).catch(() => undefined);
  }
}
