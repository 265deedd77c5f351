import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  ProviderErrorResponse,
  graphError,
  graphInvalidParameter,
  graphMissingToken,
  graphUnknownObject,
} from './errors';
import {
  GraphCall,
  graphCursorPage,
  graphParams,
  graphToken,
  project,
  requestedFields,
  unknownEdge,
} from './graph';
import { RouteResult, SandboxContext, handler, ok, routeParams } from './http';
import {
  formatGraphDay,
  formatGraphTime,
  isRecord,
  nextGraphObjectId,
  readBoolean,
  readNonEmptyString,
  readNumeric,
  readString,
} from './util';
import { META_PARTNER_BUSINESS_ID, WhatsAppSandbox } from './whatsapp.routes';

/** Graph accepts any `vNN.N` prefix; the dot keeps these routes apart from `/v1/...` providers. */
const VERSION = ':version(^v\\d+\\.\\d+$)';

const OBJECTIVES = [
  'OUTCOME_APP_PROMOTION',
  'OUTCOME_AWARENESS',
  'OUTCOME_ENGAGEMENT',
  'OUTCOME_LEADS',
  'OUTCOME_SALES',
  'OUTCOME_TRAFFIC',
];
const CAMPAIGN_STATUSES = ['ACTIVE', 'PAUSED', 'ARCHIVED', 'DELETED'] as const;
type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

function isCampaignStatus(value: unknown): value is CampaignStatus {
  return typeof value === 'string' && (CAMPAIGN_STATUSES as readonly string[]).includes(value);
}

interface Campaign {
  id: string;
  accountId: string;
  name: string;
  objective: string;
  status: CampaignStatus;
  dailyBudget: number | null;
  lifetimeBudget: number | null;
  budgetSharing: boolean | null;
  specialAdCategories: string[];
  createdTime: Date;
  updatedTime: Date;
  spendCents: number;
}

type AdObjectKind = 'adset' | 'ad' | 'adcreative';

/** Ad sets, ads and creatives: kept loosely, so a platform that creates them gets real-looking ids back. */
interface AdObject {
  id: string;
  kind: AdObjectKind;
  accountId: string;
  fields: Record<string, unknown>;
  status: CampaignStatus;
  createdTime: Date;
  updatedTime: Date;
}

const AD_OBJECT_EDGES: Record<string, AdObjectKind> = {
  adsets: 'adset',
  ads: 'ad',
  adcreatives: 'adcreative',
};

const FILTER_FIELDS: Record<string, (campaign: Campaign) => string> = {
  id: (campaign) => campaign.id,
  name: (campaign) => campaign.name,
  status: (campaign) => campaign.status,
  effective_status: (campaign) => campaign.status,
  configured_status: (campaign) => campaign.status,
  objective: (campaign) => campaign.objective,
};

type Filter = (campaign: Campaign) => boolean;

function parseFiltering(
  raw: unknown,
): { filters: Filter[]; statusFiltered: boolean } | ProviderErrorResponse {
  if (raw === undefined || raw === '') return { filters: [], statusFiltered: false };
  if (!Array.isArray(raw)) return graphInvalidParameter('Param filtering must be a JSON array');
  const filters: Filter[] = [];
  let statusFiltered = false;
  for (const item of raw) {
    if (!isRecord(item)) return graphInvalidParameter('Param filtering must contain objects');
    const field = (readString(item, 'field') ?? '').replace(/^campaign\./, '');
    const operator = readString(item, 'operator') ?? '';
    const value = item['value'];
    const read = FILTER_FIELDS[field];
    if (read === undefined) return graphInvalidParameter(`Filtering field ${field} is invalid.`);
    if (field.endsWith('status')) statusFiltered = true;
    const values = Array.isArray(value) ? value.map(String) : [String(value)];
    const text = String(value);
    switch (operator) {
      case 'EQUAL':
        filters.push((campaign) => read(campaign) === text);
        break;
      case 'NOT_EQUAL':
        filters.push((campaign) => read(campaign) !== text);
        break;
      case 'CONTAIN':
        filters.push((campaign) => read(campaign).toLowerCase().includes(text.toLowerCase()));
        break;
      case 'NOT_CONTAIN':
        filters.push((campaign) => !read(campaign).toLowerCase().includes(text.toLowerCase()));
        break;
      case 'IN':
        filters.push((campaign) => values.includes(read(campaign)));
        break;
      case 'NOT_IN':
        filters.push((campaign) => !values.includes(read(campaign)));
        break;
      default:
        return graphInvalidParameter(`Filtering field ${field} with operation ${operator} is not supported`);
    }
  }
  return { filters, statusFiltered };
}

function readBudget(params: Record<string, unknown>, key: string): number | null | 'invalid' {
  if (params[key] === undefined || params[key] === null || params[key] === '') return null;
  const value = readNumeric(params, key);
  return value !== undefined && Number.isInteger(value) && value > 0 ? value : 'invalid';
}

function spendText(cents: number): string {
  return (cents / 100).toFixed(2);
}

/**
 * Meta Graph API: the Marketing API subset the platform uses (campaigns, their status and
 * insights), plus dispatch of WhatsApp and Embedded Signup calls to {@link WhatsAppSandbox}.
 */
export class MetaSandbox {
  private campaigns = new Map<string, Campaign>();
  private adObjects = new Map<string, AdObject>();
  private usageWindow = { startedAt: 0, calls: 0 };

  constructor(
    private readonly ctx: SandboxContext,
    private readonly whatsapp: WhatsAppSandbox,
  ) {}

  reset(): void {
    this.campaigns = new Map();
    this.adObjects = new Map();
    this.usageWindow = { startedAt: 0, calls: 0 };
  }

  register(app: FastifyInstance): void {
    const config = { config: { provider: 'meta' as const } };
    const graph = handler((request) => this.graph(request));
    app.route({
      method: ['GET', 'POST'],
      url: `/${VERSION}/oauth/access_token`,
      ...config,
      handler: handler((request) => this.whatsapp.exchangeCode(graphParams(request))),
    });
    app.get(
      `/${VERSION}/debug_token`,
      config,
      handler((request) => this.debugToken(request)),
    );
    app.route({ method: ['GET', 'POST', 'DELETE'], url: `/${VERSION}/:node`, ...config, handler: graph });
    app.route({
      method: ['GET', 'POST', 'DELETE'],
      url: `/${VERSION}/:node/:edge`,
      ...config,
      handler: graph,
    });
  }

  /** Rate-limit headers Graph puts on every answer; a throttling fault reports the limit as reached. */
  usageHeaders(throttled: boolean): Record<string, string> {
    const now = this.ctx.now().getTime();
    if (now - this.usageWindow.startedAt > 60 * 60 * 1000) this.usageWindow = { startedAt: now, calls: 0 };
    this.usageWindow.calls += 1;
    const pct = throttled ? 100 : Math.min(99, Math.ceil(this.usageWindow.calls / 10));
    const regain = throttled ? 1 : 0;
    return {
      'x-business-use-case-usage': JSON.stringify({
        [META_PARTNER_BUSINESS_ID]: [
          {
            type: 'ads_management',
            call_count: pct,
            total_cputime: Math.max(1, Math.floor(pct / 2)),
            total_time: Math.max(1, Math.floor(pct / 2)),
            estimated_time_to_regain_access: regain,
            ads_api_access_tier: 'development_access',
          },
        ],
      }),
      'x-app-usage': JSON.stringify({ call_count: pct, total_cputime: Math.floor(pct / 2), total_time: pct }),
      'x-ad-account-usage': JSON.stringify({
        acc_id_util_pct: pct,
        reset_time_duration: throttled ? 60 : 0,
        ads_api_access_tier: 'development_access',
      }),
    };
  }

  private debugToken(request: FastifyRequest): RouteResult {
    const params = graphParams(request);
    if (graphToken(request, params) === undefined) return graphMissingToken();
    return this.whatsapp.debugToken(params);
  }

  private graph(request: FastifyRequest): RouteResult {
    const method = request.method;
    if (method !== 'GET' && method !== 'POST' && method !== 'DELETE') {
      return graphError(400, 100, `Unsupported ${method.toLowerCase()} request.`);
    }
    const path = routeParams(request);
    const version = path['version'];
    const node = path['node'];
    // Absent on `/<version>/<node>` routes.
    const edge: string | undefined = path['edge'];
    const params = graphParams(request);
    const token = graphToken(request, params);
    if (token === undefined) return graphMissingToken();
    const tokenProblem = this.whatsapp.tokenProblem(token);
    if (tokenProblem !== undefined) return tokenProblem;
    const call: GraphCall = { method, version, node, params, token };
    if (edge === undefined) {
      return this.marketingNode(call) ?? this.whatsapp.handleNode(call) ?? graphUnknownObject(method, node);
    }
    call.edge = edge;
    const edgeUrl = `${this.ctx.baseUrl()}/${version}/${node}/${edge}`;
    const answer = this.marketingEdge(call, edge, edgeUrl) ?? this.whatsapp.handleEdge(call, edge, edgeUrl);
    if (answer !== undefined) return answer;
    if (node.startsWith('act_')) return unknownEdge('AdAccount', edge);
    if (this.campaigns.has(node)) return unknownEdge('Campaign', edge);
    return graphUnknownObject(method, node);
  }

  // ---- nodes ----------------------------------------------------------------------------------

  private marketingNode(call: GraphCall): RouteResult | undefined {
    const accountId = /^act_(\d+)$/.exec(call.node)?.[1];
    if (accountId !== undefined) {
      if (call.method !== 'GET') return undefined;
      return ok(
        project(
          {
            id: call.node,
            account_id: accountId,
            account_status: 1,
            currency: 'BRL',
            name: `Sandbox ad account ${accountId}`,
            timezone_name: 'America/Sao_Paulo',
            business: { id: META_PARTNER_BUSINESS_ID, name: 'RealApp Sandbox' },
          },
          requestedFields(call.params),
        ),
      );
    }
    const campaign = this.campaigns.get(call.node);
    if (campaign !== undefined) {
      if (call.method === 'GET')
        return ok(project(this.campaignView(campaign), requestedFields(call.params)));
      if (call.method === 'DELETE') return this.updateStatus(campaign, 'DELETED');
      return this.updateCampaign(campaign, call.params);
    }
    const adObject = this.adObjects.get(call.node);
    if (adObject !== undefined) {
      if (call.method === 'GET')
        return ok(project(this.adObjectView(adObject), requestedFields(call.params)));
      const status = call.method === 'DELETE' ? 'DELETED' : call.params['status'];
      if (status !== undefined && !isCampaignStatus(status)) {
        return graphInvalidParameter('Param status must be one of {ACTIVE, PAUSED, DELETED, ARCHIVED}');
      }
      if (adObject.status === 'DELETED') return graphInvalidParameter('The object has been deleted.');
      if (isCampaignStatus(status)) adObject.status = status;
      for (const [key, value] of Object.entries(call.params)) {
        if (!['access_token', 'appsecret_proof', 'id', 'status'].includes(key)) adObject.fields[key] = value;
      }
      adObject.updatedTime = this.ctx.now();
      return ok({ success: true });
    }
    return undefined;
  }

  private updateCampaign(campaign: Campaign, params: Record<string, unknown>): RouteResult {
    const status = params['status'];
    if (status !== undefined && !isCampaignStatus(status)) {
      return graphInvalidParameter('Param status must be one of {ACTIVE, PAUSED, DELETED, ARCHIVED}');
    }
    const dailyBudget = readBudget(params, 'daily_budget');
    const lifetimeBudget = readBudget(params, 'lifetime_budget');
    if (dailyBudget === 'invalid')
      return graphInvalidParameter('Param daily_budget must be a positive integer');
    if (lifetimeBudget === 'invalid')
      return graphInvalidParameter('Param lifetime_budget must be a positive integer');
    if (campaign.status === 'DELETED') {
      return graphError(400, 100, '(#100) Cannot update a deleted campaign', {
        subcode: 1487056,
        userTitle: 'Campaign deleted',
        userMessage: 'This campaign has been deleted and cannot be edited.',
      });
    }
    if (
      campaign.status === 'ARCHIVED' &&
      status !== undefined &&
      status !== 'ARCHIVED' &&
      status !== 'DELETED'
    ) {
      return graphError(400, 100, '(#100) An archived campaign can only be deleted', {
        subcode: 1487057,
        userTitle: 'Campaign archived',
        userMessage: 'Archived campaigns can only be deleted.',
      });
    }
    const name = readNonEmptyString(params, 'name');
    if (name !== undefined) campaign.name = name;
    if (dailyBudget !== null) campaign.dailyBudget = dailyBudget;
    if (lifetimeBudget !== null) campaign.lifetimeBudget = lifetimeBudget;
    if (isCampaignStatus(status)) return this.updateStatus(campaign, status);
    campaign.updatedTime = this.ctx.now();
    return ok({ success: true });
  }

  private updateStatus(campaign: Campaign, status: CampaignStatus): RouteResult {
    if (campaign.status === 'DELETED' && status !== 'DELETED') {
      return graphError(400, 100, '(#100) Cannot update a deleted campaign', { subcode: 1487056 });
    }
    campaign.status = status;
    campaign.updatedTime = this.ctx.now();
    return ok({ success: true });
  }

  private campaignView(campaign: Campaign): Record<string, unknown> {
    const budget = campaign.lifetimeBudget ?? campaign.dailyBudget;
    const view: Record<string, unknown> = {
      id: campaign.id,
      account_id: campaign.accountId,
      name: campaign.name,
      objective: campaign.objective,
      status: campaign.status,
      configured_status: campaign.status,
      effective_status: campaign.status,
      buying_type: 'AUCTION',
      special_ad_categories: [...campaign.specialAdCategories],
      created_time: formatGraphTime(campaign.createdTime),
      updated_time: formatGraphTime(campaign.updatedTime),
      start_time: formatGraphTime(campaign.createdTime),
    };
    // Graph prints budgets as strings of minor units and leaves out the kind not in use.
    if (campaign.dailyBudget !== null) view['daily_budget'] = String(campaign.dailyBudget);
    if (campaign.lifetimeBudget !== null) view['lifetime_budget'] = String(campaign.lifetimeBudget);
    if (budget !== null) view['budget_remaining'] = String(Math.max(0, budget - campaign.spendCents));
    if (campaign.budgetSharing !== null) view['is_adset_budget_sharing_enabled'] = campaign.budgetSharing;
    return view;
  }

  private adObjectView(object: AdObject): Record<string, unknown> {
    return {
      ...object.fields,
      id: object.id,
      account_id: object.accountId,
      status: object.status,
      configured_status: object.status,
      effective_status: object.status,
      created_time: formatGraphTime(object.createdTime),
      updated_time: formatGraphTime(object.updatedTime),
    };
  }

  // ---- edges ----------------------------------------------------------------------------------

  private marketingEdge(call: GraphCall, edge: string, edgeUrl: string): RouteResult | undefined {
    const accountId = /^act_(\d+)$/.exec(call.node)?.[1];
    if (accountId !== undefined) {
      if (edge === 'campaigns') {
        if (call.method === 'POST') return this.createCampaign(accountId, call.params);
        if (call.method === 'GET') return this.listCampaigns(accountId, call.params, edgeUrl);
        return undefined;
      }
      const kind = AD_OBJECT_EDGES[edge];
      if (kind !== undefined) {
        if (call.method === 'POST') return this.createAdObject(kind, accountId, call.params);
        if (call.method === 'GET') {
          const items = [...this.adObjects.values()]
            .filter(
              (object) =>
                object.kind === kind && object.accountId === accountId && object.status !== 'DELETED',
            )
            .reverse()
            .map((object) =>
              project(this.adObjectView(object), requestedFields(call.params) ?? ['id', 'name']),
            );
          return ok(graphCursorPage(items, call.params, edgeUrl));
        }
        return undefined;
      }
      if (edge === 'insights' && call.method === 'GET') {
        const campaigns = [...this.campaigns.values()].filter((campaign) => campaign.accountId === accountId);
        const spend = campaigns.reduce((sum, campaign) => sum + campaign.spendCents, 0);
        const since = campaigns.reduce<Date>(
          (earliest, campaign) => (campaign.createdTime < earliest ? campaign.createdTime : earliest),
          this.ctx.now(),
        );
        return ok(
          this.insights(spend, since, call.params, { account_id: accountId, account_currency: 'BRL' }),
        );
      }
      return undefined;
    }
    const campaign = this.campaigns.get(call.node);
    if (campaign !== undefined && edge === 'insights' && call.method === 'GET') {
      return ok(
        this.insights(campaign.spendCents, campaign.createdTime, call.params, {
          account_id: campaign.accountId,
          account_currency: 'BRL',
          campaign_id: campaign.id,
          campaign_name: campaign.name,
          objective: campaign.objective,
        }),
      );
    }
    if (campaign === undefined && edge === 'insights' && !this.adObjects.has(call.node)) {
      return graphUnknownObject(call.method, call.node);
    }
    return undefined;
  }

  private createCampaign(accountId: string, params: Record<string, unknown>): RouteResult {
    const name = readNonEmptyString(params, 'name');
    if (name === undefined) return graphInvalidParameter('The parameter name is required');
    const objective = readNonEmptyString(params, 'objective');
    if (objective === undefined) return graphInvalidParameter('The parameter objective is required');
    if (!OBJECTIVES.includes(objective)) {
      return graphInvalidParameter(`Param objective must be one of {${OBJECTIVES.join(', ')}}`);
    }
    const status = params['status'] ?? 'ACTIVE';
    if (status !== 'ACTIVE' && status !== 'PAUSED') {
      return graphInvalidParameter('Param status must be one of {ACTIVE, PAUSED} when creating a campaign');
    }
    const categories = params['special_ad_categories'];
    if (categories === undefined)
      return graphInvalidParameter('The parameter special_ad_categories is required');
    if (!Array.isArray(categories) || categories.some((category) => typeof category !== 'string')) {
      return graphInvalidParameter('Param special_ad_categories must be an array of strings');
    }
    const dailyBudget = readBudget(params, 'daily_budget');
    const lifetimeBudget = readBudget(params, 'lifetime_budget');
    if (dailyBudget === 'invalid')
      return graphInvalidParameter('Param daily_budget must be a positive integer');
    if (lifetimeBudget === 'invalid')
      return graphInvalidParameter('Param lifetime_budget must be a positive integer');
    if (dailyBudget !== null && lifetimeBudget !== null) {
      return graphInvalidParameter('Only one of daily_budget or lifetime_budget can be set');
    }
    const budgetSharing = readBoolean(params, 'is_adset_budget_sharing_enabled') ?? null;
    if (dailyBudget === null && lifetimeBudget === null && budgetSharing === null) {
      // Since mid-2026 Graph refuses a campaign with neither a budget nor this flag.
      return graphError(
        400,
        100,
        '(#100) Must specify True or False in is_adset_budget_sharing_enabled field if you are not using campaign budget.',
        {
          subcode: 4834011,
          userTitle: 'Budget sharing setting required',
          userMessage:
            'Set is_adset_budget_sharing_enabled to true or false, or set a campaign budget (daily_budget or lifetime_budget).',
        },
      );
    }
    const now = this.ctx.now();
    const campaign: Campaign = {
      id: nextGraphObjectId(),
      accountId,
      name,
      objective,
      status,
      dailyBudget,
      lifetimeBudget,
      budgetSharing,
      specialAdCategories: categories.map(String),
      createdTime: now,
      updatedTime: now,
      spendCents: 0,
    };
    this.campaigns.set(campaign.id, campaign);
    return ok({ id: campaign.id });
  }

  private listCampaigns(accountId: string, params: Record<string, unknown>, edgeUrl: string): RouteResult {
    const filtering = parseFiltering(params['filtering']);
    if ('status' in filtering) return filtering;
    const effectiveStatus = params['effective_status'];
    const statusList = Array.isArray(effectiveStatus) ? effectiveStatus.map(String) : undefined;
    const fields = requestedFields(params) ?? ['id', 'name', 'status', 'objective'];
    const items = [...this.campaigns.values()]
      .filter((campaign) => campaign.accountId === accountId)
      // Graph leaves archived and deleted campaigns out unless asked for them by status.
      .filter((campaign) =>
        statusList !== undefined
          ? statusList.includes(campaign.status)
          : filtering.statusFiltered || (campaign.status !== 'DELETED' && campaign.status !== 'ARCHIVED'),
      )
      .filter((campaign) => filtering.filters.every((filter) => filter(campaign)))
      .reverse()
      .map((campaign) => project(this.campaignView(campaign), fields));
    return ok(graphCursorPage(items, params, edgeUrl));
  }

  private createAdObject(
    kind: AdObjectKind,
    accountId: string,
    params: Record<string, unknown>,
  ): RouteResult {
    if (kind !== 'adcreative' && readNonEmptyString(params, 'name') === undefined) {
      return graphInvalidParameter('The parameter name is required');
    }
    if (kind === 'adset') {
      const campaignId = readNonEmptyString(params, 'campaign_id');
      if (campaignId === undefined || !this.campaigns.has(campaignId)) {
        return graphInvalidParameter('Param campaign_id must be a valid campaign id');
      }
    }
    if (kind === 'ad') {
      const adsetId = readNonEmptyString(params, 'adset_id');
      if (adsetId === undefined || this.adObjects.get(adsetId)?.kind !== 'adset') {
        return graphInvalidParameter('Param adset_id must be a valid ad set id');
      }
    }
    const status = params['status'] ?? 'ACTIVE';
    if (status !== 'ACTIVE' && status !== 'PAUSED') {
      return graphInvalidParameter('Param status must be one of {ACTIVE, PAUSED}');
    }
    const fields: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(params)) {
      if (!['access_token', 'appsecret_proof', 'id', 'status'].includes(key)) fields[key] = value;
    }
    const now = this.ctx.now();
    const object: AdObject = {
      id: nextGraphObjectId(),
      kind,
      accountId,
      fields,
      status,
      createdTime: now,
      updatedTime: now,
    };
    this.adObjects.set(object.id, object);
    return ok({ id: object.id });
  }

  /** Insights: one row over the whole life of the object; no rows before any spend, as Graph answers. */
  private insights(
    spendCents: number,
    since: Date,
    params: Record<string, unknown>,
    identity: Record<string, string>,
  ): { data: Array<Record<string, unknown>>; paging: Record<string, unknown> } {
    if (spendCents <= 0) return { data: [], paging: {} };
    const fields = requestedFields(params) ?? ['spend'];
    const row: Record<string, unknown> = {};
    const available: Record<string, string> = {
      ...identity,
      spend: spendText(spendCents),
      // Plausible derived counts so dashboards have something to show.
      impressions: String(spendCents * 3),
      reach: String(spendCents * 2),
      clicks: String(Math.max(1, Math.floor(spendCents / 50))),
    };
    for (const field of fields) {
      if (field in available) row[field] = available[field];
    }
    row['date_start'] = formatGraphDay(since);
    row['date_stop'] = formatGraphDay(this.ctx.now());
    return { data: [row], paging: { cursors: { before: 'MAZDZD', after: 'MAZDZD' } } };
  }

  // ---- control --------------------------------------------------------------------------------

  addSpend(
    campaignId: string,
    amountCents: number,
  ): { id: string; spend: string; spendCents: number } | undefined {
    const campaign = this.campaigns.get(campaignId);
    if (campaign === undefined) return undefined;
    campaign.spendCents += amountCents;
    return { id: campaign.id, spend: spendText(campaign.spendCents), spendCents: campaign.spendCents };
  }

  getCampaignView(campaignId: string): Record<string, unknown> | undefined {
    const campaign = this.campaigns.get(campaignId);
    return campaign === undefined
      ? undefined
      : { ...this.campaignView(campaign), spend: spendText(campaign.spendCents) };
  }

  listCampaignViews(): Array<Record<string, unknown>> {
    return [...this.campaigns.values()]
      .reverse()
      .map((campaign) => ({ ...this.campaignView(campaign), spend: spendText(campaign.spendCents) }));
  }
}
