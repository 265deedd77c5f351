import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  campaignNameForOrder,
  isMetaAdsError,
  META_ADS_API,
  MetaAdsApi,
  MetaAdsError,
  MetaCampaignStatus,
  MetaCampaignSummary,
} from '@realapp/meta-ads';
import {
  canApply,
  desiredMetaStatus,
  launchPending,
  metaSyncPending,
  OrderEntity,
  OrderLifecycleService,
  orderNeedsWorker,
  settlementPending,
} from '@realapp/orders';
import { ROOT_LOGGER } from '@realapp/platform';
import { CodexWorkerConfig } from '../config';

export type ReconcileOutcome = 'done' | 'busy' | 'missing';

/** Rounds one holder does before leaving the rest to the periodic sweep (no endless loops on a stuck order). */
const MAX_ROUNDS = 3;

/** A campaign found by name that a launch may adopt. */
const LAUNCHABLE: ReadonlySet<MetaCampaignStatus> = new Set(['ACTIVE', 'PAUSED']);

/** Meta statuses in which a campaign no longer delivers, so what it spent is final. */
const NOT_DELIVERING: ReadonlySet<MetaCampaignStatus> = new Set(['PAUSED', 'ARCHIVED', 'DELETED']);

/**
 * Makes Meta match what the order says, one order at a time under its lease: launches a queued
 * order (intent committed before the Graph call, campaign found by name after a crash), pushes
 * pause/resume/stop to Meta, and settles a finished order's money once Meta confirmed the campaign
 * stopped. Every step is idempotent, so events, retries and the periodic sweep may all call it.
 */
@Injectable()
export class CampaignReconciler {
  private readonly log: Logger;
  private readonly adAccountId: string;
  private readonly leaseSeconds: number;

  constructor(
    private readonly lifecycle: OrderLifecycleService,
    @Inject(META_ADS_API) private readonly meta: MetaAdsApi,
    config: CodexWorkerConfig,
    @Inject(ROOT_LOGGER) root: Logger,
  ) {
    // Every line says whether Meta is real or simulated (SPEC §8).
    this.log = root.child({ component: 'campaigns', metaMode: meta.mode });
    this.adAccountId = config.META_AD_ACCOUNT_ID;
    this.leaseSeconds = config.MVP_RUNNING_STALE_SECONDS;
  }

  /**
   * 'busy' means another worker holds the order; it re-reads the order when it lets go, so work
   * that arrived meanwhile is not lost and the caller may simply acknowledge its message.
   */
  async reconcile(orderId: string): Promise<ReconcileOutcome> {
    return this.underLease(orderId, (order) => this.work(order));
  }

  /** Insights for one campaign: capture new spend, and complete the order when the budget is used up. */
  async pollSpend(orderId: string): Promise<ReconcileOutcome> {
    return this.underLease(orderId, async (order) => {
      // Completion is possible exactly while a campaign may be delivering (active or paused).
      if (order.campaignId !== null && canApply(order.status, 'complete')) {
        await this.captureSpend(order, order.campaignId, 'insights');
      }
    });
  }

  /** Runs `first` under the order's lease, then whatever else the order needs, for a few rounds. */
  private async underLease(
    orderId: string,
    first: (order: OrderEntity) => Promise<void>,
  ): Promise<ReconcileOutcome> {
    for (let round = 1; round <= MAX_ROUNDS; round += 1) {
      const owner = randomUUID();
      const lease = await this.lifecycle.acquireLease(orderId, owner, this.leaseSeconds);
      if (lease.kind !== 'acquired') return round === 1 ? lease.kind : 'done';
      let after: OrderEntity | null;
      try {
        await (round === 1 ? first(lease.order) : this.work(lease.order));
      } finally {
        after = await this.lifecycle.releaseLease(orderId, owner);
      }
      // Work that arrived while we held the lease (its own message saw us busy) is done now.
      if (after === null || !orderNeedsWorker(after)) return 'done';
    }
    this.log.warn(
      { orderId },
      'order still has work after several rounds; the periodic sweep takes it from here',
    );
    return 'done';
  }

  private async work(order: OrderEntity): Promise<void> {
    if (launchPending(order.status)) {
      await this.launch(order);
      return;
    }
    let current: OrderEntity | null = order;
    if (settlementPending(current) && current.campaignId === null && current.launchAttempts > 0) {
      current = await this.adoptBeforeSettling(current);
    }
    if (current && metaSyncPending(current)) current = await this.syncStatus(current);
    if (current && settlementPending(current)) await this.settle(current);
  }

  // ---- launch ----------------------------------------------------------------------------------

  private async launch(queued: OrderEntity): Promise<void> {
    // Committed before Meta hears of the campaign: a crash after this point leaves `launching`
    // with an attempt count, and the next attempt looks the campaign up instead of creating it.
    const order = await this.lifecycle.beginLaunch(queued.id);
    if (!order || !canApply(order.status, 'launched')) return;
    const name = campaignNameForOrder(order.id);
    let campaign: MetaCampaignSummary;
    let how: 'created' | 'adopted' = 'created';
    try {
      const found =
        order.launchAttempts > 1
          ? await this.meta.findCampaignByName({ adAccountId: this.adAccountId, name })
          : null;
      // An archived or deleted namesake was closed by hand at Meta; it cannot run this order.
      if (found && LAUNCHABLE.has(found.status)) {
        campaign = found;
        how = 'adopted';
      } else {
        const created = await this.meta.createCampaign({
          adAccountId: this.adAccountId,
          name,
          objective: order.objective,
          status: 'ACTIVE',
          lifetimeBudgetCents: order.budgetCents,
        });
        campaign = { id: created.id, status: 'ACTIVE' };
      }
    } catch (error) {
      if (isPermanent(error)) {
        const reason = failureReason(error);
        await this.lifecycle.fail(order.id, reason);
        this.log.warn(
          { orderId: order.id, tenantId: order.tenantId, reason },
          'Meta refused the campaign; order failed and its hold released',
        );
        return;
      }
      this.log.warn(
        { orderId: order.id, attempt: order.launchAttempts, err: error },
        'campaign launch failed; retried later',
      );
      throw error;
    }

    const record = await this.lifecycle.recordCampaign(order.id, campaign.id, campaign.status, how);
    this.log.info(
      {
        orderId: order.id,
        tenantId: order.tenantId,
        campaignId: campaign.id,
        how,
        outcome: record?.kind,
        attempt: order.launchAttempts,
      },
      `campaign ${how} at Meta`,
    );
    if (record?.kind === 'duplicate') {
      // Only possible if two workers launched at once past an expired lease: the surplus must not spend.
      this.log.error(
        { orderId: order.id, surplusCampaignId: campaign.id, keptCampaignId: record.order.campaignId },
        'surplus campaign archived',
      );
      await this.meta.updateCampaignStatus(campaign.id, 'ARCHIVED');
    }
  }

  /** A finished order whose launch was interrupted may have a campaign at Meta that we never recorded. */
  private async adoptBeforeSettling(order: OrderEntity): Promise<OrderEntity | null> {
    const found = await this.meta.findCampaignByName({
      adAccountId: this.adAccountId,
      name: campaignNameForOrder(order.id),
    });
    if (!found) return order;
    this.log.info(
      { orderId: order.id, campaignId: found.id, status: order.status },
      'campaign of an interrupted launch found by name',
    );
    const record = await this.lifecycle.recordCampaign(order.id, found.id, found.status, 'adopted');
    return record?.order ?? null;
  }

  // ---- status at Meta --------------------------------------------------------------------------

  private async syncStatus(order: OrderEntity): Promise<OrderEntity | null> {
    const desired = desiredMetaStatus(order.status);
    const campaignId = order.campaignId;
    if (desired === null || campaignId === null) return order;
    try {
      await this.meta.updateCampaignStatus(campaignId, desired);
    } catch (error) {
      if (!isPermanent(error)) throw error;
      const reason = failureReason(error);
      this.log.error(
        { orderId: order.id, campaignId, desired, reason },
        'Meta refused the campaign status; left for ops',
      );
      return this.lifecycle.recordMetaSyncError(order.id, order.status, reason);
    }
    this.log.info(
      { orderId: order.id, campaignId, status: desired, orderStatus: order.status },
      'campaign status set at Meta',
    );
    return this.lifecycle.recordMetaStatus(order.id, campaignId, desired);
  }

  // ---- money -----------------------------------------------------------------------------------

  /** Returns the order after the capture, or null when Meta could not say (logged; tried again later). */
  private async captureSpend(
    order: OrderEntity,
    campaignId: string,
    why: string,
  ): Promise<OrderEntity | null> {
    let reported: number;
    try {
      reported = await this.meta.getCampaignSpendCents(campaignId);
    } catch (error) {
      if (!isPermanent(error)) throw error;
      this.log.warn(
        { orderId: order.id, campaignId, reason: failureReason(error) },
        'Meta refused the insights read',
      );
      return null;
    }
    const outcome = await this.lifecycle.captureSpend(order.id, reported);
    if (!outcome) return null;
    const { capture } = outcome;
    if (capture.captureCents > 0) {
      this.log.info(
        {
          orderId: order.id,
          campaignId,
          capturedCents: capture.captureCents,
          spentCents: capture.spentCents,
          why,
        },
        'spend captured',
      );
    }
    if (capture.overBudgetCents > 0) {
      this.log.warn(
        { orderId: order.id, campaignId, overBudgetCents: capture.overBudgetCents },
        'Meta reports spend beyond the budget held',
      );
    }
    if (capture.budgetUsedUp && canApply(outcome.order.status, 'complete')) {
      // Paused at Meta first: an order is only `completed` once its campaign has stopped spending.
      await this.meta.updateCampaignStatus(campaignId, 'PAUSED');
      const completed = await this.lifecycle.complete(order.id, campaignId);
      this.log.info(
        { orderId: order.id, campaignId, spentCents: capture.spentCents },
        'budget used up: campaign paused, order completed',
      );
      return completed;
    }
    return outcome.order;
  }

  /**
   * Gives back what a finished order still holds, after the last spend Meta reports for its
   * (no longer delivering) campaign was captured, so the release is exactly the unspent amount.
   */
  private async settle(order: OrderEntity): Promise<void> {
    const campaignId = order.campaignId;
    if (campaignId !== null) {
      if (order.metaStatus === null || !NOT_DELIVERING.has(order.metaStatus)) return;
      await this.captureSpend(order, campaignId, 'final');
    }
    const settled = await this.lifecycle.settle(order.id);
    this.log.info(
      { orderId: order.id, status: settled?.status, spentCents: settled?.spentCents },
      'unspent hold released',
    );
  }
}

function isPermanent(error: unknown): error is MetaAdsError {
  return isMetaAdsError(error) && !error.retryable;
}

function failureReason(error: MetaAdsError): string {
  return `${error.code}: ${error.graph?.userMessage ?? error.graph?.message ?? error.message}`.slice(0, 500);
}
