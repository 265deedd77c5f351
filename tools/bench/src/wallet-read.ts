import { AppBenchContext } from './app.bench';
import { AppLoadFigures, runLoad } from './app-load';
import { RssFigures, RssSampler } from './memory';

export interface WalletReadResult {
  baseline: AppLoadFigures;
  app: AppLoadFigures;
  /** The same queue-api with RATE_LIMIT_ENABLED=false: what the limits cost per request. */
  appWithoutLimits: AppLoadFigures;
  rss: RssFigures[];
}

/**
 * `GET /v1/billing/wallet` with a bearer token (JWKS-verified ES256 token, tenant limits, one wallet
 * row), tenants in turn, each from its own address; beside a bare node:http doing the same SELECT.
 */
export async function benchWalletRead(context: AppBenchContext): Promise<WalletReadResult> {
  const { tenants, options } = context;
  let turn = 0;
  const appRequest = () => {
    const tenant = tenants[turn++ % tenants.length];
    return {
      method: 'GET' as const,
      path: '/v1/billing/wallet',
      headers: { authorization: `Bearer ${tenant.token}`, 'x-forwarded-for': tenant.ip },
    };
  };
  const baselineRequest = () => ({
    method: 'GET' as const,
    path: `/wallet?tenant=${tenants[turn++ % tenants.length].tenantId}`,
    headers: {},
  });
  const warm = { connections: options.connections, durationSeconds: 3 };
  await runLoad('warm-up baseline', context.baseline.url, warm, baselineRequest);
  await runLoad('warm-up queue-api', context.queueApi.url, warm, appRequest);
  await runLoad('warm-up queue-api (limits off)', context.queueApiWithoutLimits.url, warm, appRequest);

  const baseline = await runLoad(
    'wallet read: baseline (node:http + one SELECT)',
    context.baseline.url,
    options,
    baselineRequest,
  );
  const sampler = new RssSampler(context.pids());
  await sampler.start();
  const app = await runLoad('wallet read: queue-api', context.queueApi.url, options, appRequest);
  const rss = await sampler.stop();
  const appWithoutLimits = await runLoad(
    'wallet read: queue-api, rate limits off',
    context.queueApiWithoutLimits.url,
    options,
    appRequest,
  );
  // Its pool goes back to PostgreSQL before the order runs.
  await context.queueApiWithoutLimits.stop();
  return { baseline, app, appWithoutLimits, rss };
}
