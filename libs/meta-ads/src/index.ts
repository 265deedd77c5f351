export {
  AD_OBJECTIVES,
  META_CAMPAIGN_STATUSES,
  campaignNameForOrder,
  isAdObjective,
  isMetaCampaignStatus,
  toAdAccountPath,
  toMetaObjective,
} from './meta-ads.api';
export type {
  AdObjective,
  CreateCampaignInput,
  FindCampaignByNameInput,
  MetaAdsApi,
  MetaCampaignRef,
  MetaCampaignStatus,
  MetaCampaignSummary,
  MetaLaunchStatus,
  MetaLogger,
  MetaMode,
  MetaObjective,
} from './meta-ads.api';
export {
  MetaAdsError,
  POLICY_BLOCK_RETRY_AFTER_MS,
  classifyGraphError,
  classifyNetworkError,
  errorCodeForKind,
  isMetaAdsError,
  isRetryableMetaError,
  parseGraphErrorBody,
  retryAfterFromUsageHeaders,
} from './graph.errors';
export type {
  GraphErrorClassification,
  GraphErrorDetails,
  GraphErrorKind,
  HeaderSource,
  MetaAdsErrorCode,
  MetaGraphErrorInfo,
} from './graph.errors';
export { GRAPH_LOG_FIELDS, MetaGraphClient, computeAppSecretProof } from './graph.client';
export type { MetaGraphClientOptions } from './graph.client';
export { DEFAULT_SIMULATOR_SPEND_STEP_CENTS, MetaSimulator, SIMULATOR_LOG_FIELDS } from './meta-simulator';
export type { MetaSimulatorOptions, SimulatedCampaign } from './meta-simulator';
export { createMetaAdsApi } from './meta-ads.factory';
export type { CreateMetaAdsApiOptions } from './meta-ads.factory';
export { spendToCents } from './spend-cents';
export { InstrumentedMetaAdsApi } from './meta-ads.instrumented';
export { META_ADS_API, MetaAdsModule } from './meta-ads.module';
export type { MetaAdsModuleAsyncOptions } from './meta-ads.module';
