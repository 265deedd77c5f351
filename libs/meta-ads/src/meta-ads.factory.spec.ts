import { MetaGraphClient } from './graph.client';
import { MetaLogger, campaignNameForOrder, toAdAccountPath, toMetaObjective } from './meta-ads.api';
import { createMetaAdsApi } from './meta-ads.factory';
import { MetaSimulator } from './meta-simulator';

function recordingLogger(): { logger: MetaLogger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const push = (obj: Record<string, unknown>, msg: string): void => {
    lines.push({ ...obj, msg });
  };
  return { logger: { info: push, warn: push }, lines };
}

describe('createMetaAdsApi', () => {
  it('builds the simulator when real ads are off, without needing credentials', () => {
    const { logger, lines } = recordingLogger();

    const api = createMetaAdsApi({ realAdsEnabled: false, logger, simulator: { spendStepCents: 1 } });

    expect(api).toBeInstanceOf(MetaSimulator);
    expect(api.mode).toBe('simulator');
    expect(lines).toEqual([expect.objectContaining({ metaMode: 'simulator' })]);
  });

  it('builds the Graph client when real ads are on', () => {
    const { logger, lines } = recordingLogger();

    const api = createMetaAdsApi({
      realAdsEnabled: true,
      baseUrl: 'http://127.0.0.1:3090',
      accessToken: 'secret-token',
      appSecret: 'dev-meta-app-secret',
      logger,
    });

    expect(api).toBeInstanceOf(MetaGraphClient);
    expect(api.mode).toBe('graph');
    expect(lines).toEqual([
      expect.objectContaining({ metaMode: 'graph', baseUrl: 'http://127.0.0.1:3090', apiVersion: 'v26.0' }),
    ]);
    expect(JSON.stringify(lines)).not.toContain('secret-token');
  });

  it('names every missing Graph setting when real ads are on', () => {
    expect(() => createMetaAdsApi({ realAdsEnabled: true, baseUrl: 'https://graph.facebook.com' })).toThrow(
      'REAL_ADS_ENABLED=true needs accessToken (META_ACCESS_TOKEN), appSecret (META_APP_SECRET)',
    );
  });
});

describe('naming helpers', () => {
  it('derives the campaign name from the order id alone', () => {
    expect(campaignNameForOrder('0b6f7c1e-3f1d-4b8e-9a59-5e0c2a1d7f00')).toBe(
      'realapp-order-0b6f7c1e-3f1d-4b8e-9a59-5e0c2a1d7f00',
    );
    expect(campaignNameForOrder('42')).toBe(campaignNameForOrder('42'));
    expect(() => campaignNameForOrder('  ')).toThrow(RangeError);
  });

  it('maps every objective to its OUTCOME_ name', () => {
    expect(toMetaObjective('traffic')).toBe('OUTCOME_TRAFFIC');
    expect(toMetaObjective('engagement')).toBe('OUTCOME_ENGAGEMENT');
    expect(toMetaObjective('leads')).toBe('OUTCOME_LEADS');
    expect(toMetaObjective('sales')).toBe('OUTCOME_SALES');
    expect(toMetaObjective('awareness')).toBe('OUTCOME_AWARENESS');
  });

  it('normalises the ad account id with or without act_', () => {
    expect(toAdAccountPath('123')).toBe('act_123');
    expect(toAdAccountPath('act_123')).toBe('act_123');
    expect(() => toAdAccountPath('act_12/../3')).toThrow('Malformed Meta ad account id');
  });
});
