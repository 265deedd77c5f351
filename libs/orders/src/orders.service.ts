import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { OrderActionRequested, OrderQueued, OrdersReevaluationRequested } from '@realapp/contracts';
import { isLedgerError, LedgerService } from '@realapp/ledger';
import { OutboxService } from '@realapp/messaging';
import { SubscriptionService } from '@realapp/payments';
import { decodeCursor, FieldError, Page, toPage, validationFailed, withCursorAt } from '@realapp/platform';
import { orderReferences } from './order-money';
import type { UserAction } from './order-state';
import { OrderStore } from './order-store';
import { OrderEntity } from './order.entity';
import { toOrderView } from './order-view';
import { OrdersError } from './orders.errors';
import { OrderMetrics } from './orders.metrics';
import type { CreateOrderInput, OrderTransitionRecord, OrderView, WaitingReason } from './orders.types';

/** Statuses in which a campaign may exist at Meta, so an action has something to carry out there. */
const META_FACING = new Set(['launching', 'active', 'paused']);

/**
 * The app's side of orders (SPEC §6): creation with its plan and money checks, reads, and the
 * customer's pause/resume/stop. Answers at once; the worker carries actions out at Meta.
 */
@Injectable()
export class OrdersService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly store: OrderStore,
    private readonly ledger: LedgerService,
    private readonly subscriptions: SubscriptionService,
    private readonly outbox: OutboxService,
    private readonly metrics: OrderMetrics,
  ) {}

  /**
   * One transaction: plan first (`missing_plan`), then the hold, which reads the wallet under its
   * row lock (so a concurrent order cannot spend the same money) and refuses what it does not
   * cover; then `queued` with `OrderQueued`, or `waiting_payment` with its reason.
   */
  async create(tenantId: string, input: CreateOrderInput): Promise<OrderView> {
    const schedule = checkSchedule(input, new Date());
    const problems = [...schedule.problems, ...checkTargeting(input)];
    if (problems.length) throw validationFailed(problems);

    const id = randomUUID();
    const now = new Date();
    const { view, transitions } = await this.dataSource.transaction(async (tx) => {
      const waitingReason = await this.fundingProblem(tx, tenantId, id, input.budgetCents);
      const order = Object.assign(new OrderEntity(), {
        id,
        tenantId,
        name: input.name,
        objective: input.objective,
        status: waitingReason === null ? 'queued' : 'waiting_payment',
        waitingReason,
        budgetCents: input.budgetCents,
        heldCents: waitingReason === null ? input.budgetCents : 0,
        spentCents: 0,
        currency: 'BRL',
        targeting: normaliseTargeting(input.targeting),
        creative: input.creative,
        startsAt: schedule.startsAt,
        endsAt: schedule.endsAt,
        campaignId: null,
        metaStatus: null,
        metaSyncError: null,
        failureReason: null,
        launchAttempts: 0,
        // When the launch was last asked for: the stale-launch sweep measures from here.
        launchStartedAt: waitingReason === null ? now : null,
        leaseOwner: null,
        leaseUntil: null,
        createdAt: now,
        updatedAt: now,
      } satisfies OrderEntity);
      const created = await this.store.insert(tx, order, waitingReason ?? 'budget_held');
      if (waitingReason === null)
        await this.outbox.enqueue(tx, OrderQueued, { tenantId, data: { orderId: id, tenantId } });
      return { view: toOrderView(order, [created.row]), transitions: [created.record] };
    });
    this.metrics.recordTransitions(transitions);
    return view;
  }

  async get(tenantId: string, id: string): Promise<OrderView> {
    const manager = this.dataSource.manager;
    const order = await this.store.findOwned(manager, tenantId, id);
    if (!order) throw OrdersError.notFound();
    const history = await this.store.histories(manager, [id]);
    return toOrderView(order, history.get(id) ?? []);
  }

  /** Newest first, keyset on (created_at, id). */
  async list(tenantId: string, limit: number, cursor?: string): Promise<Page<OrderView>> {
    const position = decodeCursor(cursor);
    const query = this.dataSource.manager
      .createQueryBuilder(OrderEntity, 'o')
      .where('o.tenant_id = :tenantId', { tenantId })
      .orderBy('o.created_at', 'DESC')
      .addOrderBy('o.id', 'DESC')
      .limit(limit + 1);
    if (position) {
      query.andWhere('(o.created_at, o.id) < (:at::timestamptz, :id::uuid)', {
        at: position.at,
        id: position.id,
      });
    }
    const rows = await withCursorAt(query, 'o.created_at');
    const history = await this.store.histories(
      this.dataSource.manager,
      rows.slice(0, limit).map(({ row }) => row.id),
    );
    return toPage(
      rows,
      limit,
      ({ row, cursorAt }) => ({ at: cursorAt, id: row.id }),
      ({ row }) => toOrderView(row, history.get(row.id) ?? []),
    );
  }

  /**
   * pause/resume/stop: the status changes now (it is what the customer wants the campaign to be)
   * and `OrderActionRequested` lets the worker make Meta match. A stop is terminal at once. Money
   * is released here only when no campaign can exist (a queued order: the launch starts by
   * leaving `queued` under this same row lock); otherwise the worker releases the unspent hold
   * after Meta confirmed the campaign is archived and the last spend was captured.
   */
  async requestAction(tenantId: string, id: string, action: UserAction): Promise<OrderView> {
    const { view, transitions } = await this.dataSource.transaction(async (tx) => {
      const order = await this.store.lockOwned(tx, tenantId, id);
      if (!order) throw OrdersError.notFound();
      const from = order.status;
      const records: OrderTransitionRecord[] = [];
      const releaseNow = action === 'stop' && from === 'queued' && order.heldCents > 0 ? order.heldCents : 0;
      records.push(
        await this.store.transition(tx, order, action, `customer_${action}`, {
          // A new wish from the customer deserves a new try at Meta, even after a refusal.
          metaSyncError: null,
          ...(action === 'stop' && from === 'waiting_payment' ? { waitingReason: null } : {}),
          ...(releaseNow > 0 ? { heldCents: 0 } : {}),
        }),
      );
      if (releaseNow > 0) {
        await this.ledger.releaseHold(tx, {
          tenantId,
          amountCents: releaseNow,
          reference: orderReferences.release(id),
          metadata: { orderId: id, reason: 'customer_stop' },
        });
        await this.outbox.enqueue(tx, OrdersReevaluationRequested, {
          tenantId,
          data: { tenantId, cause: 'hold_released', reference: orderReferences.release(id) },
        });
      }
      if (META_FACING.has(from)) {
        await this.outbox.enqueue(tx, OrderActionRequested, {
          tenantId,
          data: { orderId: id, tenantId, action },
        });
      }
      const history = await this.store.histories(tx, [id]);
      return { view: toOrderView(order, history.get(id) ?? []), transitions: records };
    });
    this.metrics.recordTransitions(transitions);
    return view;
  }

  /** null when the order can be funded now (and the hold is posted), else why it must wait. */
  private async fundingProblem(
    tx: EntityManager,
    tenantId: string,
    orderId: string,
    budgetCents: number,
  ): Promise<WaitingReason | null> {
    if (!(await this.subscriptions.hasActivePlan(tx, tenantId))) return 'missing_plan';
    try {
      // The hold is the balance check: it locks the wallet row until commit, refuses when
      // available < budget, and writes nothing then (not even a wallet for a tenant without one).
      await this.ledger.hold(tx, {
        tenantId,
        amountCents: budgetCents,
        reference: orderReferences.hold(orderId),
        metadata: { orderId },
      });
    } catch (error) {
      if (isLedgerError(error, 'insufficient_balance')) return 'insufficient_balance';
      throw error;
    }
    return null;
  }
}

interface Schedule {
  startsAt: Date | null;
  endsAt: Date | null;
  problems: FieldError[];
}

/** SPEC §13: endsAt after startsAt (after now when there is no start: an order cannot end in the past). */
export function checkSchedule(input: Pick<CreateOrderInput, 'startsAt' | 'endsAt'>, now: Date): Schedule {
  const startsAt = input.startsAt === undefined ? null : new Date(input.startsAt);
  const endsAt = input.endsAt === undefined ? null : new Date(input.endsAt);
  const problems: FieldError[] = [];
  if (endsAt && endsAt.getTime() <= (startsAt ?? now).getTime()) {
    problems.push({
      field: 'endsAt',
      message: startsAt ? 'endsAt must be after startsAt' : 'endsAt must be in the future',
    });
  }
  return { startsAt, endsAt, problems };
}

export function checkTargeting(input: Pick<CreateOrderInput, 'targeting'>): FieldError[] {
  return input.targeting.ageMax < input.targeting.ageMin
    ? [{ field: 'targeting.ageMax', message: 'ageMax must be greater than or equal to ageMin' }]
    : [];
}

function normaliseTargeting(targeting: CreateOrderInput['targeting']): CreateOrderInput['targeting'] {
  return {
    countries: targeting.countries.map((country) => country.toUpperCase()),
    ageMin: targeting.ageMin,
    ageMax: targeting.ageMax,
    ...(targeting.genders ? { genders: [...targeting.genders] } : {}),
  };
}
