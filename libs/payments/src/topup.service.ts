import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { BalanceNegative } from '@realapp/contracts';
import { CreditInput, LedgerEntry, LedgerPosting, LedgerService } from '@realapp/ledger';
import { OutboxService } from '@realapp/messaging';
import { AppError, decodeCursor, notFound, Page, toPage, validationFailed } from '@realapp/platform';
import { BILLING_CURRENCY, MAX_TOPUP_CENTS, MIN_TOPUP_CENTS } from './billing-plans';
import { AppliedCredit, CreditEffects } from './credit-follow-up';
import { MercadoPagoClient } from './mercadopago/mercadopago.client';
import { MercadoPagoPayment } from './mercadopago/mercadopago.types';
import { isPaymentsError, PaymentsError } from './payments.errors';
import {
  DEFAULT_PIX_EXPIRES_IN_MINUTES,
  defaultPayerEmail,
  joinUrl,
  PAYMENTS_OPTIONS,
  PaymentsModuleOptions,
} from './payments.options';
import { PixData, TopupEntity } from './persistence/topup.entity';
import { TopupRepository } from './persistence/topup.repository';
import { toHttpError } from './provider-failure';
import { StripeGateway } from './stripe/stripe.gateway';
import { StripeCheckoutSession } from './stripe/stripe.types';
import * as TopupState from './topup-state';
import {
  mapMercadoPagoPaymentStatus,
  mapStripeCheckoutSessionStatus,
  mapStripeEvent,
  StripeTopupEventType,
  TopupStatus,
} from './topup-state';
import { PendingTopup, toPendingTopup, toTopupView, TopupView } from './topup.view';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Stripe's own default lifetime of a Checkout Session. */
const CHECKOUT_LIFETIME_MS = 24 * 60 * 60 * 1000;

export const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID.test(value);

/** The Stripe events that carry a Checkout Session (refunds and disputes have their own methods). */
export type StripeCheckoutEventType = Extract<StripeTopupEventType, `checkout.session.${string}`>;

/**
 * - `applied`: the status moved and/or the ledger changed;
 * - `unchanged`: the top-up already reflected what the provider says (a duplicate or a no-op);
 * - `stale`: the provider reports a status behind or beside ours (out-of-order delivery): ignored;
 * - `not_found`: no top-up matches (not ours, or its row is gone);
 * - `mismatch`: a top-up matches but the provider's object disagrees with it (amount, tenant or
 *   another payment id): nothing applied, for a human to look at.
 */
export type TopupApplyOutcome = 'applied' | 'unchanged' | 'stale' | 'not_found' | 'mismatch';

export interface TopupApplyResult {
  outcome: TopupApplyOutcome;
  topupId: string | null;
  tenantId: string | null;
  previousStatus: TopupStatus | null;
  status: TopupStatus | null;
  /** The statuses walked, in order: ['approved', 'refunded'] when a refund arrives before the approval. */
  steps: TopupStatus[];
  /** Ledger entries this call appended. */
  entries: LedgerEntry[];
  /** A debit of this call left the balance below zero (a BalanceNegative event was enqueued). */
  balanceNegative: boolean;
  detail?: string;
}

/**
 * Runs in an apply's transaction after its effect, before the commit, with what it came to: a
 * consumer records its inbox and outcome there, so effect and record commit together or not at all.
 */
export type WithinApply = (tx: EntityManager, result: TopupApplyResult) => Promise<void>;

export interface StripeRefundInput {
  /** From the PaymentIntent/Charge metadata (`topupId`); preferred. */
  topupId?: string | null;
  paymentIntentId?: string | null;
  /** The charge's cumulative `amount_refunded`, in cents. */
  amountRefundedCents: number;
  chargeId?: string | null;
}

export interface StripeDisputeInput {
  topupId?: string | null;
  paymentIntentId?: string | null;
  /** The disputed amount, in cents. */
  amountCents: number;
  disputeId?: string | null;
}

/** What a provider says about a top-up, normalised. */
interface Observation {
  target: TopupStatus | null;
  referencePrefix: string;
  providerStatus?: string | null;
  providerStatusDetail?: string | null;
  /** Cumulative refunds the provider reports (partial refunds leave the status approved). */
  refundedTotalCents?: number;
  chargebackCents?: number;
  metadata: Record<string, unknown>;
}

/** Validates a top-up amount (SPEC §13): 400 outside 1..100000000, 422 under the minimum. */
export function assertTopupAmount(amountCents: unknown): asserts amountCents is number {
  if (
    typeof amountCents !== 'number' ||
    !Number.isSafeInteger(amountCents) ||
    amountCents < 1 ||
    amountCents > MAX_TOPUP_CENTS
  ) {
    throw validationFailed([
      { field: 'amountCents', message: `amountCents must be an integer between 1 and ${MAX_TOPUP_CENTS}` },
    ]);
  }
  if (amountCents < MIN_TOPUP_CENTS) {
    throw new AppError('amount_below_minimum', 422, `The minimum top-up is ${MIN_TOPUP_CENTS} cents.`, {
      minTopupCents: MIN_TOPUP_CENTS,
    });
  }
}

function pixFrom(payment: MercadoPagoPayment, fallbackExpiry: Date | null): PixData | null {
  if (!payment.qrCode) return null;
  return {
    copyPasteCode: payment.qrCode,
    qrCodeBase64: payment.qrCodeBase64,
    expiresAt: (payment.dateOfExpiration ?? fallbackExpiry)?.toISOString() ?? null,
  };
}

function mercadoPagoObservation(payment: MercadoPagoPayment): Observation {
  return {
    target: mapMercadoPagoPaymentStatus(payment.status, payment.statusDetail),
    referencePrefix: `mercadopago:${payment.id}`,
    providerStatus: payment.status,
    providerStatusDetail: payment.statusDetail,
    refundedTotalCents: payment.transactionAmountRefundedCents,
    metadata: { provider: 'mercadopago', paymentId: payment.id },
  };
}

/** Copies the provider's status words onto the row; true when they changed. */
function observeProviderStatus(row: TopupEntity, observation: Observation): boolean {
  let touched = false;
  if (observation.providerStatus !== undefined && observation.providerStatus !== row.providerStatus) {
    row.providerStatus = observation.providerStatus;
    touched = true;
  }
  if (
    observation.providerStatusDetail !== undefined &&
    observation.providerStatusDetail !== row.providerStatusDetail
  ) {
    row.providerStatusDetail = observation.providerStatusDetail;
    touched = true;
  }
  return touched;
}

function isPlainApproval(plan: ReturnType<typeof TopupState.planTransition>): boolean {
  return plan.kind === 'apply' && plan.steps.length === 1 && plan.steps[0] === 'approved';
}

/** The ledger credit of an approved top-up: its reference makes a second credit of the same payment impossible. */
function approvalCredit(row: TopupEntity, observation: Observation): CreditInput {
  return {
    tenantId: row.tenantId,
    kind: 'topup',
    amountCents: row.amountCents,
    reference: `${observation.referencePrefix}:topup`,
    metadata: { topupId: row.id, ...observation.metadata },
  };
}

/** What the follow-up of a credit needs to know of it: the ledger credit and who paid it. */
function appliedCredit(row: TopupEntity, credit: CreditInput): AppliedCredit {
  const { tenantId, amountCents, reference } = credit;
  return { tenantId, amountCents, reference, provider: row.provider };
}

const stripePrefix = (row: TopupEntity): string => `stripe:${row.providerSessionId ?? row.id}`;

/**
 * Wallet top-ups through Mercado Pago (PIX) and Stripe Checkout (card), and the application API
 * that applies what the providers report (SPEC §5). Every `apply…` method runs in one transaction,
 * locks the top-up row, walks the state machine towards the provider's current status and posts
 * to the ledger with references unique per provider object: applying the same report twice, or
 * twenty times at once, has the effect of applying it once.
 */
@Injectable()
export class TopupService {
  private readonly logger = new Logger(TopupService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly topups: TopupRepository,
    private readonly ledger: LedgerService,
    private readonly outbox: OutboxService,
    private readonly mercadoPago: MercadoPagoClient,
    private readonly stripe: StripeGateway,
    @Inject(PAYMENTS_OPTIONS) private readonly options: PaymentsModuleOptions,
    private readonly creditEffects: CreditEffects,
  ) {}

  // ---- creating top-ups ----------------------------------------------------------------------

  /**
   * A PIX top-up. The row is committed (pending) before Mercado Pago is called, so a crash after
   * the provider created the payment still leaves a row the reconciliation finds (by
   * `external_reference` = top-up id); the provider call carries an idempotency key derived from
   * the top-up id, so its retries never create a second payment.
   */
  async createPix(tenantId: string, amountCents: number, payerEmail?: string): Promise<TopupView> {
    this.assertTenant(tenantId);
    assertTopupAmount(amountCents);
    const now = new Date();
    const expiresAt = new Date(
      now.getTime() + (this.options.pixExpiresInMinutes ?? DEFAULT_PIX_EXPIRES_IN_MINUTES) * 60_000,
    );
    const row = await this.dataSource.transaction((tx) =>
      this.topups.insert(tx, {
        id: randomUUID(),
        tenantId,
        provider: 'mercadopago',
        amountCents,
        currency: BILLING_CURRENCY,
        expiresAt,
        createdAt: now,
      }),
    );

    let payment: MercadoPagoPayment;
    try {
      payment = await this.mercadoPago.createPixPayment({
        amountCents,
        description: 'RealApp - saldo de tráfego',
        payerEmail: payerEmail ?? defaultPayerEmail(this.options, tenantId),
        externalReference: row.id,
        ...(this.options.publicWebhookBaseUrl
          ? { notificationUrl: joinUrl(this.options.publicWebhookBaseUrl, '/v1/webhooks/mercadopago') }
          : {}),
        expiresAt,
        idempotencyKey: `realapp-topup-${row.id}`,
      });
    } catch (error) {
      await this.recordCreationFailure(row.id, error);
      throw toHttpError(error);
    }

    const saved = await this.dataSource.transaction(async (tx) => {
      const locked = await this.lockExisting(tx, row.id);
      if (locked.providerPaymentId !== null && locked.providerPaymentId !== payment.id) {
        throw new Error(
          `top-up ${row.id} is already bound to payment ${locked.providerPaymentId}, not ${payment.id}`,
        );
      }
      locked.providerPaymentId = payment.id;
      locked.pix ??= pixFrom(payment, expiresAt);
      locked.expiresAt = payment.dateOfExpiration ?? locked.expiresAt;
      locked.providerStatus ??= payment.status;
      locked.providerStatusDetail ??= payment.statusDetail;
      locked.updatedAt = new Date();
      return this.topups.save(tx, locked);
    });
    if (!saved.pix) {
      this.logger.error(
        { topupId: saved.id, paymentId: payment.id },
        'Mercado Pago created a PIX payment without a QR code',
      );
      throw toHttpError(
        new PaymentsError('provider_invalid_response', 'The PIX payment has no QR code.', {
          provider: 'mercadopago',
        }),
      );
    }
    return toTopupView(saved);
  }

  /** A card top-up through a Stripe Checkout Session; same row-first pattern as PIX. */
  async createCheckout(tenantId: string, amountCents: number): Promise<TopupView> {
    this.assertTenant(tenantId);
    assertTopupAmount(amountCents);
    const now = new Date();
    const row = await this.dataSource.transaction((tx) =>
      this.topups.insert(tx, {
        id: randomUUID(),
        tenantId,
        provider: 'stripe',
        amountCents,
        currency: BILLING_CURRENCY,
        expiresAt: new Date(now.getTime() + CHECKOUT_LIFETIME_MS),
        createdAt: now,
      }),
    );

    let session: StripeCheckoutSession;
    try {
      session = await this.stripe.createTopupCheckoutSession({
        topupId: row.id,
        tenantId,
        amountCents,
        currency: BILLING_CURRENCY.toLowerCase(),
        successUrl: joinUrl(this.options.publicAppUrl, `/billing/topups/${row.id}?checkout=success`),
        cancelUrl: joinUrl(this.options.publicAppUrl, `/billing/topups/${row.id}?checkout=cancelled`),
        idempotencyKey: `realapp-topup-${row.id}`,
      });
    } catch (error) {
      await this.recordCreationFailure(row.id, error);
      throw toHttpError(error);
    }

    const saved = await this.dataSource.transaction(async (tx) => {
      const locked = await this.lockExisting(tx, row.id);
      if (locked.providerSessionId !== null && locked.providerSessionId !== session.id) {
        throw new Error(
          `top-up ${row.id} is already bound to session ${locked.providerSessionId}, not ${session.id}`,
        );
      }
      locked.providerSessionId = session.id;
      locked.providerPaymentIntentId ??= session.paymentIntentId;
      locked.checkoutUrl ??= session.url;
      locked.providerStatus ??= session.status;
      locked.providerStatusDetail ??= session.paymentStatus;
      locked.updatedAt = new Date();
      return this.topups.save(tx, locked);
    });
    if (!saved.checkoutUrl) {
      this.logger.error(
        { topupId: saved.id, sessionId: session.id },
        'Stripe created a Checkout Session without a URL',
      );
      throw toHttpError(
        new PaymentsError('provider_invalid_response', 'The Checkout Session has no URL.', {
          provider: 'stripe',
        }),
      );
    }
    return toTopupView(saved);
  }

  // ---- reading ------------------------------------------------------------------------------

  /** The tenant's top-up; another tenant's id, or a malformed one, is simply not found (404). */
  async get(tenantId: string, topupId: string): Promise<TopupView> {
    if (!isUuid(topupId) || !isUuid(tenantId)) throw notFound('top-up');
    const row = await this.topups.findForTenant(tenantId, topupId);
    if (!row) throw notFound('top-up');
    return toTopupView(row);
  }

  async list(tenantId: string, page: { limit: number; cursor?: string }): Promise<Page<TopupView>> {
    this.assertTenant(tenantId);
    const after = decodeCursor(page.cursor);
    const rows = await this.topups.pageForTenant(tenantId, page.limit, after);
    return toPage(
      rows,
      page.limit,
      ({ row, cursorAt }) => ({ at: cursorAt, id: row.id }),
      ({ row }) => toTopupView(row),
    );
  }

  // ---- the application API (webhooks, reconciliation) ------------------------------------------

  /**
   * Applies a Mercado Pago payment as fetched from Mercado Pago (never as claimed by a
   * notification). approved → `topup` credit `mercadopago:<id>:topup`; refunded → `refund` debit
   * `mercadopago:<id>:refund` (credit first if it never happened); partial refunds → debit of the
   * difference `…:refund:<total>`; charged_back → `chargeback` debit; rejected/cancelled/expired →
   * closed. `within` runs in the same transaction, before its commit.
   */
  async applyMercadoPagoPayment(
    payment: MercadoPagoPayment,
    within?: WithinApply,
  ): Promise<TopupApplyResult> {
    return this.dataSource.transaction(async (tx) => {
      const result = await this.mercadoPagoPaymentIn(tx, payment);
      if (within) await within(tx, result);
      return result;
    });
  }

  private async mercadoPagoPaymentIn(
    tx: EntityManager,
    payment: MercadoPagoPayment,
  ): Promise<TopupApplyResult> {
    let row = await this.topups.lockByProviderPayment(tx, 'mercadopago', payment.id);
    if (!row && isUuid(payment.externalReference)) {
      // The row was committed but the provider's answer never attached (crash or timeout).
      const byReference = await this.topups.lockById(tx, payment.externalReference, 'mercadopago');
      if (
        byReference &&
        byReference.providerPaymentId !== null &&
        byReference.providerPaymentId !== payment.id
      ) {
        return this.mismatch(
          byReference,
          `the top-up belongs to payment ${byReference.providerPaymentId}, not ${payment.id}`,
        );
      }
      if (byReference) byReference.providerPaymentId = payment.id;
      row = byReference;
    }
    if (!row) return this.notFoundResult(`no top-up for Mercado Pago payment ${payment.id}`);
    if (payment.amountCents !== row.amountCents) {
      return this.mismatch(
        row,
        `payment ${payment.id} is for ${payment.amountCents} cents, the top-up for ${row.amountCents}`,
      );
    }
    row.pix ??= pixFrom(payment, row.expiresAt);
    return this.applyObservation(tx, row, mercadoPagoObservation(payment));
  }

  /**
   * The common case of a busy PIX day, many at once: approved Mercado Pago payments of pending
   * top-ups, applied in the caller's transaction in a fixed number of statements (top-ups locked
   * together, one ledger batch, the top-ups written together, waiting orders probed once) where
   * one by one each takes its own. Only payments the one-by-one path would simply credit are
   * taken: an answer of null says "not this one, apply it on its own" (no top-up, another status, an amount
   * that does not match, refunds, a second notification of the same payment). What is taken ends
   * exactly as `applyMercadoPagoPayment` would leave it. Throws when the ledger refuses the batch
   * (a reference posted before): roll back and apply one by one.
   */
  async approveMercadoPagoPayments(
    tx: EntityManager,
    items: ReadonlyArray<{ payment: MercadoPagoPayment; causationId: string; correlationId: string }>,
  ): Promise<Array<TopupApplyResult | null>> {
    const locked = await this.topups.lockManyByProviderPayment(tx, 'mercadopago', [
      ...new Set(items.map((item) => item.payment.id)),
    ]);
    const taken = new Set<string>();
    const approvals: Array<{ index: number; row: TopupEntity; observation: Observation }> = [];
    for (const [index, { payment }] of items.entries()) {
      const row = locked.get(payment.id);
      const observation = mercadoPagoObservation(payment);
      if (
        !row ||
        taken.has(payment.id) ||
        payment.amountCents !== row.amountCents ||
        (payment.transactionAmountRefundedCents ?? 0) !== 0 ||
        !isPlainApproval(TopupState.planTransition(row.status, observation.target))
      ) {
        continue;
      }
      taken.add(payment.id);
      row.pix ??= pixFrom(payment, row.expiresAt);
      approvals.push({ index, row, observation });
    }
    const results: Array<TopupApplyResult | null> = items.map(() => null);
    if (approvals.length === 0) return results;

    const credits = approvals.map(({ row, observation }) => approvalCredit(row, observation));
    const postings = await this.ledger.creditMany(tx, credits);
    const now = new Date();
    const applied = approvals.map(({ index, row, observation }, i): AppliedCredit => {
      const result = this.baseResult(row);
      observeProviderStatus(row, observation);
      row.approvedAt = now;
      row.status = TopupState.transition(row.status, 'approved');
      row.updatedAt = now;
      result.steps.push('approved');
      result.entries.push(postings[i].entry);
      result.status = row.status;
      result.outcome = 'applied';
      results[index] = result;
      const { causationId, correlationId } = items[index];
      return { ...appliedCredit(row, credits[i]), causationId, correlationId };
    });
    await this.creditEffects.credited(tx, applied);
    await this.topups.saveMany(
      tx,
      approvals.map(({ row }) => row),
    );
    return results;
  }

  /**
   * Applies a Stripe Checkout Session (from `checkout.session.*` events or a reconciliation
   * lookup). Credits only when `payment_status` is `paid` (reference `stripe:<sessionId>:topup`).
   * Pass the event type for `async_payment_failed` and `expired`, whose session alone is ambiguous.
   */
  async applyStripeCheckoutSession(
    session: StripeCheckoutSession,
    eventType?: StripeCheckoutEventType,
  ): Promise<TopupApplyResult> {
    return this.dataSource.transaction(async (tx) => {
      let row = await this.topups.lockByStripeSession(tx, session.id);
      if (!row) {
        const topupId = session.metadata['topupId'] ?? session.clientReferenceId;
        const byId = isUuid(topupId) ? await this.topups.lockById(tx, topupId, 'stripe') : null;
        if (byId && byId.providerSessionId !== null && byId.providerSessionId !== session.id) {
          return this.mismatch(
            byId,
            `the top-up belongs to session ${byId.providerSessionId}, not ${session.id}`,
          );
        }
        if (byId) byId.providerSessionId = session.id;
        row = byId;
      }
      if (!row) return this.notFoundResult(`no top-up for Stripe Checkout Session ${session.id}`);
      const tenantId = session.metadata['tenantId'];
      if (tenantId !== undefined && tenantId !== row.tenantId) {
        return this.mismatch(row, `session ${session.id} names another tenant`);
      }
      if (session.amountTotal !== null && session.amountTotal !== row.amountCents) {
        return this.mismatch(
          row,
          `session ${session.id} is for ${session.amountTotal} cents, the top-up for ${row.amountCents}`,
        );
      }
      row.providerPaymentIntentId ??= session.paymentIntentId;
      return this.applyObservation(tx, row, {
        target: eventType
          ? mapStripeEvent(eventType, { paymentStatus: session.paymentStatus })
          : mapStripeCheckoutSessionStatus(session.status, session.paymentStatus),
        referencePrefix: stripePrefix(row),
        providerStatus: session.status,
        providerStatusDetail: session.paymentStatus,
        metadata: { provider: 'stripe', sessionId: session.id, paymentIntentId: session.paymentIntentId },
      });
    });
  }

  /**
   * Applies a Stripe refund (`charge.refunded`): a full refund moves the top-up to `refunded`
   * (debit `stripe:<sessionId>:refund`), a partial one debits the difference from what was already
   * debited (`…:refund:<total>`). A refund proves the payment succeeded, so a top-up still pending
   * is credited first.
   */
  async applyStripeRefund(input: StripeRefundInput): Promise<TopupApplyResult> {
    if (!Number.isSafeInteger(input.amountRefundedCents) || input.amountRefundedCents < 0) {
      throw new PaymentsError(
        'invalid_amount',
        `amountRefundedCents ${String(input.amountRefundedCents)} is not a count of cents.`,
      );
    }
    return this.dataSource.transaction(async (tx) => {
      const found = await this.lockStripeTopup(tx, input.topupId, input.paymentIntentId);
      if ('result' in found) return found.result;
      const row = found.row;
      const full = input.amountRefundedCents >= row.amountCents;
      return this.applyObservation(tx, row, {
        target: full ? 'refunded' : row.status === 'pending' ? 'approved' : null,
        referencePrefix: stripePrefix(row),
        refundedTotalCents: input.amountRefundedCents,
        metadata: {
          provider: 'stripe',
          paymentIntentId: input.paymentIntentId ?? null,
          chargeId: input.chargeId ?? null,
        },
      });
    });
  }

  /**
   * Applies a Stripe dispute (`charge.dispute.created`): Stripe withdraws the disputed funds when
   * the dispute opens, so the top-up becomes `charged_back` with a `chargeback` debit
   * (`stripe:<sessionId>:chargeback`) of the disputed amount, at most what is still credited.
   */
  async applyStripeDispute(input: StripeDisputeInput): Promise<TopupApplyResult> {
    if (!Number.isSafeInteger(input.amountCents) || input.amountCents <= 0) {
      throw new PaymentsError(
        'invalid_amount',
        `amountCents ${String(input.amountCents)} is not a positive count of cents.`,
      );
    }
    return this.dataSource.transaction(async (tx) => {
      const found = await this.lockStripeTopup(tx, input.topupId, input.paymentIntentId);
      if ('result' in found) return found.result;
      return this.applyObservation(tx, found.row, {
        target: 'charged_back',
        referencePrefix: stripePrefix(found.row),
        chargebackCents: input.amountCents,
        metadata: {
          provider: 'stripe',
          paymentIntentId: input.paymentIntentId ?? null,
          disputeId: input.disputeId ?? null,
        },
      });
    });
  }

  /**
   * The next pending top-ups for a reconciliation pass, least recently checked first (each call
   * stamps the ones it returns, so consecutive passes cover the whole backlog).
   */
  async listPendingForReconciliation(limit: number): Promise<PendingTopup[]> {
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000)
      throw new RangeError('limit must be 1..1000');
    const rows = await this.topups.claimPendingForReconciliation(limit, new Date());
    return rows.map(toPendingTopup);
  }

  /** How many top-ups are pending (`POST /v1/ops/billing/topups/reconcile` answers it). */
  countPending(): Promise<number> {
    return this.topups.countPending();
  }

  /**
   * Closes a pending top-up whose payment window has passed (PIX or Checkout) as `expired`. Call it
   * only after the provider confirmed nothing was paid (or nothing was ever created there): a top-up
   * whose expiry is still ahead is left alone (`unchanged`, detail `not_expired`).
   */
  async expirePix(topupId: string, now: Date = new Date()): Promise<TopupApplyResult> {
    if (!isUuid(topupId)) return this.notFoundResult(`no top-up ${topupId}`);
    return this.dataSource.transaction(async (tx) => {
      const row = await this.topups.lockById(tx, topupId);
      if (!row) return this.notFoundResult(`no top-up ${topupId}`);
      if (row.status !== 'pending') return { ...this.baseResult(row), detail: 'not_pending' };
      if (row.expiresAt !== null && row.expiresAt.getTime() > now.getTime()) {
        return { ...this.baseResult(row), detail: 'not_expired' };
      }
      return this.applyObservation(tx, row, {
        target: 'expired',
        referencePrefix:
          row.provider === 'stripe' ? stripePrefix(row) : `mercadopago:${row.providerPaymentId ?? row.id}`,
        metadata: { reason: 'expired' },
      });
    });
  }

  // ---- internals ----------------------------------------------------------------------------

  private async applyObservation(
    tx: EntityManager,
    row: TopupEntity,
    observation: Observation,
  ): Promise<TopupApplyResult> {
    const result = this.baseResult(row);
    const touched = observeProviderStatus(row, observation);

    const plan = TopupState.planTransition(row.status, observation.target);
    if (plan.kind === 'stale') {
      // e.g. an `approved` arriving after the `refunded` it preceded. One case needs a human:
      // money the provider took for a top-up we already closed (paid in the last second of a PIX).
      const paidAfterClose =
        plan.to === 'approved' && ['expired', 'cancelled', 'rejected'].includes(plan.from);
      const log = { topupId: row.id, tenantId: row.tenantId, from: plan.from, to: plan.to };
      if (paidAfterClose)
        this.logger.error(
          log,
          'provider reports a payment for a closed top-up: refund it or credit it by adjustment',
        );
      else this.logger.warn(log, 'ignoring a stale provider status');
      if (touched) await this.persist(tx, row);
      return {
        ...result,
        outcome: 'stale',
        detail: paidAfterClose ? 'paid_after_close' : `stale ${plan.to} after ${plan.from}`,
      };
    }

    for (const step of plan.kind === 'apply' ? plan.steps : []) {
      await this.applyStep(tx, row, step, observation, result);
      result.steps.push(step);
    }

    // Partial refunds are amounts, not statuses: the top-up stays approved and the ledger takes
    // back the difference between what the provider refunded and what we already debited.
    if (row.status === 'approved' && observation.refundedTotalCents !== undefined) {
      const refundable = row.amountCents - row.chargedBackCents;
      const total = Math.min(observation.refundedTotalCents, refundable);
      if (total > row.refundedCents) {
        await this.debit(
          tx,
          row,
          'refund',
          total - row.refundedCents,
          `${observation.referencePrefix}:refund:${total}`,
          observation,
          result,
        );
        row.refundedCents = total;
      }
    }

    result.status = row.status;
    if (result.steps.length > 0 || result.entries.length > 0) result.outcome = 'applied';
    if (touched || result.outcome === 'applied') await this.persist(tx, row);
    return result;
  }

  private async applyStep(
    tx: EntityManager,
    row: TopupEntity,
    step: TopupStatus,
    observation: Observation,
    result: TopupApplyResult,
  ): Promise<void> {
    const now = new Date();
    const remaining = row.amountCents - row.refundedCents - row.chargedBackCents;
    switch (step) {
      case 'approved': {
        const credit = approvalCredit(row, observation);
        const posting = await this.ledger.credit(tx, credit);
        this.record(posting, result);
        row.approvedAt = now;
        if (posting.applied) await this.creditEffects.credited(tx, [appliedCredit(row, credit)]);
        break;
      }
      case 'refunded':
        if (remaining > 0) {
          await this.debit(
            tx,
            row,
            'refund',
            remaining,
            `${observation.referencePrefix}:refund`,
            observation,
            result,
          );
          row.refundedCents += remaining;
        }
        row.refundedAt = now;
        break;
      case 'charged_back': {
        const amount = Math.min(observation.chargebackCents ?? remaining, remaining);
        if (amount > 0) {
          await this.debit(
            tx,
            row,
            'chargeback',
            amount,
            `${observation.referencePrefix}:chargeback`,
            observation,
            result,
          );
          row.chargedBackCents += amount;
        }
        row.chargedBackAt = now;
        break;
      }
      case 'rejected':
      case 'expired':
      case 'cancelled':
        row.closedAt = now;
        break;
      case 'pending':
        break;
    }
    row.status = TopupState.transition(row.status, step);
  }

  private async debit(
    tx: EntityManager,
    row: TopupEntity,
    kind: 'refund' | 'chargeback',
    amountCents: number,
    reference: string,
    observation: Observation,
    result: TopupApplyResult,
  ): Promise<void> {
    const posting = await this.ledger.debit(tx, {
      tenantId: row.tenantId,
      kind,
      amountCents,
      reference,
      metadata: { topupId: row.id, ...observation.metadata },
    });
    this.record(posting, result);
    if (posting.applied && posting.entry.balanceAfterCents < 0) {
      result.balanceNegative = true;
      await this.outbox.enqueue(tx, BalanceNegative, {
        tenantId: row.tenantId,
        data: { tenantId: row.tenantId, balanceCents: posting.entry.balanceAfterCents, reference },
      });
    }
  }

  private record(posting: LedgerPosting, result: TopupApplyResult): void {
    if (posting.applied) result.entries.push(posting.entry);
  }

  private async persist(tx: EntityManager, row: TopupEntity): Promise<void> {
    row.updatedAt = new Date();
    await this.topups.save(tx, row);
  }

  private async lockStripeTopup(
    tx: EntityManager,
    topupId: string | null | undefined,
    paymentIntentId: string | null | undefined,
  ): Promise<{ row: TopupEntity } | { result: TopupApplyResult }> {
    let row: TopupEntity | null = null;
    if (isUuid(topupId)) row = await this.topups.lockById(tx, topupId, 'stripe');
    if (!row && paymentIntentId) row = await this.topups.lockByStripePaymentIntent(tx, paymentIntentId);
    if (!row)
      return {
        result: this.notFoundResult(`no Stripe top-up for ${topupId ?? paymentIntentId ?? 'nothing'}`),
      };
    if (
      paymentIntentId &&
      row.providerPaymentIntentId !== null &&
      row.providerPaymentIntentId !== paymentIntentId
    ) {
      return {
        result: this.mismatch(
          row,
          `the top-up belongs to PaymentIntent ${row.providerPaymentIntentId}, not ${paymentIntentId}`,
        ),
      };
    }
    if (paymentIntentId) row.providerPaymentIntentId ??= paymentIntentId;
    return { row };
  }

  private async lockExisting(tx: EntityManager, topupId: string): Promise<TopupEntity> {
    const row = await this.topups.lockById(tx, topupId);
    if (!row) throw new Error(`top-up ${topupId} vanished`);
    return row;
  }

  /**
   * A refused creation is closed (`cancelled`: no payment exists). Anything else may or may not
   * have reached the provider: the top-up stays pending for reconciliation to settle or expire.
   */
  private async recordCreationFailure(topupId: string, error: unknown): Promise<void> {
    const code = isPaymentsError(error) ? error.code : 'internal_error';
    this.logger.warn({ topupId, code, err: error }, 'creating the payment at the provider failed');
    try {
      await this.dataSource.transaction(async (tx) => {
        const row = await this.lockExisting(tx, topupId);
        if (row.status !== 'pending') return;
        row.failureCode = code;
        if (code === 'provider_rejected' || code === 'invalid_amount') {
          row.status = TopupState.transition(row.status, 'cancelled');
          row.closedAt = new Date();
        }
        await this.persist(tx, row);
      });
    } catch (recordError) {
      this.logger.error(
        { topupId, err: recordError },
        'could not record the failed creation; reconciliation will settle it',
      );
    }
  }

  private baseResult(row: TopupEntity): TopupApplyResult {
    return {
      outcome: 'unchanged',
      topupId: row.id,
      tenantId: row.tenantId,
      previousStatus: row.status,
      status: row.status,
      steps: [],
      entries: [],
      balanceNegative: false,
    };
  }

  private mismatch(row: TopupEntity, detail: string): TopupApplyResult {
    this.logger.error(
      { topupId: row.id, tenantId: row.tenantId, detail },
      'provider object does not match the top-up; nothing applied',
    );
    return { ...this.baseResult(row), outcome: 'mismatch', detail };
  }

  private notFoundResult(detail: string): TopupApplyResult {
    return {
      outcome: 'not_found',
      topupId: null,
      tenantId: null,
      previousStatus: null,
      status: null,
      steps: [],
      entries: [],
      balanceNegative: false,
      detail,
    };
  }

  private assertTenant(tenantId: string): void {
    if (!isUuid(tenantId)) throw new AppError('invalid_tenant', 400, 'The tenant id is not a UUID.');
  }
}
