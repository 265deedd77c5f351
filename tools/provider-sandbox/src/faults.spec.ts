import type { FastifyInstance } from 'fastify';
import { FaultRegistry, parseFaultSpec } from './faults';
import { buildSandboxApp } from './sandbox';

describe('FaultRegistry', () => {
  it('consumes faults first-in first-out per provider', () => {
    const registry = new FaultRegistry(() => new Date());
    registry.add({ provider: 'meta', status: 500, count: 2 });
    registry.add({ provider: 'meta', status: 429, count: 1 });
    registry.add({ provider: 'stripe', status: 503, count: 1 });
    expect(registry.take('meta')?.status).toBe(500);
    expect(registry.list('meta').map((fault) => fault.remaining)).toEqual([1, 1]);
    expect(registry.take('meta')?.status).toBe(500);
    expect(registry.take('meta')?.status).toBe(429);
    expect(registry.take('meta')).toBeUndefined();
    expect(registry.list()).toHaveLength(1);
    expect(registry.clear()).toBe(1);
  });

  it('validates fault specs', () => {
    expect(parseFaultSpec({ provider: 'meta', status: 429, count: 2 })).toEqual({
      ok: true,
      spec: { provider: 'meta', status: 429, count: 2 },
    });
    expect(parseFaultSpec({ provider: 'mercadopago', delayMs: 50 })).toEqual({
      ok: true,
      spec: { provider: 'mercadopago', count: 1, delayMs: 50 },
    });
    const invalid = parseFaultSpec({ provider: 'paypal', status: 200, count: 0 });
    expect(invalid.ok).toBe(false);
    if (!invalid.ok) expect(invalid.errors).toHaveLength(3);
    expect(parseFaultSpec({ provider: 'meta' }).ok).toBe(false);
  });
});

describe('fault injection over HTTP', () => {
  let app: FastifyInstance;
  const mpAuth = { authorization: 'Bearer x' };

  beforeEach(async () => {
    app = buildSandboxApp().app;
    await app.ready();
  });

  afterEach(async () => {
    await app.close();
  });

  async function addFault(body: Record<string, unknown>): Promise<void> {
    const response = await app.inject({ method: 'POST', url: '/_sandbox/faults', payload: body });
    expect(response.statusCode).toBe(201);
  }

  it('fails the next `count` calls of that provider only, then answers normally', async () => {
    await addFault({ provider: 'mercadopago', status: 500, count: 2 });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const response = await app.inject({ method: 'GET', url: '/v1/payments/1', headers: mpAuth });
      statuses.push(response.statusCode);
      if (i === 0)
        expect(response.json()).toMatchObject({
          status: 500,
          error: 'internal_error',
          cause: expect.any(Array),
        });
    }
    expect(statuses).toEqual([500, 500, 404]);

    // Another provider was never affected, and the control API is never faulted.
    const listed = await app.inject({ method: 'GET', url: '/_sandbox/faults' });
    expect(listed.json()).toEqual({ items: [] });
  });

  it('answers 423 for Mercado Pago (idempotency key locked)', async () => {
    await addFault({ provider: 'mercadopago', status: 423, count: 1 });
    const response = await app.inject({
      method: 'POST',
      url: '/v1/payments',
      headers: { ...mpAuth, 'x-idempotency-key': 'k' },
      payload: { transaction_amount: 1, payment_method_id: 'pix', payer: { email: 'a@b.c' } },
    });
    expect(response.statusCode).toBe(423);
    expect(response.json().status).toBe(423);
  });

  it('uses Graph error codes for Meta: 17 for 429, 2 for 500, or the given graphCode', async () => {
    await addFault({ provider: 'meta', status: 429, count: 1 });
    await addFault({ provider: 'meta', status: 500, count: 1 });
    await addFault({ provider: 'meta', status: 400, count: 1, graphCode: 80004 });
    const call = (): Promise<{
      statusCode: number;
      json: () => { error: Record<string, unknown> };
      headers: Record<string, unknown>;
    }> => app.inject({ method: 'GET', url: '/v26.0/act_1/campaigns?access_token=t' });

    const throttled = await call();
    expect(throttled.statusCode).toBe(429);
    expect(throttled.json().error).toMatchObject({
      code: 17,
      type: 'OAuthException',
      message: '(#17) User request limit reached',
      fbtrace_id: expect.any(String),
    });
    const usage = JSON.parse(String(throttled.headers['x-business-use-case-usage']));
    const [entry] = Object.values(usage) as Array<Array<Record<string, number>>>;
    expect(entry[0]).toMatchObject({ call_count: 100, estimated_time_to_regain_access: 1 });

    const failed = await call();
    expect(failed.statusCode).toBe(500);
    expect(failed.json().error.code).toBe(2);

    const adAccount = await call();
    expect(adAccount.statusCode).toBe(400);
    expect(adAccount.json().error.code).toBe(80004);

    expect((await call()).statusCode).toBe(200);
  });

  it('delays calls by delayMs, then answers normally (or fails when a status is given)', async () => {
    await addFault({ provider: 'stripe', delayMs: 150, count: 1 });
    await addFault({ provider: 'stripe', delayMs: 100, status: 503, count: 1 });
    const call = (): Promise<{ statusCode: number }> =>
      app.inject({
        method: 'GET',
        url: '/v1/checkout/sessions/cs_test_x',
        headers: { authorization: 'Bearer sk_test' },
      });

    let started = Date.now();
    const delayed = await call();
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(delayed.statusCode).toBe(404);

    started = Date.now();
    const failed = await call();
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(failed.statusCode).toBe(503);

    started = Date.now();
    expect((await call()).statusCode).toBe(404);
    expect(Date.now() - started).toBeLessThan(100);
  });

  it('lists pending faults and clears them', async () => {
    await addFault({ provider: 'openai', status: 500, count: 3 });
    const listed = await app.inject({ method: 'GET', url: '/_sandbox/faults' });
    expect(listed.json().items).toEqual([
      expect.objectContaining({
        provider: 'openai',
        status: 500,
        count: 3,
        remaining: 3,
        id: expect.any(Number),
      }),
    ]);
    const cleared = await app.inject({ method: 'DELETE', url: '/_sandbox/faults' });
    expect(cleared.json()).toEqual({ cleared: 1 });
  });

  it('refuses malformed faults', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/_sandbox/faults',
      payload: { provider: 'x' },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.errors.length).toBeGreaterThan(0);
  });
});
