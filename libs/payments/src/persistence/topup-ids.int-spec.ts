import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from '@realapp/testing';

/** The provider ids of top-ups, as the schema keeps them (migration 1732400010000). */
describe('top-up provider ids, enforced by the database', () => {
  let db: TestDatabase;
  let dataSource: DataSource;

  const insert = (provider: string, ids: { payment?: string; session?: string }): Promise<unknown> =>
    dataSource.query(
      `INSERT INTO billing.topups (id, tenant_id, provider, amount_cents, provider_payment_id, provider_session_id)
       VALUES ($1, $2, $3, 5000, $4, $5)`,
      [randomUUID(), randomUUID(), provider, ids.payment ?? null, ids.session ?? null],
    );
  const count = async (where: string, value: string): Promise<number> =>
    (
      (await dataSource.query(`SELECT count(*)::int AS n FROM billing.topups WHERE ${where} = $1`, [
        value,
      ])) as Array<{
        n: number;
      }>
    )[0].n;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await new DataSource({ type: 'postgres', url: db.url }).initialize();
  });

  afterAll(async () => {
    await dataSource.destroy();
    await db.drop();
  });

  it('refuses a second top-up with the same provider payment id, and keeps the first', async () => {
    const payment = `pay-${randomUUID()}`;
    await insert('mercadopago', { payment });
    await expect(insert('mercadopago', { payment })).rejects.toMatchObject({
      code: '23505',
      constraint: 'topups_provider_payment_unique',
    });
    expect(await count('provider_payment_id', payment)).toBe(1);
    // Unique per provider, as before.
    await insert('stripe', { payment, session: `cs_${randomUUID()}` });
  });

  it('refuses a second top-up with the same checkout session id', async () => {
    const session = `cs_${randomUUID()}`;
    await insert('stripe', { session });
    await expect(insert('stripe', { session })).rejects.toMatchObject({
      code: '23505',
      constraint: 'topups_provider_session_unique',
    });
    expect(await count('provider_session_id', session)).toBe(1);
  });

  it('takes any number of top-ups whose ids are not known yet', async () => {
    await Promise.all([
      insert('stripe', {}),
      insert('stripe', {}),
      insert('mercadopago', {}),
      insert('mercadopago', {}),
    ]);
  });

  it('indexes only the ids that are set, and finds a top-up by them through those indexes', async () => {
    const definitions = (await dataSource.query(
      `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'billing' AND indexname LIKE 'topups_provider_%_unique'`,
    )) as Array<{ indexname: string; indexdef: string }>;
    expect(definitions.map((d) => d.indexdef).sort()).toEqual([
      expect.stringMatching(
        /UNIQUE INDEX topups_provider_payment_unique .*\(provider, provider_payment_id\) WHERE \(provider_payment_id IS NOT NULL\)$/,
      ),
      expect.stringMatching(
        /UNIQUE INDEX topups_provider_session_unique .*\(provider, provider_session_id\) WHERE \(provider_session_id IS NOT NULL\)$/,
      ),
    ]);

    // One connection, so that the planner setting applies to every EXPLAIN below.
    const runner = dataSource.createQueryRunner();
    try {
      await runner.query(`SET enable_seqscan = off`);
      const plan = async (sql: string): Promise<string> =>
        ((await runner.query(`EXPLAIN ${sql}`)) as Array<{ 'QUERY PLAN': string }>)
          .map((r) => r['QUERY PLAN'])
          .join('\n');
      expect(
        await plan(
          `SELECT id FROM billing.topups WHERE provider = 'mercadopago' AND provider_payment_id = 'x'`,
        ),
      ).toContain('topups_provider_payment_unique');
      expect(
        await plan(
          `SELECT id FROM billing.topups WHERE provider = 'mercadopago' AND provider_payment_id = ANY(ARRAY['x', 'y'])`,
        ),
      ).toContain('topups_provider_payment_unique');
      expect(
        await plan(
          `SELECT id FROM billing.topups WHERE provider = 'stripe' AND provider_session_id = 'cs_x'`,
        ),
      ).toContain('topups_provider_session_unique');
    } finally {
      await runner.release();
    }
  });
});
