import { MetaAdsError } from './graph.errors';

// The port the worker talks to. Both the Graph client and the in-memory simulator implement it,
// so REAL_ADS_ENABLED only changes which object is constructed, never the calling code.

export const AD_OBJECTIVES = ['traffic', 'engagement', 'leads', 'sales', 'awareness'] as const;
export type AdObjective = (typeof AD_OBJECTIVES)[number];

export type MetaObjective =
  'OUTCOME_TRAFFIC' | 'OUTCOME_ENGAGEMENT' | 'OUTCOME_LEADS' | 'OUTCOME_SALES' | 'OUTCOME_AWARENESS';

/** The configured `status` of a campaign as Graph reports it (not `effective_status`). */
export const META_CAMPAIGN_STATUSES = ['ACTIVE', 'PAUSED', 'ARCHIVED', 'DELETED'] as const;
export type MetaCampaignStatus = (typeof META_CAMPAIGN_STATUSES)[number];
export type MetaLaunchStatus = Extract<MetaCampaignStatus, 'ACTIVE' | 'PAUSED'>;

export type MetaMode = 'graph' | 'simulator';

/** pino-compatible: a pino or nestjs-pino logger can be passed as is. */
export interface MetaLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  debug?(obj: Record<string, unknown>, msg: string): void;
}

export interface CreateCampaignInput {
  /** With or without the `act_` prefix. */
  adAccountId: string;
  name: string;
  objective: AdObjective;
  status: MetaLaunchStatus;
  /** Integer minor units of the ad account currency (centavos for BRL). */
  lifetimeBudgetCents: number;
}

export interface FindCampaignByNameInput {
  adAccountId: string;
  name: string;
}

export interface MetaCampaignRef {
  id: string;
}

export interface MetaCampaignSummary {
  id: string;
  status: MetaCampaignStatus;
}

export interface MetaAdsApi {
  readonly mode: MetaMode;
  createCampaign(input: CreateCampaignInput): Promise<MetaCampaignRef>;
  /** Lets a launch retried after a crash adopt the campaign it already created instead of paying twice. */
  findCampaignByName(input: FindCampaignByNameInput): Promise<MetaCampaignSummary | null>;
  updateCampaignStatus(campaignId: string, status: MetaCampaignStatus): Promise<void>;
  /** Lifetime spend in integer minor units; 0 before Meta reports anything. */
  getCampaignSpendCents(campaignId: string): Promise<number>;
}

const OBJECTIVES: Readonly<Record<AdObjective, MetaObjective>> = Object.freeze({
  traffic: 'OUTCOME_TRAFFIC',
  engagement: 'OUTCOME_ENGAGEMENT',
  leads: 'OUTCOME_LEADS',
  sales: 'OUTCOME_SALES',
  awareness: 'OUTCOME_AWARENESS',
});

export function toMetaObjective(objective: AdObjective): MetaObjective {
  return OBJECTIVES[objective];
}

export function isAdObjective(value: unknown): value is AdObjective {
  return typeof value === 'string' && (AD_OBJECTIVES as readonly string[]).includes(value);
}

export function isMetaCampaignStatus(value: unknown): value is MetaCampaignStatus {
  return typeof value === 'string' && (META_CAMPAIGN_STATUSES as readonly string[]).includes(value);
}

/**
 * The campaign name doubles as our external id at Meta: it is derived from the order alone, so a
 * launch that crashed between "created at Meta" and "saved in our database" can find its campaign
 * again with findCampaignByName instead of creating (and spending on) a second one.
 */
export function campaignNameForOrder(orderId: string): string {
  const id = orderId.trim();
  if (id.length === 0) {
    throw new RangeError('campaignNameForOrder needs a non-empty order id');
  }
  return `realapp-order-${id}`;
}

/**
 * Graph paths take `act_<id>`; config and callers may hold either form. Anything that is not a
 * plain id is refused here rather than being spliced into a URL path.
 */
export function toAdAccountPath(adAccountId: string): string {
  const bare = adAccountId.trim().replace(/^act_/, '');
  if (!/^[A-Za-z0-9]+$/.test(bare)) {
    throw new MetaAdsError('meta_rejected', `Malformed Meta ad account id: ${JSON.stringify(adAccountId)}`);
  }
  return `act_${bare}`;
}
