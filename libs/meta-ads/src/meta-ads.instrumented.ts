import type { MetricsService } from '@realapp/platform';
import { isMetaAdsError } from './graph.errors';
import type {
  CreateCampaignInput,
  FindCampaignByNameInput,
  MetaAdsApi,
  MetaCampaignRef,
  MetaCampaignStatus,
  MetaCampaignSummary,
  MetaMode,
} from './meta-ads.api';

type Operation = keyof Omit<MetaAdsApi, 'mode'>;

/**
 * Counts every Meta call by operation and result (`ok`, `meta_throttled`, `meta_unavailable`,
 * `meta_rejected`, `error`) and times it, labelled with the mode so simulated calls never read
 * as real ones on a dashboard. A call is one port call, retries inside the client included.
 */
export class InstrumentedMetaAdsApi implements MetaAdsApi {
  readonly mode: MetaMode;
  private readonly calls;
  private readonly duration;

  constructor(
    private readonly inner: MetaAdsApi,
    metrics: MetricsService,
  ) {
    this.mode = inner.mode;
    this.calls = metrics.counter('meta_api_calls_total', 'Meta Marketing API calls by operation and result', [
      'operation',
      'result',
      'mode',
    ]);
    this.duration = metrics.histogram(
      'meta_api_call_duration_seconds',
      'Meta Marketing API call duration, retries included',
      ['operation', 'mode'],
      [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    );
  }

  createCampaign(input: CreateCampaignInput): Promise<MetaCampaignRef> {
    return this.measure('createCampaign', () => this.inner.createCampaign(input));
  }

  findCampaignByName(input: FindCampaignByNameInput): Promise<MetaCampaignSummary | null> {
    return this.measure('findCampaignByName', () => this.inner.findCampaignByName(input));
  }

  updateCampaignStatus(campaignId: string, status: MetaCampaignStatus): Promise<void> {
    return this.measure('updateCampaignStatus', () => this.inner.updateCampaignStatus(campaignId, status));
  }

  getCampaignSpendCents(campaignId: string): Promise<number> {
    return this.measure('getCampaignSpendCents', () => this.inner.getCampaignSpendCents(campaignId));
  }

  private async measure<T>(operation: Operation, call: () => Promise<T>): Promise<T> {
    const stop = this.duration.startTimer({ operation, mode: this.mode });
    try {
      const result = await call();
      this.calls.inc({ operation, result: 'ok', mode: this.mode });
      return result;
    } catch (error) {
      this.calls.inc({ operation, result: isMetaAdsError(error) ? error.code : 'error', mode: this.mode });
      throw error;
    } finally {
      stop();
    }
  }
}
