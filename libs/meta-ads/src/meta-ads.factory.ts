import { MetaGraphClient, MetaGraphClientOptions } from './graph.client';
import { MetaAdsApi, MetaLogger } from './meta-ads.api';
import { MetaSimulator, MetaSimulatorOptions, SIMULATOR_LOG_FIELDS } from './meta-simulator';

export type CreateMetaAdsApiOptions = Partial<MetaGraphClientOptions> & {
  /** REAL_ADS_ENABLED: false sends every call to the in-memory simulator. */
  realAdsEnabled: boolean;
  logger?: MetaLogger;
  simulator?: Omit<MetaSimulatorOptions, 'logger'>;
};

/**
 * The one place REAL_ADS_ENABLED is looked at. Graph credentials are only required when real ads
 * are on, so development and CI can run without them.
 */
export function createMetaAdsApi(options: CreateMetaAdsApiOptions): MetaAdsApi {
  const { realAdsEnabled, simulator, ...clientOptions } = options;
  if (!realAdsEnabled) {
    options.logger?.info(
      { ...SIMULATOR_LOG_FIELDS },
      'REAL_ADS_ENABLED=false: Meta calls go to the built-in simulator',
    );
    return new MetaSimulator({ ...simulator, logger: options.logger });
  }
  const { baseUrl, accessToken, appSecret } = clientOptions;
  if (baseUrl === undefined || accessToken === undefined || appSecret === undefined) {
    const missing = [
      baseUrl === undefined ? 'baseUrl (META_GRAPH_BASE_URL)' : null,
      accessToken === undefined ? 'accessToken (META_ACCESS_TOKEN)' : null,
      appSecret === undefined ? 'appSecret (META_APP_SECRET)' : null,
    ].filter((name): name is string => name !== null);
    throw new RangeError(`REAL_ADS_ENABLED=true needs ${missing.join(', ')}`);
  }
  const client = new MetaGraphClient({ ...clientOptions, baseUrl, accessToken, appSecret });
  options.logger?.info(
    {
      metaMode: client.mode,
      baseUrl: new URL(baseUrl).origin,
      apiVersion: clientOptions.apiVersion ?? 'v26.0',
    },
    'REAL_ADS_ENABLED=true: Meta calls go to the Graph API',
  );
  return client;
}
