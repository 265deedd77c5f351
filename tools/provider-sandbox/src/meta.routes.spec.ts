import type { FastifyInstance } from 'fastify';
import { buildSandboxApp } from './sandbox';

const TOKEN = 'EAAGsandboxtoken';

describe('Meta Marketing API routes', () => {
  let app: FastifyInstance;

  beforeEach(async () => {
    app = buildSandboxApp().app;
    await app.ready();
  });

  afterEach(async () => {
    await app.close();
  });

  const campaignBody = {
    name: 'order-42',
    objective: 'OUTCOME_TRAFFIC',
    status: 'PAUSED',
    special_ad_categories: [],
    lifetime_budget: 10000,
  };

  async function createCampaign(
    body: Record<string, unknown> = campaignBody,
    version = 'v26.0',
  ): Promise<string> {
    // Like facebook-nodejs-business-sdk: JSON body, token in the query, the target's own id in the body.
    const response = await app.inject({
      method: 'POST',
      url: `/${version}/act_1234/campaigns?access_token=${TOKEN}&appsecret_proof=abc`,
      payload: { id: 'act_1234', ...body },
    });
    expect(response.statusCode).toBe(200);
    const id = response.json().id;
    expect(id).toMatch(/^\d{15,}$/);
    return id;
  }

  it('creates a campaign under any vNN.N prefix', async () => {
    await createCampaign(campaignBody, 'v26.0');
    await createCampaign({ ...campaignBody, name: 'other' }, 'v24.0');
  });

  it('accepts form bodies with JSON-encoded arrays, as Graph does', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/v26.0/act_1234/campaigns',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-www-form-urlencoded' },
      payload:
        'name=form-campaign&objective=OUTCOME_SALES&status=ACTIVE&special_ad_categories=%5B%5D&is_adset_budget_sharing_enabled=false',
    });
    expect(response.statusCode).toBe(200);
  });

  it('refuses calls without an access token with OAuthException 190', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/v26.0/act_1234/campaigns',
      payload: campaignBody,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      error: {
        message: expect.any(String),
        type: 'OAuthException',
        code: 190,
        fbtrace_id: expect.any(String),
      },
    });
  });

  it.each([
    ['special_ad_categories', { special_ad_categories: undefined }],
    ['objective', { objective: 'TRAFFIC' }],
    ['name', { name: '' }],
    ['budget or sharing flag', { lifetime_budget: undefined }],
  ])('refuses a campaign without valid %s (Graph code 100)', async (_field, overrides) => {
    const response = await app.inject({
      method: 'POST',
      url: `/v26.0/act_1234/campaigns?access_token=${TOKEN}`,
      payload: { ...campaignBody, ...overrides },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({ code: 100, type: 'OAuthException' });
  });

  it('finds a campaign by name with filtering, as the platform does after a crash', async () => {
    const id = await createCampaign();
    await createCampaign({ ...campaignBody, name: 'order-43' });
    const filtering = encodeURIComponent(
      JSON.stringify([{ field: 'name', operator: 'EQUAL', value: 'order-42' }]),
    );
    const response = await app.inject({
      method: 'GET',
      url: `/v26.0/act_1234/campaigns?fields=id,name,status&filtering=${filtering}&access_token=${TOKEN}`,
      headers: { 'content-type': 'application/json' },
      payload: {},
    });
    expect(response.statusCode).toBe(200);
    expect(response.json().data).toEqual([{ id, name: 'order-42', status: 'PAUSED' }]);
    expect(response.json().paging).toEqual(expect.any(Object));

    const all = await app.inject({ method: 'GET', url: `/v26.0/act_1234/campaigns?access_token=${TOKEN}` });
    expect(all.json().data).toHaveLength(2);
    expect(all.json().data[0]).toEqual({
      id: expect.any(String),
      name: 'order-43',
      status: 'PAUSED',
      objective: 'OUTCOME_TRAFFIC',
    });
  });

  it('updates the status and reads the campaign back', async () => {
    const id = await createCampaign();
    const update = await app.inject({
      method: 'POST',
      url: `/v26.0/${id}?access_token=${TOKEN}`,
      payload: { id, status: 'ACTIVE' },
    });
    expect(update.json()).toEqual({ success: true });
    const read = await app.inject({
      method: 'GET',
      url: `/v26.0/${id}?fields=id,name,status,effective_status,lifetime_budget&access_token=${TOKEN}`,
    });
    expect(read.json()).toEqual({
      id,
      name: 'order-42',
      status: 'ACTIVE',
      effective_status: 'ACTIVE',
      lifetime_budget: '10000',
    });

    const invalid = await app.inject({
      method: 'POST',
      url: `/v26.0/${id}?access_token=${TOKEN}`,
      payload: { status: 'RUNNING' },
    });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().error.code).toBe(100);

    await app.inject({
      method: 'POST',
      url: `/v26.0/${id}?access_token=${TOKEN}`,
      payload: { status: 'DELETED' },
    });
    const afterDelete = await app.inject({
      method: 'POST',
      url: `/v26.0/${id}?access_token=${TOKEN}`,
      payload: { status: 'ACTIVE' },
    });
    expect(afterDelete.statusCode).toBe(400);
  });

  it('answers unknown objects with Graph error 100', async () => {
    const response = await app.inject({ method: 'GET', url: `/v26.0/999/insights?access_token=${TOKEN}` });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({ code: 100, error_subcode: 33 });
  });

  it('reports spend in insights once the control API adds some', async () => {
    const id = await createCampaign();
    const url = `/v26.0/${id}/insights?fields=spend&date_preset=maximum&access_token=${TOKEN}`;
    const before = await app.inject({ method: 'GET', url });
    expect(before.json()).toEqual({ data: [], paging: {} });

    const spend = await app.inject({
      method: 'POST',
      url: `/_sandbox/meta/campaigns/${id}/spend`,
      payload: { amountCents: 1234 },
    });
    expect(spend.json().campaign).toEqual({ id, spend: '12.34', spendCents: 1234 });
    await app.inject({
      method: 'POST',
      url: `/_sandbox/meta/campaigns/${id}/spend`,
      payload: { amountCents: 66 },
    });

    const after = await app.inject({ method: 'GET', url });
    const today = new Date().toISOString().slice(0, 10);
    expect(after.json().data).toEqual([{ spend: '13.00', date_start: today, date_stop: today }]);

    const unknown = await app.inject({
      method: 'POST',
      url: '/_sandbox/meta/campaigns/1/spend',
      payload: { amountCents: 1 },
    });
    expect(unknown.statusCode).toBe(404);
  });

  it('puts rate-limit usage headers on every Graph answer', async () => {
    const id = await createCampaign();
    const response = await app.inject({ method: 'GET', url: `/v26.0/${id}?access_token=${TOKEN}` });
    const usage = JSON.parse(String(response.headers['x-business-use-case-usage']));
    const [business] = Object.keys(usage);
    expect(usage[business][0]).toMatchObject({
      type: 'ads_management',
      call_count: expect.any(Number),
      total_cputime: expect.any(Number),
      total_time: expect.any(Number),
      estimated_time_to_regain_access: 0,
    });
    expect(response.headers['x-app-usage']).toEqual(expect.any(String));
  });

  it('creates ad sets and ads for a campaign', async () => {
    const campaignId = await createCampaign();
    const adset = await app.inject({
      method: 'POST',
      url: `/v26.0/act_1234/adsets?access_token=${TOKEN}`,
      payload: {
        name: 'adset',
        campaign_id: campaignId,
        targeting: { geo_locations: { countries: ['BR'] } },
      },
    });
    expect(adset.statusCode).toBe(200);
    const ad = await app.inject({
      method: 'POST',
      url: `/v26.0/act_1234/ads?access_token=${TOKEN}`,
      payload: { name: 'ad', adset_id: adset.json().id, creative: { creative_id: '1' }, status: 'PAUSED' },
    });
    expect(ad.statusCode).toBe(200);
    const badAdset = await app.inject({
      method: 'POST',
      url: `/v26.0/act_1234/adsets?access_token=${TOKEN}`,
      payload: { name: 'adset', campaign_id: '42' },
    });
    expect(badAdset.statusCode).toBe(400);
  });

  it('does not take /v1/... provider paths for Graph calls', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/unknown-thing' });
    expect(response.statusCode).toBe(404);
  });
});
