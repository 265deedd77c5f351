import type { FastifyInstance } from 'fastify';
import { RequestLog, maskFields, maskHeaders, maskSecret } from './request-log';
import { buildSandboxApp } from './sandbox';

describe('RequestLog', () => {
  function entry(id: number): ReturnType<Parameters<RequestLog['record']>[1]> {
    return {
      id,
      at: new Date().toISOString(),
      provider: 'meta',
      method: 'GET',
      path: `/p/${id}`,
      query: {},
      headers: {},
      body: null,
      response: { status: 200, body: null },
      durationMs: 1,
    };
  }

  it('lists newest first by arrival, even when a slow call is answered last', () => {
    const log = new RequestLog(10);
    const first = log.nextId();
    const second = log.nextId();
    log.record(second, () => entry(second));
    log.record(first, () => entry(first));
    expect(log.list().map((item) => item.id)).toEqual([second, first]);
  });

  it('keeps at most its capacity', () => {
    const log = new RequestLog(2);
    for (let i = 0; i < 3; i += 1) {
      const id = log.nextId();
      log.record(id, () => entry(id));
    }
    expect(log.list().map((item) => item.id)).toEqual([3, 2]);
  });

  it('builds an entry once, when it is first listed', () => {
    const log = new RequestLog(10);
    const id = log.nextId();
    const build = jest.fn(() => entry(id));
    log.record(id, build);
    expect(build).not.toHaveBeenCalled();
    expect(log.list()).toEqual(log.list());
    expect(build).toHaveBeenCalledTimes(1);
  });

  it('masks credentials', () => {
    expect(maskSecret('Bearer sk_test_1234567890')).toBe('Bearer sk_t***');
    expect(
      maskHeaders({ authorization: 'Bearer short', 'x-idempotency-key': 'k-1', 'x-api-key': 'abcdefghijk' }),
    ).toEqual({
      authorization: 'Bearer ***',
      'x-idempotency-key': 'k-1',
      'x-api-key': 'abcd***',
    });
    expect(
      maskFields({ access_token: 'EAAG123456789', fields: 'id', nested: { client_secret: 'topsecret1' } }),
    ).toEqual({
      access_token: 'EAAG***',
      fields: 'id',
      nested: { client_secret: 'tops***' },
    });
  });
});

describe('GET /_sandbox/requests', () => {
  let app: FastifyInstance;

  beforeEach(async () => {
    app = buildSandboxApp().app;
    await app.ready();
  });

  afterEach(async () => {
    await app.close();
  });

  it('records provider calls newest first with masked secrets, and not control calls', async () => {
    await app.inject({
      method: 'POST',
      url: '/v1/payments',
      headers: { authorization: 'Bearer APP_USR-123456789', 'x-idempotency-key': 'k-1' },
      payload: { transaction_amount: 10, payment_method_id: 'pix', payer: { email: 'a@b.c' } },
    });
    await app.inject({ method: 'GET', url: '/v26.0/act_1/campaigns?access_token=EAAGsecret-token' });
    await app.inject({ method: 'GET', url: '/_sandbox/health' });

    const response = await app.inject({ method: 'GET', url: '/_sandbox/requests' });
    const items = response.json().items;
    expect(items).toHaveLength(2);
    expect(items[0]).toMatchObject({
      provider: 'meta',
      method: 'GET',
      path: '/v26.0/act_1/campaigns',
      query: { access_token: 'EAAG***' },
      response: { status: 200, body: { data: [], paging: {} } },
    });
    expect(items[1]).toMatchObject({
      provider: 'mercadopago',
      method: 'POST',
      path: '/v1/payments',
      body: { transaction_amount: 10, payment_method_id: 'pix' },
      response: { status: 201, body: expect.objectContaining({ status: 'pending' }) },
    });
    expect(items[1].headers.authorization).toBe('Bearer APP_***');
    expect(items[1].headers['x-idempotency-key']).toBe('k-1');
    expect(items[0].id).toBeGreaterThan(items[1].id);
    expect(items[0].at).toEqual(expect.any(String));

    const onlyMp = await app.inject({
      method: 'GET',
      url: '/_sandbox/requests?provider=mercadopago&limit=5',
    });
    expect(onlyMp.json().items.map((item: { provider: string }) => item.provider)).toEqual(['mercadopago']);

    const limited = await app.inject({ method: 'GET', url: '/_sandbox/requests?limit=1' });
    expect(limited.json().items).toHaveLength(1);
  });

  it('records unknown provider paths too, so a wrong URL in the platform is visible', async () => {
    await app.inject({
      method: 'GET',
      url: '/v1/payments/123/refunds',
      headers: { authorization: 'Bearer x' },
    });
    const items = (await app.inject({ method: 'GET', url: '/_sandbox/requests' })).json().items;
    expect(items[0]).toMatchObject({ provider: 'mercadopago', response: { status: 404 } });
  });

  it('is emptied by reset', async () => {
    await app.inject({ method: 'GET', url: '/v26.0/act_1/campaigns?access_token=t' });
    await app.inject({ method: 'POST', url: '/_sandbox/reset' });
    expect((await app.inject({ method: 'GET', url: '/_sandbox/requests' })).json()).toEqual({ items: [] });
  });
});
