import { MetricsService } from '@realapp/platform';
import { MetaAdsError } from './graph.errors';
import { InstrumentedMetaAdsApi } from './meta-ads.instrumented';
import { MetaSimulator } from './meta-simulator';

async function counterValue(metrics: MetricsService, labels: Record<string, string>): Promise<number> {
  const metric = await metrics.registry.getSingleMetric('meta_api_calls_total')?.get();
  const match = metric?.values.find((value) =>
    Object.entries(labels).every(([key, label]) => value.labels[key] === label),
  );
  return match?.value ?? 0;
}

describe('InstrumentedMetaAdsApi', () => {
  it('counts each call by operation, result and mode, and passes results and errors through untouched', async () => {
    const metrics = new MetricsService();
    const simulator = new MetaSimulator({ spendStepCents: 0 });
    const api = new InstrumentedMetaAdsApi(simulator, metrics);
    expect(api.mode).toBe('simulator');

    const { id } = await api.createCampaign({
      adAccountId: 'act_1',
      name: 'realapp-order-1',
      objective: 'traffic',
      status: 'ACTIVE',
      lifetimeBudgetCents: 5000,
    });
    expect(await api.findCampaignByName({ adAccountId: '1', name: 'realapp-order-1' })).toEqual({
      id,
      status: 'ACTIVE',
    });
    await api.updateCampaignStatus(id, 'PAUSED');
    simulator.addSpend(id, 1234);
    expect(await api.getCampaignSpendCents(id)).toBe(1234);

    const throttled = new MetaAdsError('meta_throttled', 'slow down');
    simulator.failNext('createCampaign', throttled);
    await expect(
      api.createCampaign({
        adAccountId: 'act_1',
        name: 'x',
        objective: 'sales',
        status: 'ACTIVE',
        lifetimeBudgetCents: 1000,
      }),
    ).rejects.toBe(throttled);
    simulator.failNext('updateCampaignStatus', new MetaAdsError('meta_rejected', 'no'));
    await expect(api.updateCampaignStatus(id, 'ACTIVE')).rejects.toMatchObject({ code: 'meta_rejected' });

    expect(
      await counterValue(metrics, { operation: 'createCampaign', result: 'ok', mode: 'simulator' }),
    ).toBe(1);
    expect(
      await counterValue(metrics, {
        operation: 'createCampaign',
        result: 'meta_throttled',
        mode: 'simulator',
      }),
    ).toBe(1);
    expect(
      await counterValue(metrics, { operation: 'updateCampaignStatus', result: 'ok', mode: 'simulator' }),
    ).toBe(1);
    expect(
      await counterValue(metrics, {
        operation: 'updateCampaignStatus',
        result: 'meta_rejected',
        mode: 'simulator',
      }),
    ).toBe(1);
    expect(
      await counterValue(metrics, { operation: 'getCampaignSpendCents', result: 'ok', mode: 'simulator' }),
    ).toBe(1);
    expect(
      await counterValue(metrics, { operation: 'findCampaignByName', result: 'ok', mode: 'simulator' }),
    ).toBe(1);
  });

  it('labels anything that is not a MetaAdsError as error', async () => {
    const metrics = new MetricsService();
    const simulator = new MetaSimulator();
    const api = new InstrumentedMetaAdsApi(simulator, metrics);
    await expect(api.updateCampaignStatus('not a valid id!', 'PAUSED')).rejects.toBeInstanceOf(MetaAdsError);
    jest.spyOn(simulator, 'getCampaignSpendCents').mockRejectedValueOnce(new TypeError('bug'));
    await expect(api.getCampaignSpendCents('c1')).rejects.toBeInstanceOf(TypeError);
    expect(await counterValue(metrics, { operation: 'getCampaignSpendCents', result: 'error' })).toBe(1);
  });
});
