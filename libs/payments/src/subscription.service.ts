import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { OrdersReevaluationRequested, SubscriptionActivated } from '@realapp/contracts';
import { OutboxService } from '@realapp/messaging';
import { AppError, lockInTransaction, validationFailed } from '@realapp/platform';
import {
  BILLING_CURRENCY,
  BillingConfigView,
  BillingPlan,
  MIN_TOPUP_CENTS,
  RECOMMENDED_TOPUP_CENTS,
} from './billing-plans';
import { MercadoPagoClient } from './mercadopago/mercadopago.client';
import { MercadoPagoPreapproval } from './mercadopago/mercadopago.types';
import { isPaymentsError, PaymentsError } from './payments.errors';
import { defaultPayerEmail, joinUrl, PAYMENTS_OPTIONS, PaymentsModuleOptions } from './payments.options';
import {
  StoredSubscriptionStatus,
  SubscriptionCancelReason,
  SubscriptionEntity,
} from './persistence/subscription.entity';
import { SubscriptionRepository } from './persistence/subscription.repository';
import { toHttpError } from './provider-failure';
import * as SubscriptionState from './subscription-state';
import { mapMercadoPagoPreapprovalStatus, SubscriptionStatus } from './subscription-state';
import { isUuid } from './topup.service';

/** `GET /v1/billing/subscription` (SPEC §5) with what a plan change or a cancellation adds. */
export interface SubscriptionView {
  /** `none` when the tenant never subscribed. */
  status: SubscriptionStatus;
  planId: string | null;
  currentPeriodEnd: string | null;
  /** Cancelled, with the plan kept until `currentPeriodEnd`. */
  cancelAtPeriodEnd: boolean;
  /** A subscription waiting for the buyer's authorization beside the current one (a plan change). */
  pending: { id: string; planId: string; checkoutUrl: string | null } | null;
}

/** `POST /v1/billing/subscription`. */
export interface SubscribeResult {
  id: string;
  status: 'pending';
  planId: string;
  checkoutUrl: string;
}

export type SubscriptionApplyOutcome = 'applied' | 'unchanged' | 'stale' | 'not_found';

export interface SubscriptionApplyResult {
  outcome: SubscriptionApplyOutcome;
  subscriptionId: string | null;
  tenantId: string | null;
  previousStatus: SubscriptionStatus | null;
  status: SubscriptionStatus | null;
  steps: SubscriptionStatus[];
  /** Subscriptions this activation replaced (their pre-approvals are cancelled at Mercado Pago). */
  replacedSubscriptionIds: string[];
  detail?: string;
}

/** A pending subscription without a checkout URL younger than this is still being created. */
const CREATION_IN_FLIGHT_MS = 60_000;

/** Rows are never `none`: that is the answer for a tenant without rows. */
function stored(status: SubscriptionStatus): StoredSubscriptionStatus {
  if (status === 'none') throw new Error('a stored subscription cannot be none');
  return status;
}

const addMonths = (date: Date, months: number): Date => {
  const next = new Date(date.getTime());
  next.setUTCMonth(next.getUTCMonth() + months);
  return next;
};

/**
 * Plans through Mercado Pago pre-approvals (SPEC §5). A tenant has at most one current
 * (active/past_due) and one pending subscription: changing plan creates a pending one beside the
 * current, and only its authorization replaces the current one, so a plan is active at all times.
 */
@Injectable()
export class SubscriptionService {
  private readonly logger = new Logger(SubscriptionService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly subscriptions: SubscriptionRepository,
    private readonly outbox: OutboxService,
    private readonly mercadoPago: MercadoPagoClient,
    @Inject(PAYMENTS_OPTIONS) private readonly options: PaymentsModuleOptions,
  ) {}

  /** `GET /v1/billing/config`. */
  billingConfig(): BillingConfigView {
    return {
      currency: BILLING_CURRENCY,
      minTopupCents: MIN_TOPUP_CENTS,
      recommendedTopupCents: RECOMMENDED_TOPUP_CENTS,
      plans: this.options.plans.map((plan) => ({ ...plan })),
    };
  }

  plan(planId: string): BillingPlan | undefined {
    return this.options.plans.find((plan) => plan.id === planId);
  }

  async getCurrent(tenantId: string, now: Date = new Date()): Promise<SubscriptionView> {
    this.assertTenant(tenantId);
    return this.view(await this.subscriptions.listForTenant(tenantId), now);
  }

  /**
   * Whether the tenant may run orders now: an active subscription, or one cancelled at period end
   * whose paid period has not ended. Inside the caller's transaction (order creation).
   */
  hasActivePlan(tx: EntityManager, tenantId: string, now: Date = new Date()): Promise<boolean> {
    this.assertTenant(tenantId);
    return this.subscriptions.hasActivePlan(tx, tenantId, now);
  }

  /**
   * Starts a subscription to `planId`: a pending row (committed first), then a Mercado Pago
   * pre-approval for the plan's price whose `init_point` is the checkout URL. Asking again for the
   * plan already pending answers the same checkout; asking for another plan abandons that one.
   * Without `planId`, the default plan (MERCADO_PAGO_SUBSCRIPTION_PLAN_ID).
   */
  async subscribe(tenantId: string, planId?: string, payerEmail?: string): Promise<SubscribeResult> {
    this.assertTenant(tenantId);
    const plan = this.plan(planId ?? this.options.defaultPlanId);
    if (!plan) {
      throw validationFailed([
        {
          field: 'planId',
          message: `planId must be one of ${this.options.plans.map((p) => p.id).join(', ')}`,
        },
      ]);
    }
    const abandoned: string[] = [];
    const started = await this.dataSource.transaction(
      async (tx): Promise<{ existing: SubscriptionEntity } | { created: SubscriptionEntity }> => {
        await lockInTransaction(tx, `billing:subscription:${tenantId}`);
        const open = await this.subscriptions.lockOpen(tx, tenantId);
        const current = open.find((s) => s.status === 'active' || s.status === 'past_due') ?? null;
        const pending = open.find((s) => s.status === 'pending') ?? null;
        if (current && current.status === 'active' && current.planId === plan.id) {
          throw new AppError(
            'already_subscribed',
            409,
            `The tenant already has an active ${plan.id} subscription.`,
          );
        }
        if (pending && pending.planId === plan.id && pending.checkoutUrl) return { existing: pending };
        if (
          pending &&
          pending.planId === plan.id &&
          Date.now() - pending.createdAt.getTime() < CREATION_IN_FLIGHT_MS
        ) {
          // Another request is asking Mercado Pago for this very pre-approval right now.
          throw new AppError(
            'subscription_request_in_progress',
            409,
            'This subscription is being created; retry shortly.',
            {
              headers: { 'retry-after': '1' },
            },
          );
        }
        if (pending) {
          this.cancelRow(pending, 'abandoned');
          await this.subscriptions.save(tx, pending);
          if (pending.providerPreapprovalId) abandoned.push(pending.providerPreapprovalId);
        }
        const row = await this.subscriptions.insert(tx, {
          id: randomUUID(),
          tenantId,
          planId: plan.id,
          amountCents: plan.priceCents,
          currency: BILLING_CURRENCY,
          replacesSubscriptionId: current?.id ?? null,
          createdAt: new Date(),
        });
        return { created: row };
      },
    );
    if ('existing' in started) {
      return {
        id: started.existing.id,
        status: 'pending',
        planId: started.existing.planId,
        checkoutUrl: started.existing.checkoutUrl ?? '',
      };
    }
    await this.cancelAtProvider(abandoned);
    const row = started.created;

    let preapproval: MercadoPagoPreapproval;
    try {
      preapproval = await this.mercadoPago.createPreapproval({
        reason: `RealApp ${plan.name}`,
        externalReference: row.id,
        payerEmail: payerEmail ?? defaultPayerEmail(this.options, tenantId),
        backUrl: joinUrl(this.options.publicAppUrl, '/billing/subscription'),
        amountCents: plan.priceCents,
        frequency: 1,
        frequencyType: 'months',
        idempotencyKey: `realapp-subscription-${row.id}`,
      });
    } catch (error) {
      await this.closeFailedCreation(row.id, error);
      throw toHttpError(error);
    }
    if (!preapproval.initPoint) {
      await this.closeFailedCreation(
        row.id,
        new PaymentsError('provider_invalid_response', 'no init_point', { provider: 'mercadopago' }),
      );
      await this.cancelAtProvider([preapproval.id]);
      throw toHttpError(
        new PaymentsError('provider_invalid_response', 'The pre-approval has no init_point.', {
          provider: 'mercadopago',
        }),
      );
    }

    const attached = await this.dataSource.transaction(async (tx) => {
      const locked = await this.subscriptions.lockById(tx, row.id);
      if (!locked) throw new Error(`subscription ${row.id} vanished`);
      locked.providerPreapprovalId ??= preapproval.id;
      locked.checkoutUrl ??= preapproval.initPoint;
      locked.providerStatus ??= preapproval.status;
      locked.updatedAt = new Date();
      return this.subscriptions.save(tx, locked);
    });
    if (attached.status !== 'pending') {
      // Another request for a different plan overtook this one while Mercado Pago answered.
      await this.cancelAtProvider([preapproval.id]);
      throw new AppError('subscription_superseded', 409, 'A newer subscription request replaced this one.');
    }
    return {
      id: attached.id,
      status: 'pending',
      planId: attached.planId,
      checkoutUrl: attached.checkoutUrl ?? preapproval.initPoint,
    };
  }

  /**
   * Cancels at period end (owner/admin): the pre-approvals are cancelled at Mercado Pago first (so
   * no further charge happens), then the current subscription becomes `cancelled` keeping its plan
   * until `currentPeriodEnd`; a pending one is dropped. Repeating it answers the same view.
   */
  async cancel(tenantId: string, now: Date = new Date()): Promise<SubscriptionView> {
    this.assertTenant(tenantId);
    const rows = await this.subscriptions.listForTenant(tenantId);
    const open = rows.filter((s) => s.status !== 'cancelled');
    if (open.length === 0) {
      if (rows.length > 0) return this.view(rows, now);
      throw new AppError('no_subscription', 409, 'The tenant has no subscription to cancel.');
    }
    const preapprovalIds = open.map((s) => s.providerPreapprovalId).filter((id): id is string => id !== null);
    for (const id of preapprovalIds) await this.cancelPreapproval(id);

    await this.dataSource.transaction(async (tx) => {
      await lockInTransaction(tx, `billing:subscription:${tenantId}`);
      for (const row of await this.subscriptions.lockOpen(tx, tenantId)) {
        this.cancelRow(row, 'tenant_request');
        await this.subscriptions.save(tx, row);
      }
    });
    return this.getCurrent(tenantId, now);
  }

  /**
   * Applies a pre-approval as fetched from Mercado Pago. authorized → `active` (replacing the
   * tenant's previous subscription; outbox SubscriptionActivated and OrdersReevaluationRequested),
   * paused → `past_due`, cancelled → `cancelled` (a paid period is honoured to its end). A renewal
   * (authorized again with a later next payment date) extends `currentPeriodEnd`.
   */
  async applyPreapproval(preapproval: MercadoPagoPreapproval): Promise<SubscriptionApplyResult> {
    const replacedPreapprovals: string[] = [];
    const result = await this.dataSource.transaction(async (tx): Promise<SubscriptionApplyResult> => {
      // Tenant lock first, row lock second: the order subscribe() and cancel() take them in.
      const found = await this.findForPreapproval(tx, preapproval);
      if (!found) return this.notFoundResult(`no subscription for pre-approval ${preapproval.id}`);
      await lockInTransaction(tx, `billing:subscription:${found.tenantId}`);
      const row = await this.subscriptions.lockById(tx, found.id);
      if (!row) return this.notFoundResult(`no subscription for pre-approval ${preapproval.id}`);
      if (row.providerPreapprovalId !== null && row.providerPreapprovalId !== preapproval.id) {
        return this.notFoundResult(
          `subscription ${row.id} belongs to pre-approval ${row.providerPreapprovalId}`,
        );
      }
      row.providerPreapprovalId = preapproval.id;

      const result: SubscriptionApplyResult = {
        outcome: 'unchanged',
        subscriptionId: row.id,
        tenantId: row.tenantId,
        previousStatus: row.status,
        status: row.status,
        steps: [],
        replacedSubscriptionIds: [],
      };
      let touched = row.providerStatus !== preapproval.status || found.providerPreapprovalId === null;
      row.providerStatus = preapproval.status;
      const plan = SubscriptionState.planTransition(
        row.status,
        mapMercadoPagoPreapprovalStatus(preapproval.status),
      );
      if (plan.kind === 'stale') {
        this.logger.warn(
          { subscriptionId: row.id, from: plan.from, to: plan.to },
          'ignoring a stale pre-approval status',
        );
        // A pre-approval we consider over must not keep charging: cancel it at Mercado Pago too
        // (covers a failed after-commit cancellation and a checkout authorized after we dropped it).
        if (row.status === 'cancelled' && preapproval.status !== 'cancelled')
          replacedPreapprovals.push(preapproval.id);
        if (touched) await this.persist(tx, row);
        return { ...result, outcome: 'stale', detail: `stale ${plan.to} after ${plan.from}` };
      }
      for (const step of plan.kind === 'apply' ? plan.steps : []) {
        await this.applyStep(tx, row, step, preapproval, result, replacedPreapprovals);
        result.steps.push(step);
      }
      if (plan.kind === 'none' && row.status === 'active' && preapproval.nextPaymentDate) {
        // Renewal: Mercado Pago charged the next period and moved its next payment date.
        if (!row.currentPeriodEnd || preapproval.nextPaymentDate.getTime() > row.currentPeriodEnd.getTime()) {
          row.currentPeriodEnd = preapproval.nextPaymentDate;
          touched = true;
          result.outcome = 'applied';
        }
      }
      if (result.steps.length > 0) result.outcome = 'applied';
      result.status = row.status;
      if (touched || result.outcome === 'applied') await this.persist(tx, row);
      return result;
    });
    await this.cancelAtProvider(replacedPreapprovals);
    return result;
  }

  // ---- internals ----------------------------------------------------------------------------

  private async applyStep(
    tx: EntityManager,
    row: SubscriptionEntity,
    step: SubscriptionStatus,
    preapproval: MercadoPagoPreapproval,
    result: SubscriptionApplyResult,
    replacedPreapprovals: string[],
  ): Promise<void> {
    const now = new Date();
    switch (step) {
      case 'active': {
        // The new plan replaces the old one in the same transaction: never two current, never none.
        for (const other of await this.subscriptions.lockOpen(tx, row.tenantId)) {
          if (other.id === row.id || (other.status !== 'active' && other.status !== 'past_due')) continue;
          this.cancelRow(other, 'replaced');
          other.cancelAtPeriodEnd = false;
          await this.persist(tx, other);
          result.replacedSubscriptionIds.push(other.id);
          if (other.providerPreapprovalId) replacedPreapprovals.push(other.providerPreapprovalId);
        }
        row.activatedAt ??= now;
        const periodEnd =
          preapproval.nextPaymentDate && preapproval.nextPaymentDate.getTime() > now.getTime()
            ? preapproval.nextPaymentDate
            : addMonths(now, 1);
        if (!row.currentPeriodEnd || periodEnd.getTime() > row.currentPeriodEnd.getTime())
          row.currentPeriodEnd = periodEnd;
        row.status = stored(SubscriptionState.transition(row.status, 'active'));
        // Flushed before the events so the partial unique index sees the old row cancelled first.
        await this.persist(tx, row);
        await this.outbox.enqueue(tx, SubscriptionActivated, {
          tenantId: row.tenantId,
          data: { tenantId: row.tenantId, subscriptionId: row.id, planId: row.planId },
        });
        await this.outbox.enqueue(tx, OrdersReevaluationRequested, {
          tenantId: row.tenantId,
          data: {
            tenantId: row.tenantId,
            cause: 'subscription_activated',
            reference: `subscription:${row.id}`,
          },
        });
        return;
      }
      case 'past_due':
        row.status = stored(SubscriptionState.transition(row.status, 'past_due'));
        return;
      case 'cancelled':
        this.cancelRow(row, 'provider');
        return;
      case 'none':
      case 'pending':
        // planTransition never starts a subscription (see subscription-state.ts).
        throw new Error(`unexpected subscription step ${step}`);
    }
  }

  /** Cancelling a paid (active/past_due) subscription keeps its plan until the period ends. */
  private cancelRow(row: SubscriptionEntity, reason: SubscriptionCancelReason): void {
    const wasCurrent = row.status === 'active' || row.status === 'past_due';
    row.status = stored(SubscriptionState.transition(row.status, 'cancelled'));
    row.cancelReason = reason;
    row.cancelledAt = new Date();
    row.cancelAtPeriodEnd = wasCurrent && row.currentPeriodEnd !== null;
  }

  private async persist(tx: EntityManager, row: SubscriptionEntity): Promise<void> {
    row.updatedAt = new Date();
    await this.subscriptions.save(tx, row);
  }

  private view(rows: SubscriptionEntity[], now: Date): SubscriptionView {
    const current = rows.find((s) => s.status === 'active' || s.status === 'past_due');
    const pending = rows.find((s) => s.status === 'pending') ?? null;
    const cancelled =
      rows.find(
        (s) =>
          s.status === 'cancelled' &&
          s.cancelAtPeriodEnd &&
          (s.currentPeriodEnd?.getTime() ?? 0) > now.getTime(),
      ) ?? rows.find((s) => s.status === 'cancelled');
    const shown = current ?? pending ?? cancelled;
    if (!shown)
      return {
        status: 'none',
        planId: null,
        currentPeriodEnd: null,
        cancelAtPeriodEnd: false,
        pending: null,
      };
    return {
      status: shown.status,
      planId: shown.planId,
      currentPeriodEnd: shown.currentPeriodEnd?.toISOString() ?? null,
      cancelAtPeriodEnd: shown.status === 'cancelled' && shown.cancelAtPeriodEnd,
      pending: pending ? { id: pending.id, planId: pending.planId, checkoutUrl: pending.checkoutUrl } : null,
    };
  }

  /** Cancels a pre-approval at Mercado Pago unless it already is; failures reach the caller. */
  private async cancelPreapproval(preapprovalId: string): Promise<void> {
    try {
      const current = await this.mercadoPago.getPreapproval(preapprovalId);
      if (current.status !== 'cancelled')
        await this.mercadoPago.updatePreapproval(preapprovalId, { status: 'cancelled' });
    } catch (error) {
      if (isPaymentsError(error, 'provider_not_found')) return;
      throw toHttpError(error);
    }
  }

  /** After commit, for pre-approvals nobody will use again; a failure is logged for ops, not thrown. */
  private async cancelAtProvider(preapprovalIds: string[]): Promise<void> {
    for (const id of preapprovalIds) {
      try {
        await this.cancelPreapproval(id);
      } catch (error) {
        this.logger.error(
          { preapprovalId: id, err: error },
          'could not cancel a superseded pre-approval at Mercado Pago; cancel it by hand',
        );
      }
    }
  }

  private async closeFailedCreation(subscriptionId: string, error: unknown): Promise<void> {
    const code = isPaymentsError(error) ? error.code : 'internal_error';
    this.logger.warn({ subscriptionId, code, err: error }, 'creating the pre-approval failed');
    try {
      await this.dataSource.transaction(async (tx) => {
        const row = await this.subscriptions.lockById(tx, subscriptionId);
        if (!row || row.status !== 'pending') return;
        this.cancelRow(row, 'provider_error');
        row.failureCode = code;
        await this.persist(tx, row);
      });
    } catch (recordError) {
      this.logger.error({ subscriptionId, err: recordError }, 'could not close the failed subscription');
    }
  }

  /** The subscription a pre-approval belongs to: by its id, else by `external_reference` (crash before attach). */
  private async findForPreapproval(
    tx: EntityManager,
    preapproval: MercadoPagoPreapproval,
  ): Promise<SubscriptionEntity | null> {
    const byId = await this.subscriptions.findByPreapproval(tx, preapproval.id);
    if (byId) return byId;
    if (!isUuid(preapproval.externalReference)) return null;
    const byReference = await this.subscriptions.findById(tx, preapproval.externalReference);
    return byReference &&
      (byReference.providerPreapprovalId === null || byReference.providerPreapprovalId === preapproval.id)
      ? byReference
      : null;
  }

  private notFoundResult(detail: string): SubscriptionApplyResult {
    return {
      outcome: 'not_found',
      subscriptionId: null,
      tenantId: null,
      previousStatus: null,
      status: null,
      steps: [],
      replacedSubscriptionIds: [],
      detail,
    };
  }

  private assertTenant(tenantId: string): void {
    if (!isUuid(tenantId)) throw new AppError('invalid_tenant', 400, 'The tenant id is not a UUID.');
  }
}
