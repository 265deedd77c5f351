import { connect } from 'amqplib';
import { SUBSCRIPTIONS } from '@realapp/contracts';
import { Topology } from '@realapp/messaging';
import { call } from '../stack/http';
import { PlatformStack } from '../stack/platform-stack';
import { TrackedOrder, TrackedTopup } from './load';

export interface InvariantResult {
  invariant: string;
  ok: boolean;
  detail: string;
}

const OPS_KEY = 'dev-ops-api-key';

/** Work that must be finished once the platform has settled; polled until it is, then checked. */
export async function pendingWork(stack: PlatformStack): Promise<{
  outbox: number;
  webhooks: number;
  orders: number;
  queued: number;
  queues: Record<string, number>;
  orphaned: Record<string, number>;
}> {
  const [outbox] = await stack.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM messaging.outbox`,
  );
  const [webhooks] = await stack.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM webhooks.events WHERE status IN ('received', 'published')`,
  );
  const [orders] = await stack.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ads.orders WHERE status IN ('queued', 'launching')`,
  );
  const { queues, orphaned } = await brokerBacklog(stack);
  const queued = Object.values(queues).reduce((sum, n) => sum + n, 0);
  return { outbox: outbox.n, webhooks: webhooks.n, orders: orders.n, queued, queues, orphaned };
}

/**
 * Messages waiting in the run's work queues (ready, not yet delivered), by queue; `orphaned` are
 * queues that hold messages and have no consumer at all (nothing will ever take them).
 */
async function brokerBacklog(
  stack: PlatformStack,
): Promise<{ queues: Record<string, number>; orphaned: Record<string, number> }> {
  const topology = new Topology(stack.prefix, 3, 1000, SUBSCRIPTIONS);
  const connection = await connect(stack.amqpUrl);
  try {
    const queues: Record<string, number> = {};
    const orphaned: Record<string, number> = {};
    for (const [service, types] of Object.entries(SUBSCRIPTIONS)) {
      for (const type of types) {
        const channel = await connection.createChannel();
        channel.on('error', () => undefined);
        try {
          const queue = topology.queue(service, type);
          const { messageCount, consumerCount } = await channel.checkQueue(queue);
          if (messageCount > 0) (consumerCount === 0 ? orphaned : queues)[queue] = messageCount;
        } catch {
          // A queue nobody declared yet holds nothing.
        } finally {
          await channel.close().catch(() => undefined);
        }
      }
    }
    return { queues, orphaned };
  } finally {
    await connection.close().catch(() => undefined);
  }
}

export async function checkInvariants(
  stack: PlatformStack,
  topups: TrackedTopup[],
  orders: TrackedOrder[],
): Promise<InvariantResult[]> {
  const results: InvariantResult[] = [];
  const add = (invariant: string, ok: boolean, detail: string): void => {
    results.push({ invariant, ok, detail });
  };

  // Every webhook the gateway accepted was applied, once: the top-up approved, one credit entry.
  const accepted = topups.filter((topup) => topup.accepted);
  const credits = await stack.query<{ payment_id: string; n: number; status: string }>(
    `SELECT t.provider_payment_id AS payment_id, t.status,
            (SELECT count(*)::int FROM ledger.entries e WHERE e.reference = 'mercadopago:' || t.provider_payment_id || ':topup') AS n
       FROM billing.topups t WHERE t.provider_payment_id = ANY($1::text[])`,
    [topups.map((topup) => topup.paymentId)],
  );
  const byPayment = new Map(credits.map((row) => [row.payment_id, row]));
  const notOnce = accepted.filter(
    (topup) =>
      byPayment.get(topup.paymentId)?.n !== 1 || byPayment.get(topup.paymentId)?.status !== 'approved',
  );
  add(
    'every accepted webhook applied exactly once',
    notOnce.length === 0 && accepted.length > 0,
    `${accepted.length - notOnce.length}/${accepted.length} top-ups approved with one credit` +
      (notOnce.length
        ? `; wrong: ${notOnce
            .slice(0, 3)
            .map((t) => `${t.paymentId}=${byPayment.get(t.paymentId)?.n ?? 'missing'}`)
            .join(', ')}`
        : ''),
  );
  const unaccepted = topups.length - accepted.length;
  add(
    'every approval eventually accepted by the gateway',
    unaccepted === 0,
    `${accepted.length}/${topups.length} (deliveries retried as Mercado Pago does)`,
  );
  const doubled = credits.filter((row) => row.n > 1);
  add(
    'no payment credited twice',
    doubled.length === 0,
    `${credits.length} top-ups checked, ${doubled.length} with more than one credit`,
  );

  // The ledger recomputed from its entries matches every wallet.
  const verify = await call<{ ok: boolean; wallets: number; mismatches: unknown[] }>(
    stack.url('queue-api'),
    'GET',
    '/v1/ops/ledger/verify',
    {
      headers: { 'x-ops-key': OPS_KEY },
    },
  );
  add(
    'ledger verify ok',
    verify.status === 200 && verify.body?.ok === true,
    verify.status === 200
      ? `${verify.body.wallets} wallets, ${verify.body.mismatches.length} mismatches`
      : `answered ${verify.status}`,
  );

  const work = await pendingWork(stack);
  add('outbox drained', work.outbox === 0, `${work.outbox} unpublished rows`);
  add('every stored webhook processed', work.webhooks === 0, `${work.webhooks} still received/published`);
  add(
    'broker queues drained',
    work.queued === 0,
    `${work.queued} messages waiting` +
      (work.queued
        ? `: ${Object.entries(work.queues)
            .map(([queue, n]) => `${queue}=${n}`)
            .join(', ')}`
        : ''),
  );
  const orphaned = Object.entries(work.orphaned);
  add(
    'every subscribed event type has a consumer',
    orphaned.length === 0,
    orphaned.length
      ? `messages nobody consumes: ${orphaned.map(([queue, n]) => `${queue}=${n}`).join(', ')}`
      : 'none left unconsumed',
  );
  const [dead] = await stack.query<{ n: number }>(`SELECT count(*)::int AS n FROM messaging.dead_letters`);
  const [deadWebhooks] = await stack.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM webhooks.events WHERE status IN ('failed', 'dead')`,
  );
  add(
    'no message lost or dead-lettered',
    dead.n === 0 && deadWebhooks.n === 0,
    `${dead.n} dead letters, ${deadWebhooks.n} failed/dead webhook events`,
  );

  // Orders: every accepted order exists, none is stuck, and its hold matches its ledger postings.
  const found = await stack.query<{ id: string; status: string }>(
    `SELECT id, status FROM ads.orders WHERE id = ANY($1::uuid[])`,
    [orders.map((order) => order.orderId)],
  );
  add('every accepted order stored', found.length === orders.length, `${found.length}/${orders.length}`);
  const stuck = await stack.query<{ status: string; leased: boolean; attempts: number; n: number }>(
    `SELECT status, lease_until IS NOT NULL AS leased, launch_attempts AS attempts, count(*)::int AS n
       FROM ads.orders WHERE status IN ('queued', 'launching') GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
  );
  add(
    'no order stuck in queued/launching',
    work.orders === 0,
    `${work.orders} stuck` +
      (stuck.length
        ? `: ${stuck.map((r) => `${r.status}${r.leased ? ' leased' : ''} attempts=${r.attempts}: ${r.n}`).join(', ')}`
        : ''),
  );
  const mismatched = await stack.query<{ id: string }>(
    `SELECT o.id FROM ads.orders o
       LEFT JOIN ledger.entries e ON e.reference LIKE 'order:' || o.id::text || ':%'
      GROUP BY o.id, o.held_cents, o.spent_cents
     HAVING o.held_cents <> COALESCE(sum(e.held_delta_cents), 0)
         OR o.spent_cents <> -COALESCE(sum(e.amount_cents), 0)`,
  );
  const [holds] = await stack.query<{ orders: number; holds: number }>(
    `SELECT count(DISTINCT o.id)::int AS orders, count(e.id)::int AS holds
       FROM ads.orders o JOIN ledger.entries e ON e.reference = 'order:' || o.id::text || ':hold'`,
  );
  add(
    'no double hold; order money = its ledger postings',
    mismatched.length === 0 && holds.orders === holds.holds,
    `${holds.holds} holds for ${holds.orders} orders, ${mismatched.length} orders off their postings`,
  );
  const stoppedNotStopped = orders.filter(
    (order) => order.stopRequested && found.find((row) => row.id === order.orderId)?.status !== 'stopped',
  );
  add(
    'every accepted stop applied',
    stoppedNotStopped.length === 0,
    `${orders.filter((o) => o.stopRequested).length - stoppedNotStopped.length}/${orders.filter((o) => o.stopRequested).length}`,
  );
  return results;
}
