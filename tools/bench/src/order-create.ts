import { randomUUID } from 'node:crypto';
import { AppBenchContext } from './app.bench';
import { AppLoadFigures, runLoad } from './app-load';
import { RssFigures, RssSampler } from './memory';

export interface OrderCreateResult {
  baseline: AppLoadFigures;
  app: AppLoadFigures;
  rss: RssFigures[];
  /** Orders stored by the measured run; funded orders and hold entries overall (one each); ledger verify. */
  stored: number;
  funded: number;
  holds: number;
  ledgerOk: boolean;
}

const ORDER = {
  objective: 'traffic',
  budgetCents: 1000,
  targeting: { countries: ['BR'], ageMin: 18, ageMax: 45 },
  creative: {
    headline: 'Apartamentos no centro',
    body: 'Agende uma visita hoje mesmo.',
    imageUrl: 'https://example.com/ad.png',
    linkUrl: 'https://example.com/imoveis',
  },
};

/**
 * `POST /v1/ads/orders` [idem] for funded tenants with an active plan: token check, tenant limits,
 * idempotency key claim, validation, and one transaction that locks the wallet, posts the hold,
 * stores the order and its outbox row; the worker launches the campaigns meanwhile, as it would.
 * Beside a bare node:http committing one INSERT of the body.
 */
export async function benchOrderCreate(context: AppBenchContext): Promise<OrderCreateResult> {
  const { tenants, options } = context;
  let turn = 0;
  const appRequest = () => {
    const tenant = tenants[turn++ % tenants.length];
    return {
      method: 'POST' as const,
      path: '/v1/ads/orders',
      headers: {
        authorization: `Bearer ${tenant.token}`,
        'x-forwarded-for': tenant.ip,
        'idempotency-key': randomUUID(),
        'content-type': 'application/json',
      },
      body: JSON.stringify({ ...ORDER, name: `bench ${turn}` }),
    };
  };
  const baselineRequest = () => ({
    method: 'POST' as const,
    path: '/orders',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...ORDER, name: `bench ${turn++}` }),
  });
  const warm = { connections: options.connections, durationSeconds: 3 };
  await runLoad('warm-up baseline', context.baseline.url, warm, baselineRequest);
  await runLoad('warm-up queue-api', context.queueApi.url, warm, appRequest);

  const baseline = await runLoad(
    'order create: baseline (node:http + one INSERT)',
    context.baseline.url,
    options,
    baselineRequest,
  );
  const before = await context.query<{ n: number }>(`SELECT count(*)::int AS n FROM ads.orders`);
  const sampler = new RssSampler(context.pids());
  await sampler.start();
  const app = await runLoad('order create: queue-api', context.queueApi.url, options, appRequest);
  const rss = await sampler.stop();
  // autocannon stops at the deadline without waiting for the requests in flight: let them land.
  let settled = -1;
  for (;;) {
    const [{ n }] = await context.query<{ n: number }>(`SELECT count(*)::int AS n FROM ledger.entries`);
    if (n === settled) break;
    settled = n;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  const after = await context.query<{ n: number; funded: number; holds: number }>(
    `SELECT count(*)::int AS n, count(*) FILTER (WHERE status <> 'waiting_payment')::int AS funded,
            (SELECT count(*)::int FROM ledger.entries WHERE kind = 'hold') AS holds
       FROM ads.orders`,
  );
  // After the load, once the worker's postings (spend captured from insights) are in.
  const verify = await fetch(`${context.queueApi.url}/v1/ops/ledger/verify`, {
    headers: { 'x-ops-key': 'dev-ops-api-key' },
  });
  const verdict = (await verify.json().catch(() => null)) as { ok?: boolean } | null;
  const ledgerOk = verify.ok && verdict?.ok === true;
  if (!ledgerOk)
    process.stdout.write(
      `[bench] ledger verify answered ${verify.status}: ${JSON.stringify(verdict).slice(0, 500)}\n`,
    );
  return {
    baseline,
    app,
    rss,
    stored: after[0].n - before[0].n,
    funded: after[0].funded,
    holds: after[0].holds,
    ledgerOk,
  };
}
