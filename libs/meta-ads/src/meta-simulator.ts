import { createHash } from 'node:crypto';
import { MetaAdsError } from './graph.errors';
import {
  CreateCampaignInput,
  FindCampaignByNameInput,
  MetaAdsApi,
  MetaCampaignRef,
  MetaCampaignStatus,
  MetaCampaignSummary,
  MetaLogger,
  MetaObjective,
  isMetaCampaignStatus,
  toAdAccountPath,
  toMetaObjective,
} from './meta-ads.api';

/** Every simulator log line carries this, so nobody mistakes simulated spend for real money (SPEC §8). */
export const SIMULATOR_LOG_FIELDS = Object.freeze({ metaMode: 'simulator' as const });

export interface MetaSimulatorOptions {
  /**
   * Spend added to an ACTIVE campaign each time its insights are read, capped at its lifetime
   * budget the way Meta stops delivery there. 0 keeps spend still unless addSpend is called.
   */
  spendStepCents?: number;
  logger?: MetaLogger;
}

export interface SimulatedCampaign {
  id: string;
  adAccountId: string;
  name: string;
  objective: MetaObjective;
  status: MetaCampaignStatus;
  lifetimeBudgetCents: number;
  spentCents: number;
  /** True when the campaign was not created by this instance (see `adopt`). */
  adopted: boolean;
}

type SimulatedMethod = keyof Omit<MetaAdsApi, 'mode'>;

export const DEFAULT_SIMULATOR_SPEND_STEP_CENTS = 500;

export class MetaSimulator implements MetaAdsApi {
  readonly mode = 'simulator' as const;

  private readonly campaigns = new Map<string, SimulatedCampaign>();
  private readonly injectedFailures: Array<{ method: SimulatedMethod; error: MetaAdsError }> = [];
  private readonly spendStepCents: number;
  private readonly logger?: MetaLogger;

  constructor(options: MetaSimulatorOptions = {}) {
    const step = options.spendStepCents ?? DEFAULT_SIMULATOR_SPEND_STEP_CENTS;
    if (!Number.isSafeInteger(step) || step < 0) {
      throw new RangeError(`spendStepCents must be a non-negative integer, got ${step}`);
    }
    this.spendStepCents = step;
    this.logger = options.logger;
  }

  createCampaign(input: CreateCampaignInput): Promise<MetaCampaignRef> {
    return this.run('createCampaign', () => this.create(input));
  }

  findCampaignByName(input: FindCampaignByNameInput): Promise<MetaCampaignSummary | null> {
    return this.run('findCampaignByName', () => this.findByName(input));
  }

  updateCampaignStatus(campaignId: string, status: MetaCampaignStatus): Promise<void> {
    return this.run('updateCampaignStatus', () => this.setStatus(campaignId, status));
  }

  getCampaignSpendCents(campaignId: string): Promise<number> {
    return this.run('getCampaignSpendCents', () => this.readSpend(campaignId));
  }

  private create(input: CreateCampaignInput): MetaCampaignRef {
    const adAccountId = toAdAccountPath(input.adAccountId);
    if (!Number.isSafeInteger(input.lifetimeBudgetCents) || input.lifetimeBudgetCents <= 0) {
      throw rejected('lifetime_budget must be a positive integer of minor units');
    }
    if (input.name.trim() === '') {
      throw rejected('name is required');
    }
    const id = this.nextId(adAccountId, input.name);
    const campaign: SimulatedCampaign = {
      id,
      adAccountId,
      name: input.name,
      objective: toMetaObjective(input.objective),
      status: input.status,
      lifetimeBudgetCents: input.lifetimeBudgetCents,
      spentCents: 0,
      adopted: false,
    };
    this.campaigns.set(id, campaign);
    this.log(
      'info',
      { operation: 'createCampaign', campaignId: id, name: input.name, status: input.status },
      'created',
    );
    return { id };
  }

  private findByName(input: FindCampaignByNameInput): MetaCampaignSummary | null {
    const adAccountId = toAdAccountPath(input.adAccountId);
    for (const campaign of this.campaigns.values()) {
      if (campaign.adAccountId === adAccountId && campaign.name === input.name) {
        return { id: campaign.id, status: campaign.status };
      }
    }
    return null;
  }

  private setStatus(campaignId: string, status: MetaCampaignStatus): void {
    if (!isMetaCampaignStatus(status)) {
      throw rejected(`Unknown campaign status ${JSON.stringify(status)}`);
    }
    const campaign = this.campaignOrAdopt(campaignId);
    // Graph refuses to touch a deleted object; keeping that here makes "stop twice" bugs visible in dev.
    if (campaign.status === 'DELETED' && status !== 'DELETED') {
      throw rejected(`Campaign ${campaignId} is deleted`);
    }
    const from = campaign.status;
    campaign.status = status;
    this.log('info', { operation: 'updateCampaignStatus', campaignId, from, status }, 'status updated');
  }

  private readSpend(campaignId: string): number {
    const campaign = this.campaignOrAdopt(campaignId);
    if (campaign.status === 'ACTIVE') {
      const room = Math.max(0, campaign.lifetimeBudgetCents - campaign.spentCents);
      campaign.spentCents += Math.min(this.spendStepCents, room);
    }
    this.log(
      'debug',
      { operation: 'getCampaignSpendCents', campaignId, spentCents: campaign.spentCents },
      'spend read',
    );
    return campaign.spentCents;
  }

  /** Adds spend outside the step, uncapped, to drive over-delivery and completion scenarios. */
  addSpend(campaignId: string, cents: number): void {
    if (!Number.isSafeInteger(cents) || cents < 0) {
      throw new RangeError(`addSpend needs a non-negative integer of cents, got ${cents}`);
    }
    const campaign = this.campaignOrAdopt(campaignId);
    campaign.spentCents += cents;
    this.log(
      'info',
      { operation: 'addSpend', campaignId, addedCents: cents, spentCents: campaign.spentCents },
      'spend added',
    );
  }

  /** Makes the next `times` calls of `method` fail with `error`, for testing the callers' error paths. */
  failNext(method: SimulatedMethod, error: MetaAdsError, times = 1): void {
    for (let i = 0; i < times; i += 1) {
      this.injectedFailures.push({ method, error });
    }
  }

  getCampaign(campaignId: string): Readonly<SimulatedCampaign> | undefined {
    const campaign = this.campaigns.get(campaignId);
    return campaign === undefined ? undefined : { ...campaign };
  }

  listCampaigns(): ReadonlyArray<Readonly<SimulatedCampaign>> {
    return [...this.campaigns.values()].map((campaign) => ({ ...campaign }));
  }

  reset(): void {
    this.campaigns.clear();
    this.injectedFailures.length = 0;
  }

  /**
   * Ids derive from account and name, not from a counter: the simulator forgets everything when
   * the worker restarts, and a counter would then hand a new order the id an old order still holds.
   * A second campaign with the same name (which Graph allows) gets a numbered suffix.
   */
  private nextId(adAccountId: string, name: string): string {
    const base = `sim_${createHash('sha256').update(`${adAccountId}\n${name}`).digest('hex').slice(0, 16)}`;
    let id = base;
    for (let n = 2; this.campaigns.has(id); n += 1) {
      id = `${base}_${n}`;
    }
    return id;
  }

  /**
   * A campaign id we do not know was created by an earlier process (the simulator lives in memory).
   * Refusing it the way Graph refuses unknown ids would strand every live order after a restart
   * in development, so it is adopted as an ACTIVE campaign with no budget cap and logged loudly.
   */
  private campaignOrAdopt(campaignId: string): SimulatedCampaign {
    const known = this.campaigns.get(campaignId);
    if (known !== undefined) {
      return known;
    }
    if (!/^[A-Za-z0-9_-]+$/.test(campaignId)) {
      throw rejected(`Malformed campaign id ${JSON.stringify(campaignId)}`);
    }
    const adopted: SimulatedCampaign = {
      id: campaignId,
      adAccountId: 'act_unknown',
      name: campaignId,
      objective: 'OUTCOME_TRAFFIC',
      status: 'ACTIVE',
      lifetimeBudgetCents: Number.MAX_SAFE_INTEGER,
      spentCents: 0,
      adopted: true,
    };
    this.campaigns.set(campaignId, adopted);
    this.log(
      'warn',
      { operation: 'adopt', campaignId },
      'unknown campaign id adopted (created before a restart?)',
    );
    return adopted;
  }

  /** Like an async method (failures reject, never throw synchronously) without a pointless await. */
  private run<T>(method: SimulatedMethod, work: () => T): Promise<T> {
    try {
      this.failIfInjected(method);
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private failIfInjected(method: SimulatedMethod): void {
    const index = this.injectedFailures.findIndex((failure) => failure.method === method);
    if (index === -1) {
      return;
    }
    const [failure] = this.injectedFailures.splice(index, 1);
    this.log('warn', { operation: method, injected: true, code: failure.error.code }, 'injected failure');
    throw failure.error;
  }

  private log(level: 'info' | 'warn' | 'debug', fields: Record<string, unknown>, message: string): void {
    const line = { ...SIMULATOR_LOG_FIELDS, ...fields };
    const text = `Meta simulator: ${message}`;
    switch (level) {
      case 'info':
        this.logger?.info(line, text);
        return;
      case 'warn':
        this.logger?.warn(line, text);
        return;
      case 'debug':
        this.logger?.debug?.(line, text);
        return;
      default:
        return assertUnreachable(level);
    }
  }
}

/** Shaped like Graph's own refusal (code 100, invalid parameter) so callers take the same path. */
function rejected(message: string): MetaAdsError {
  return new MetaAdsError('meta_rejected', `Meta simulator refused the call: ${message}`, {
    graph: {
      code: 100,
      subcode: null,
      fbtraceId: null,
      message,
      type: 'OAuthException',
      userMessage: null,
      httpStatus: 400,
    },
  });
}

function assertUnreachable(value: never): never {
  throw new Error(`Unhandled value: ${String(value)}`);
}
