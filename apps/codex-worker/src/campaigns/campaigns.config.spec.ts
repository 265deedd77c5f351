import { ConfigValidationError, loadConfig } from '@realapp/platform';
import { CODEX_WORKER_SECRETS, CodexWorkerConfig, DEVELOPMENT_AD_ACCOUNT_ID } from '../config';

const load = (env: Record<string, string>): Readonly<CodexWorkerConfig> =>
  loadConfig('codex-worker', CodexWorkerConfig, env, CODEX_WORKER_SECRETS);

function problems(env: Record<string, string>): string[] {
  try {
    load(env);
  } catch (error) {
    if (error instanceof ConfigValidationError) return error.problems;
    throw error;
  }
  return [];
}

describe('the worker configuration of campaigns (SPEC §8, §10, §13)', () => {
  it('defaults to the simulator, Graph v26.0 at graph.facebook.com, insights every 15 s, stale after 300 s', () => {
    const config = load({ NODE_ENV: 'development' });
    expect(config).toMatchObject({
      REAL_ADS_ENABLED: false,
      META_GRAPH_BASE_URL: 'https://graph.facebook.com',
      META_GRAPH_API_VERSION: 'v26.0',
      META_INSIGHTS_INTERVAL_MS: 15000,
      MVP_RUNNING_STALE_SECONDS: 300,
      META_AD_ACCOUNT_ID: DEVELOPMENT_AD_ACCOUNT_ID,
      META_ACCESS_TOKEN: 'dev-meta-access-token',
      META_APP_SECRET: 'dev-meta-app-secret',
    });
  });

  it('reads real ads pointed at the sandbox', () => {
    const config = load({
      REAL_ADS_ENABLED: 'true',
      META_GRAPH_BASE_URL: 'http://127.0.0.1:3090',
      META_GRAPH_API_VERSION: 'v24.0',
      META_AD_ACCOUNT_ID: '123456',
      META_INSIGHTS_INTERVAL_MS: '250',
    });
    expect(config).toMatchObject({
      REAL_ADS_ENABLED: true,
      META_GRAPH_BASE_URL: 'http://127.0.0.1:3090',
      META_GRAPH_API_VERSION: 'v24.0',
      META_AD_ACCOUNT_ID: '123456',
      META_INSIGHTS_INTERVAL_MS: 250,
    });
  });

  it('names every malformed Meta variable', () => {
    const found = problems({
      REAL_ADS_ENABLED: 'maybe',
      META_GRAPH_BASE_URL: 'graph',
      META_GRAPH_API_VERSION: '26',
      META_AD_ACCOUNT_ID: 'act_abc',
      META_INSIGHTS_INTERVAL_MS: 'often',
    }).join('\n');
    for (const name of [
      'REAL_ADS_ENABLED',
      'META_GRAPH_BASE_URL',
      'META_GRAPH_API_VERSION',
      'META_AD_ACCOUNT_ID',
      'META_INSIGHTS_INTERVAL_MS',
    ]) {
      expect(found).toContain(name);
    }
  });

  it('in production with real ads, refuses development Meta credentials and the sandbox ad account', () => {
    const found = problems({
      NODE_ENV: 'production',
      REAL_ADS_ENABLED: 'true',
      META_APP_SECRET: 'dev-meta-app-secret',
    }).join('\n');
    expect(found).toMatch(/META_ACCESS_TOKEN/);
    expect(found).toMatch(/META_APP_SECRET: a development or placeholder value/);
    expect(found).toMatch(/META_AD_ACCOUNT_ID/);
  });

  it('in production with real ads turned off, asks for no Meta ads credentials; the WhatsApp channel still needs the app secret', () => {
    const found = problems({ NODE_ENV: 'production', REAL_ADS_ENABLED: 'false' }).join('\n');
    expect(found).not.toMatch(/META_(ACCESS_TOKEN|AD_ACCOUNT_ID|GRAPH_)/);
    // Named by the config check with the rest, not by a stack trace when the WhatsApp module starts.
    expect(found).toMatch(/META_APP_SECRET/);
  });

  it('in production, real ads are on unless turned off, so an unset variable cannot mean the simulator', () => {
    const found = problems({ NODE_ENV: 'production' }).join('\n');
    expect(found).toMatch(/META_ACCESS_TOKEN/);
    expect(found).toMatch(/META_AD_ACCOUNT_ID/);
    expect(problems({ NODE_ENV: 'development' })).toEqual([]);
  });
});
