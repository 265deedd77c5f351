import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { currentCorrelationId } from '@realapp/platform';
import { AdsStack, startAdsStack, TestTenant } from './testing/ads-stack.test-helper';

/**
 * Database round trips are what order creation costs (docs/performance.md, "Order creation"):
 * every statement a request sends is listed here, attributed to the request by its correlation
 * id, so a statement added on this path shows up as a diff instead of as a slower benchmark.
 */
describe('database round trips of the hot endpoints', () => {
  let stack: AdsStack;
  const sent: Array<{ correlationId: string | undefined; sql: string }> = [];
  const query = Client.prototype.query;

  /** The verb and the table (or the transaction keyword) of a statement. */
  const shape = (sql: string): string => {
    const text = sql.replace(/\s+/g, ' ').replace(/"/g, '').trim();
    const verb = text.split(' ')[0].toUpperCase();
    if (verb === 'START' || verb === 'COMMIT' || verb === 'ROLLBACK') return verb;
    const table = /\b(?:FROM|INTO|UPDATE)\s+([a-z_]+\.[a-z_]+)/i.exec(text)?.[1] ?? '?';
    return `${verb} ${table}${/\bFOR UPDATE\b/i.test(text) ? ' FOR UPDATE' : ''}`;
  };

  const statementsOf = (correlationId: string | null): string[] =>
    sent.filter((s) => correlationId !== null && s.correlationId === correlationId).map((s) => shape(s.sql));

  beforeAll(async () => {
    stack = await startAdsStack({ startWorker: false });
    Client.prototype.query = function (this: Client, ...args: unknown[]): unknown {
      const first = args[0] as string | { text?: string };
      const sql = typeof first === 'string' ? first : (first?.text ?? '');
      sent.push({ correlationId: currentCorrelationId(), sql });
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof Client.prototype.query;
  });

  afterAll(async () => {
    Client.prototype.query = query;
    await stack?.close();
  });

  const order = (tenant: TestTenant, budgetCents: number) =>
    stack.request<{ status: string; waitingReason: string | null; history: unknown[] }>(
      'POST',
      '/v1/ads/orders',
      {
        token: tenant.token,
        idempotencyKey: randomUUID(),
        body: {
          name: 'Round trips',
          objective: 'traffic',
          budgetCents,
          targeting: { countries: ['BR'], ageMin: 18, ageMax: 45 },
          creative: {
            headline: 'Apartments near the beach',
            body: 'Two bedrooms, sea view.',
            imageUrl: 'https://cdn.example.com/ad.jpg',
            linkUrl: 'https://example.com/listing/42',
          },
        },
      },
    );

  it('creates a funded order in 11 statements: claim, one 9-statement transaction, completion', async () => {
    const tenant = stack.aTenant();
    await stack.activatePlan(tenant);
    await stack.topUp(tenant, 10_000);
    const answer = await order(tenant, 6000);
    expect(answer.body).toMatchObject({ status: 'queued', history: [expect.anything()] });
    expect(statementsOf(answer.headers.get('x-correlation-id'))).toEqual([
      'INSERT platform.idempotency_keys',
      'START',
      'SELECT billing.subscriptions',
      'SELECT ledger.wallets FOR UPDATE',
      'INSERT ledger.entries',
      'UPDATE ledger.wallets',
      'INSERT ads.orders',
      'INSERT ads.order_transitions',
      'INSERT messaging.outbox',
      'COMMIT',
      'UPDATE platform.idempotency_keys',
    ]);
  });

  it('lets an order wait for money after the wallet lock and a look for its hold reference', async () => {
    const tenant = stack.aTenant();
    await stack.activatePlan(tenant);
    await stack.topUp(tenant, 3000);
    const answer = await order(tenant, 6000);
    expect(answer.body).toMatchObject({ status: 'waiting_payment', waitingReason: 'insufficient_balance' });
    expect(statementsOf(answer.headers.get('x-correlation-id'))).toEqual([
      'INSERT platform.idempotency_keys',
      'START',
      'SELECT billing.subscriptions',
      'SELECT ledger.wallets FOR UPDATE',
      'SELECT ledger.entries',
      'INSERT ads.orders',
      'INSERT ads.order_transitions',
      'COMMIT',
      'UPDATE platform.idempotency_keys',
    ]);
  });

  it('reads the wallet in one statement', async () => {
    const tenant = stack.aTenant();
    const answer = await stack.request('GET', '/v1/billing/wallet', { token: tenant.token });
    expect(answer.status).toBe(200);
    expect(statementsOf(answer.headers.get('x-correlation-id'))).toEqual(['SELECT ledger.wallets']);
  });
});
