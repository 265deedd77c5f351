import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Browser, chromium, Page } from 'playwright-core';
import { DataSource } from 'typeorm';
import { AmqpConnection, destroyTopology, Topology } from '@realapp/messaging';
import { IncidentService, ServiceStatusReporter } from '@realapp/platform';
import {
  createTestDatabase,
  expectEventually,
  startTestSandbox,
  testEnv,
  TestDatabase,
  TestSandbox,
} from '@realapp/testing';
import { createQueueApi } from '../app';

/** Debian's Chromium (package `chromium`), driven by playwright-core: no browser download. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const OPS_KEY = 'status-page-test-ops-key';
/** A browser start and a few refresh cycles take longer than jest's default 5 s. */
const BROWSER_TIMEOUT_MS = 30_000;

describe('GET /status in Chromium', () => {
  let db: TestDatabase;
  let sandbox: TestSandbox;
  let app: NestFastifyApplication;
  let dataSource: DataSource;
  let url: string;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];

  const beat = (workerId: string, ageSeconds: number): Promise<unknown> =>
    dataSource.query(
      `INSERT INTO ops.worker_heartbeats (worker_id, started_at, last_heartbeat_at, hostname, pid, version)
       VALUES ($1, now() - interval '1 hour', now() - make_interval(secs => $2), 'secret-hostname', 7, '1.0.0')
       ON CONFLICT (worker_id) DO UPDATE SET last_heartbeat_at = EXCLUDED.last_heartbeat_at`,
      [workerId, ageSeconds],
    );
  const orders = async (status: string, n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      await dataSource.query(
        `INSERT INTO ads.orders (id, tenant_id, name, objective, status, budget_cents, targeting, creative)
         VALUES ($1, $2, 'o', 'traffic', $3, 5000, '{}'::jsonb, '{}'::jsonb)`,
        [randomUUID(), randomUUID(), status],
      );
    }
  };
  const cellText = (selector: string): Promise<string> => page.locator(selector).innerText();

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)`);
    db = await createTestDatabase();
    sandbox = await startTestSandbox();
    ({ app } = await createQueueApi(
      testEnv(db.url, {
        OPS_API_KEY: OPS_KEY,
        MERCADO_PAGO_BASE_URL: sandbox.url,
        STRIPE_API_BASE_URL: sandbox.url,
      }),
    ));
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = await app.getUrl();
    dataSource = app.get(DataSource);
    // The page shows what queue-api last reported; wait for a report made with the broker connected.
    await expectEventually(async () => {
      await app.get(ServiceStatusReporter).report();
      const [row] = (await dataSource.query(
        `SELECT ready FROM ops.service_instances WHERE service = 'queue-api'`,
      )) as Array<{ ready: boolean }>;
      expect(row?.ready).toBe(true);
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await browser.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(error.message));
  }, BROWSER_TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
    if (app) {
      const amqp = app.get(AmqpConnection);
      await expectEventually(() => expect(amqp.isConnected()).toBe(true));
      const channel = await amqp.channel();
      await destroyTopology(channel, app.get(Topology));
      await channel.close();
      await app.close();
    }
    await sandbox?.close();
    await db?.drop();
  }, BROWSER_TIMEOUT_MS);

  it(
    'shows readiness, heartbeats, queue depth and open incidents, and refreshes itself',
    async () => {
      await beat('codex-worker-a', 3);
      await beat('codex-worker-old', 600);
      await orders('queued', 2);
      await orders('active', 1);

      const response = await page.goto(`${url}/status?refresh=1`);
      expect(response?.status()).toBe(200);
      expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
      await expect(page.title()).resolves.toBe('RealApp status');

      // Services: queue-api reported itself ready; the others never reported in this test.
      await page.locator('#services tr[data-service="queue-api"]').waitFor();
      expect(await cellText('#services tr[data-service="queue-api"] td:nth-child(2)')).toBe('ready');
      expect(await cellText('#services tr[data-service="queue-api"] td:nth-child(4)')).toContain(
        'database ✓',
      );
      expect(await cellText('#services tr[data-service="queue-api"] td:nth-child(4)')).toContain('broker ✓');
      expect(await cellText('#services tr[data-service="codex-worker"] td:nth-child(2)')).toBe('no report');
      expect(await cellText('#overall')).toBe('Degraded');

      // Worker heartbeats.
      expect(await cellText('#workers-summary')).toContain('Healthy');
      expect(await cellText('#workers tr[data-worker="codex-worker-a"] td:nth-child(3)')).toBe('alive');
      expect(await cellText('#workers tr[data-worker="codex-worker-old"] td:nth-child(3)')).toBe('silent');
      expect(await cellText('#workers tr[data-worker="codex-worker-old"] td:nth-child(2)')).toBe(
        '10 min ago',
      );

      // Queue depth: every status, zeros included.
      expect(await cellText('#queue tr[data-status="queued"] td:nth-child(2)')).toBe('2');
      expect(await cellText('#queue tr[data-status="active"] td:nth-child(2)')).toBe('1');
      expect(await cellText('#queue tr[data-status="failed"] td:nth-child(2)')).toBe('0');
      expect(await page.locator('#queue tbody tr').count()).toBe(8);

      expect(await page.locator('#incidents-empty').isVisible()).toBe(true);

      // The page refreshes itself: new facts appear without a reload.
      const incidents = app.get(IncidentService);
      for (let i = 0; i < 5; i++) {
        await incidents.record({
          code: 'meta_unavailable',
          place: 'consumer:codex-worker:ads.order.queued',
          message: 'token sk_live_secret for tenant',
          correlationId: `s-${i}`,
        });
      }
      await orders('queued', 1);
      await beat('codex-worker-b', 1);
      await page.locator('#incidents tr[data-level="L2"]').waitFor({ timeout: 10_000 });
      expect(await cellText('#incidents tr[data-level="L2"] td:nth-child(2)')).toBe('meta_unavailable');
      expect(await cellText('#incidents tr[data-level="L2"] td:nth-child(3)')).toBe(
        'consumer:codex-worker:ads.order.queued',
      );
      expect(await cellText('#incidents tr[data-level="L2"] td:nth-child(4)')).toBe('5');
      await page.locator('#workers tr[data-worker="codex-worker-b"]').waitFor({ timeout: 10_000 });
      await expectEventually(
        async () => expect(await cellText('#queue tr[data-status="queued"] td:nth-child(2)')).toBe('3'),
        { timeoutMs: 10_000 },
      );

      // Nothing secret or tenant-specific reaches the page.
      const html = await page.content();
      for (const secret of [OPS_KEY, 'sk_live_secret', 'secret-hostname', 's-4'])
        expect(html).not.toContain(secret);
      expect(consoleErrors).toEqual([]);
    },
    BROWSER_TIMEOUT_MS,
  );

  it(
    'says so when it cannot refresh, and recovers',
    async () => {
      await page.goto(`${url}/status?refresh=1`);
      await page.locator('#services tr[data-service="queue-api"]').waitFor();
      await page.route('**/status/data', (route) => route.fulfill({ status: 503, body: '{}' }));
      await page.locator('#stale').waitFor({ state: 'visible', timeout: 10_000 });
      expect(await cellText('#services tr[data-service="queue-api"] td:nth-child(2)')).toBe('ready');
      await page.unroute('**/status/data');
      await page.locator('#stale').waitFor({ state: 'hidden', timeout: 10_000 });
    },
    BROWSER_TIMEOUT_MS,
  );

  it('serves the data as JSON without a key', async () => {
    const res = await app.inject({ method: 'GET', url: '/status/data' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      overall: expect.stringMatching(/^(operational|degraded)$/),
      services: expect.arrayContaining([expect.objectContaining({ service: 'queue-api', ready: true })]),
      workers: { healthy: true, items: expect.any(Array) },
      queueDepth: expect.objectContaining({
        queued: expect.any(Number),
        waiting_payment: expect.any(Number),
      }),
      incidents: expect.any(Array),
    });
  });
});
