import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { campaignNameForOrder } from '@realapp/meta-ads';
import type { OrderView } from '@realapp/orders';
import { expectEventually } from '@realapp/testing';
import { AdsStack, startAdsStack, TestTenant } from './testing/ads-stack.test-helper';

const ROOT = join(__dirname, '../../../..');

// Building the worker and waiting out Meta's delay take longer than jest's default per-test budget.
jest.setTimeout(120_000);

/** The worker as it runs in production: compiled with SWC, started with node, killed with SIGKILL. */
function buildWorker(outDir: string): string {
  const result = spawnSync(
    join(ROOT, 'node_modules/.bin/swc'),
    ['apps', 'libs', 'tools', '-d', outDir, '--config-file', '.swcrc', '--extensions', '.ts', '--quiet'],
    { cwd: ROOT, encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`swc failed: ${result.stderr}`);
  return join(outDir, 'apps/codex-worker/src/main.js');
}

interface WorkerProcess {
  child: ChildProcess;
  url: string;
}

async function startWorkerProcess(main: string, env: Record<string, string>): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [main], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const url = await expectEventually(
    () => {
      if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode}: ${output}`);
      const match = /"msg":"codex-worker listening on (http:\/\/[^"]+)"/.exec(output);
      if (!match) throw new Error('worker not listening yet');
      return match[1];
    },
    { timeoutMs: 30000 },
  );
  await expectEventually(async () => expect((await fetch(`${url}/health/readiness`)).status).toBe(200), {
    timeoutMs: 30000,
  });
  return { child, url };
}

describe('a worker killed between Meta creating the campaign and the commit', () => {
  let stack: AdsStack;
  let buildDir: string;
  let main: string;
  let killed: WorkerProcess | null = null;

  beforeAll(async () => {
    buildDir = join(ROOT, 'tmp', `ads-fault-${randomBytes(4).toString('hex')}`);
    main = buildWorker(buildDir);
    stack = await startAdsStack({ startWorker: false });
  });

  afterAll(async () => {
    if (killed && killed.child.exitCode === null && killed.child.signalCode === null)
      killed.child.kill('SIGKILL');
    await stack?.close();
    rmSync(buildDir, { recursive: true, force: true });
  });

  it('leaves exactly one campaign: the next worker adopts it by name', async () => {
    const tenant: TestTenant = stack.aTenant();
    await stack.activatePlan(tenant);
    await stack.topUp(tenant, 10000);

    killed = await startWorkerProcess(main, stack.workerEnv({ MVP_RUNNING_STALE_SECONDS: '2' }));
    // Meta takes its time answering the create: the worker is killed while it waits, and Meta
    // creates the campaign all the same (the request had reached it).
    await stack.sandboxCall('POST', '/_sandbox/faults', { provider: 'meta', delayMs: 4000, count: 1 });
    const created = await stack.request<OrderView>('POST', '/v1/ads/orders', {
      token: tenant.token,
      idempotencyKey: randomUUID(),
      body: {
        name: 'Crash test',
        objective: 'sales',
        budgetCents: 5000,
        targeting: { countries: ['BR'], ageMin: 21, ageMax: 60 },
        creative: {
          headline: 'h',
          body: 'b',
          imageUrl: 'https://cdn.example.com/a.jpg',
          linkUrl: 'https://example.com',
        },
      },
    });
    expect(created.status).toBe(201);
    const orderId = created.body.id;

    // The create call took the delayed fault: it is at Meta now, the intent (launching) committed.
    await expectEventually(async () => {
      const { items } = await stack.sandboxCall<{ items: unknown[] }>(
        'GET',
        '/_sandbox/faults?provider=meta',
      );
      expect(items).toEqual([]);
    });
    const launching = await stack.request<OrderView>('GET', `/v1/ads/orders/${orderId}`, {
      token: tenant.token,
    });
    expect(launching.body).toMatchObject({ status: 'launching', campaignId: null });
    killed.child.kill('SIGKILL');
    await expectEventually(() => expect(killed?.child.signalCode).toBe('SIGKILL'));

    const [campaign] = await expectEventually(
      async () => {
        const campaigns = await stack.campaignsNamed(campaignNameForOrder(orderId));
        expect(campaigns).toHaveLength(1);
        return campaigns;
      },
      { timeoutMs: 15000 },
    );
    expect(
      (await stack.request<OrderView>('GET', `/v1/ads/orders/${orderId}`, { token: tenant.token })).body,
    ).toMatchObject({
      status: 'launching',
      campaignId: null,
    });

    // A new worker: the unacked OrderQueued comes back and the stale launch is re-enqueued on start.
    await stack.startWorker({ MVP_RUNNING_STALE_SECONDS: '1' });
    const active = await expectEventually(
      async () => {
        const answer = await stack.request<OrderView>('GET', `/v1/ads/orders/${orderId}`, {
          token: tenant.token,
        });
        expect(answer.body.status).toBe('active');
        return answer.body;
      },
      { timeoutMs: 30000 },
    );
    expect(active.campaignId).toBe(campaign.id);
    expect(active.history[active.history.length - 1]).toMatchObject({
      from: 'launching',
      to: 'active',
      reason: 'campaign_adopted',
    });
    expect(await stack.campaignsNamed(campaignNameForOrder(orderId))).toHaveLength(1);
    expect(await stack.wallet(tenant.tenantId)).toMatchObject({ balanceCents: 10000, heldCents: 5000 });
  });
});
