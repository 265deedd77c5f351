import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ProviderErrorResponse, mercadoPagoError } from './errors';
import { RouteResult, SandboxContext, bodyOf, handler, ok, queryOf, routeParams } from './http';
import { IdempotencyStore } from './idempotency';
import { buildPixBrCode, placeholderQrPngBase64 } from './pix-brcode';
import { mercadoPagoSignatureHeader } from './signing';
import {
  bearerToken,
  formatMercadoPagoDate,
  headerValue,
  isRecord,
  nextMercadoPagoNotificationId,
  nextMercadoPagoPaymentId,
  randomHex,
  readNonEmptyString,
  readNumeric,
  readString,
  unixSeconds,
  uuid,
} from './util';
import { NotifiedSummary, OutgoingWebhook } from './webhook-poster';

/** The seller account the sandbox pretends to be. */
export const MERCADO_PAGO_COLLECTOR_ID = 2000000001;
export const MERCADO_PAGO_APPLICATION_ID = 5000000000000001;
const PIX_KEY = '7d9f0335-8dcc-4054-9bf9-0dbd61d36906';

const PAYMENT_STATUSES = [
  'pending',
  'approved',
  'authorized',
  'in_process',
  'in_mediation',
  'rejected',
  'cancelled',
  'refunded',
  'charged_back',
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export function isPaymentStatus(value: unknown): value is PaymentStatus {
  return typeof value === 'string' && (PAYMENT_STATUSES as readonly string[]).includes(value);
}

const DEFAULT_STATUS_DETAIL: Record<PaymentStatus, string> = {
  pending: 'pending_waiting_transfer',
  approved: 'accredited',
  authorized: 'pending_capture',
  in_process: 'pending_review_manual',
  in_mediation: 'in_mediation',
  rejected: 'rejected_by_bank',
  // A PIX is cancelled in practice when its code expires unpaid.
  cancelled: 'expired',
  refunded: 'refunded',
  charged_back: 'settled',
};

const PREAPPROVAL_STATUSES = ['pending', 'authorized', 'paused', 'cancelled'] as const;
export type PreapprovalStatus = (typeof PREAPPROVAL_STATUSES)[number];

export function isPreapprovalStatus(value: unknown): value is PreapprovalStatus {
  return typeof value === 'string' && (PREAPPROVAL_STATUSES as readonly string[]).includes(value);
}

const MIN_EXPIRATION_MS = 30 * 60 * 1000;
const MAX_EXPIRATION_MS = 30 * 24 * 60 * 60 * 1000;
const DEFAULT_EXPIRATION_MS = 24 * 60 * 60 * 1000;
/** Lets a client compute "now + 30 min" a little before the sandbox reads its clock. */
const EXPIRATION_SLACK_MS = 60 * 1000;

interface Refund {
  id: number;
  payment_id: number;
  amount: number;
  status: 'approved';
  date_created: string;
  source: { id: string; name: string; type: 'collector' };
}

interface SentNotification {
  id: number;
  body: Record<string, unknown>;
}

interface Payment {
  id: number;
  status: PaymentStatus;
  statusDetail: string;
  amount: number;
  description: string | null;
  externalReference: string | null;
  payerEmail: string;
  notificationUrl: string | null;
  metadata: Record<string, unknown>;
  dateCreated: Date;
  dateLastUpdated: Date;
  dateApproved: Date | null;
  dateOfExpiration: Date;
  qrCode: string;
  qrCodeBase64: string;
  refunds: Refund[];
  lastNotification?: SentNotification;
}

interface AutoRecurring {
  frequency: number;
  frequency_type: 'days' | 'months';
  transaction_amount: number;
  currency_id: string;
  start_date?: string;
  end_date?: string;
}

interface Preapproval {
  id: string;
  status: PreapprovalStatus;
  reason: string;
  externalReference: string | null;
  payerEmail: string;
  backUrl: string;
  autoRecurring: AutoRecurring;
  planId: string | null;
  dateCreated: Date;
  lastModified: Date;
  nextPaymentDate: Date;
  version: number;
  lastNotification?: SentNotification;
}

interface Plan {
  id: string;
  reason: string;
  backUrl: string;
  autoRecurring: AutoRecurring;
  dateCreated: Date;
}

export type ControlOutcome<T> = { ok: true; value: T } | { ok: false; status: number; message: string };

export interface PaymentStatusChange {
  status: PaymentStatus;
  statusDetail?: string;
  /** For `refunded`: refund this many reais; less than the remainder leaves the payment `approved`/`partially_refunded`. */
  refundAmount?: number;
}

export interface NotifyOptions {
  count?: number;
  /** Posts a new notification (new id) instead of re-delivering the last one. */
  fresh?: boolean;
  action?: string;
}

function unauthorized(): ProviderErrorResponse {
  return mercadoPagoError(401, 'invalid access token', 'unauthorized', [
    { code: 2002, description: 'invalid access token' },
  ]);
}

function badRequest(description: string, code = 2000): ProviderErrorResponse {
  return mercadoPagoError(400, description, 'bad_request', [{ code, description }]);
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function hasAtMostTwoDecimals(value: number): boolean {
  return Math.abs(Math.round(value * 100) - value * 100) < 1e-6;
}

function addPeriod(date: Date, recurring: AutoRecurring): Date {
  const next = new Date(date.getTime());
  if (recurring.frequency_type === 'days') next.setUTCDate(next.getUTCDate() + recurring.frequency);
  else next.setUTCMonth(next.getUTCMonth() + recurring.frequency);
  return next;
}

type Parsed<T> = { ok: true; value: T } | { ok: false; error: ProviderErrorResponse };

function parseAutoRecurring(raw: unknown): Parsed<AutoRecurring> {
  if (!isRecord(raw)) return { ok: false, error: badRequest('auto_recurring is required', 3000) };
  const frequency = readNumeric(raw, 'frequency');
  const frequencyType = readString(raw, 'frequency_type');
  const amount = readNumeric(raw, 'transaction_amount');
  const currency = readString(raw, 'currency_id') ?? 'BRL';
  if (frequency === undefined || !Number.isInteger(frequency) || frequency < 1) {
    return { ok: false, error: badRequest('auto_recurring.frequency must be a positive integer', 3001) };
  }
  if (frequencyType !== 'days' && frequencyType !== 'months') {
    return { ok: false, error: badRequest('auto_recurring.frequency_type must be days or months', 3002) };
  }
  if (amount === undefined || !(amount > 0) || !hasAtMostTwoDecimals(amount)) {
    return {
      ok: false,
      error: badRequest('auto_recurring.transaction_amount must be a positive amount', 3003),
    };
  }
  if (currency !== 'BRL') {
    return { ok: false, error: badRequest('auto_recurring.currency_id must be BRL', 3004) };
  }
  const recurring: AutoRecurring = {
    frequency,
    frequency_type: frequencyType,
    transaction_amount: amount,
    currency_id: currency,
  };
  const start = readString(raw, 'start_date');
  const end = readString(raw, 'end_date');
  if (start !== undefined) recurring.start_date = start;
  if (end !== undefined) recurring.end_date = end;
  return { ok: true, value: recurring };
}

/**
 * Mercado Pago: PIX payments (`/v1/payments`), subscriptions (`/preapproval`, `/preapproval_plan`)
 * and the signed notifications the control API triggers.
 */
export class MercadoPagoSandbox {
  private payments = new Map<number, Payment>();
  private preapprovals = new Map<string, Preapproval>();
  private plans = new Map<string, Plan>();
  private readonly idempotency = new IdempotencyStore();

  constructor(private readonly ctx: SandboxContext) {}

  reset(): void {
    this.payments = new Map();
    this.preapprovals = new Map();
    this.plans = new Map();
    this.idempotency.clear();
  }

  register(app: FastifyInstance): void {
    const config = { config: { provider: 'mercadopago' as const } };
    app.post(
      '/v1/payments',
      config,
      handler((request) => this.createPayment(request)),
    );
    app.get(
      '/v1/payments/search',
      config,
      handler((request) => this.searchPayments(request)),
    );
    app.get(
      '/v1/payments/:id',
      config,
      handler((request) => this.getPayment(request)),
    );
    app.put(
      '/v1/payments/:id',
      config,
      handler((request) => this.updatePayment(request)),
    );

    // The mercadopago SDK posts to `/preapproval/` with a trailing slash.
    for (const path of ['/preapproval', '/preapproval/']) {
      app.post(
        path,
        config,
        handler((request) => this.createPreapproval(request)),
      );
    }
    app.get(
      '/preapproval/search',
      config,
      handler((request) => this.searchPreapprovals(request)),
    );
    app.get(
      '/preapproval/:id',
      config,
      handler((request) => this.getPreapproval(request)),
    );
    app.put(
      '/preapproval/:id',
      config,
      handler((request) => this.updatePreapproval(request)),
    );

    for (const path of ['/preapproval_plan', '/preapproval_plan/']) {
      app.post(
        path,
        config,
        handler((request) => this.createPlan(request)),
      );
    }
    app.get(
      '/preapproval_plan/:id',
      config,
      handler((request) => this.getPlan(request)),
    );
  }

  // ---- payments -------------------------------------------------------------------------------

  private createPayment(request: FastifyRequest): RouteResult {
    if (bearerToken(request.headers.authorization) === undefined) return unauthorized();
    const idempotencyKey = headerValue(request.headers['x-idempotency-key']);
    if (idempotencyKey === undefined) {
      return badRequest("Header X-Idempotency-Key can't be null", 4292);
    }
    const input = bodyOf(request);
    const amount = input['transaction_amount'];
    if (
      typeof amount !== 'number' ||
      !Number.isFinite(amount) ||
      amount <= 0 ||
      !hasAtMostTwoDecimals(amount)
    ) {
      return badRequest('Invalid transaction_amount', 4037);
    }
    if (input['payment_method_id'] !== 'pix') {
      return badRequest('payment_method_id must be "pix" in the sandbox', 4033);
    }
    const payer = isRecord(input['payer']) ? input['payer'] : {};
    const email = readNonEmptyString(payer, 'email');
    if (email === undefined || !/^[^@\s]+@[^@\s]+$/.test(email)) {
      return badRequest('payer.email must be a valid email', 4050);
    }
    const notificationUrl = readNonEmptyString(input, 'notification_url');
    if (notificationUrl !== undefined && !isHttpUrl(notificationUrl)) {
      return badRequest('notification_url attribute must be url valid', 4020);
    }
    const now = this.ctx.now();
    let expiration = new Date(now.getTime() + DEFAULT_EXPIRATION_MS);
    const rawExpiration = input['date_of_expiration'];
    if (rawExpiration !== undefined && rawExpiration !== null) {
      const parsed = typeof rawExpiration === 'string' ? Date.parse(rawExpiration) : Number.NaN;
      if (!Number.isFinite(parsed)) return badRequest('Invalid date_of_expiration format', 4070);
      const ahead = parsed - now.getTime();
      if (
        ahead < MIN_EXPIRATION_MS - EXPIRATION_SLACK_MS ||
        ahead > MAX_EXPIRATION_MS + EXPIRATION_SLACK_MS
      ) {
        return badRequest('date_of_expiration must be between 30 minutes and 30 days from now', 4071);
      }
      expiration = new Date(parsed);
    }

    const replay = this.idempotency.lookup('payments', idempotencyKey, input);
    if (replay.kind === 'replay') return ok(replay.body, replay.status);
    if (replay.kind === 'conflict') {
      return mercadoPagoError(409, 'Idempotency key already used with a different request body', 'conflict', [
        { code: 409, description: 'idempotency_key_conflict' },
      ]);
    }

    const id = nextMercadoPagoPaymentId();
    const qrCode = buildPixBrCode({
      pixKey: PIX_KEY,
      amount,
      merchantName: 'REALAPP SANDBOX',
      merchantCity: 'SAO PAULO',
      txid: `mpqrinter${id}`,
    });
    const payment: Payment = {
      id,
      status: 'pending',
      statusDetail: DEFAULT_STATUS_DETAIL.pending,
      amount,
      description: readString(input, 'description') ?? null,
      externalReference: readString(input, 'external_reference') ?? null,
      payerEmail: email,
      notificationUrl: notificationUrl ?? null,
      metadata: isRecord(input['metadata']) ? input['metadata'] : {},
      dateCreated: now,
      dateLastUpdated: now,
      dateApproved: null,
      dateOfExpiration: expiration,
      qrCode,
      qrCodeBase64: placeholderQrPngBase64(qrCode),
      refunds: [],
    };
    this.payments.set(id, payment);
    const view = this.paymentView(payment);
    this.idempotency.remember('payments', idempotencyKey, input, 201, view);
    return ok(view, 201);
  }

  private getPayment(request: FastifyRequest): RouteResult {
    if (bearerToken(request.headers.authorization) === undefined) return unauthorized();
    const payment = this.findPayment(routeParams(request)['id']);
    if (payment === undefined) return this.paymentNotFound();
    return ok(this.paymentView(payment));
  }

  /** The real API lets the seller cancel a payment that is still pending. */
  private updatePayment(request: FastifyRequest): RouteResult {
    if (bearerToken(request.headers.authorization) === undefined) return unauthorized();
    const payment = this.findPayment(routeParams(request)['id']);
    if (payment === undefined) return this.paymentNotFound();
    const status = bodyOf(request)['status'];
    if (status !== 'cancelled') return badRequest('Only status "cancelled" can be set', 2063);
    if (payment.status !== 'pending' && payment.status !== 'in_process') {
      return badRequest(`Payment in status ${payment.status} cannot be cancelled`, 2064);
    }
    this.applyPaymentStatus(payment, { status: 'cancelled', statusDetail: 'by_collector' });
    return ok(this.paymentView(payment));
  }

  private searchPayments(request: FastifyRequest): RouteResult {
    if (bearerToken(request.headers.authorization) === undefined) return unauthorized();
    const q = queryOf(request);
    const externalReference = readString(q, 'external_reference');
    const status = readString(q, 'status');
    const limit = Math.min(Math.max(readNumeric(q, 'limit') ?? 30, 1), 1000);
    const offset = Math.max(readNumeric(q, 'offset') ?? 0, 0);
    const descending = readString(q, 'criteria') === 'desc';
    const all = [...this.payments.values()]
      .map((payment) => this.refreshExpiry(payment))
      .filter((payment) => externalReference === undefined || payment.externalReference === externalReference)
      .filter((payment) => status === undefined || payment.status === status)
      .sort((a, b) => (descending ? b.id - a.id : a.id - b.id));
    return ok({
      paging: { total: all.length, limit, offset },
      results: all.slice(offset, offset + limit).map((payment) => this.paymentView(payment)),
    });
  }

  private findPayment(rawId: string | undefined): Payment | undefined {
    if (rawId === undefined || !/^\d+$/.test(rawId)) return undefined;
    const payment = this.payments.get(Number(rawId));
    return payment === undefined ? undefined : this.refreshExpiry(payment);
  }

  private paymentNotFound(): RouteResult {
    return mercadoPagoError(404, 'Payment not found', 'not_found', [
      { code: 2000, description: 'Payment not found' },
    ]);
  }

  /** An unpaid PIX is cancelled (`expired`) once its expiration passes, as Mercado Pago does. */
  private refreshExpiry(payment: Payment): Payment {
    if (payment.status === 'pending' && this.ctx.now().getTime() > payment.dateOfExpiration.getTime()) {
      payment.status = 'cancelled';
      payment.statusDetail = 'expired';
      payment.dateLastUpdated = payment.dateOfExpiration;
    }
    return payment;
  }

  private paymentView(payment: Payment): Record<string, unknown> {
    const refunded = payment.refunds.reduce((sum, refund) => sum + refund.amount, 0);
    return {
      id: payment.id,
      date_created: formatMercadoPagoDate(payment.dateCreated),
      date_approved: payment.dateApproved === null ? null : formatMercadoPagoDate(payment.dateApproved),
      date_last_updated: formatMercadoPagoDate(payment.dateLastUpdated),
      date_of_expiration: formatMercadoPagoDate(payment.dateOfExpiration),
      money_release_date: payment.dateApproved === null ? null : formatMercadoPagoDate(payment.dateApproved),
      operation_type: 'regular_payment',
      payment_method_id: 'pix',
      payment_type_id: 'bank_transfer',
      payment_method: { id: 'pix', type: 'bank_transfer' },
      status: payment.status,
      status_detail: payment.statusDetail,
      currency_id: 'BRL',
      description: payment.description,
      live_mode: false,
      collector_id: MERCADO_PAGO_COLLECTOR_ID,
      payer: { id: null, email: payment.payerEmail, type: null },
      metadata: payment.metadata,
      external_reference: payment.externalReference,
      transaction_amount: payment.amount,
      transaction_amount_refunded: Math.round(refunded * 100) / 100,
      transaction_details: {
        net_received_amount: payment.status === 'approved' ? payment.amount : 0,
        total_paid_amount: payment.amount,
        overpaid_amount: 0,
        installment_amount: 0,
      },
      installments: 1,
      captured: true,
      binary_mode: false,
      notification_url: payment.notificationUrl,
      refunds: payment.refunds,
      point_of_interaction: {
        type: 'PIX',
        transaction_data: {
          qr_code: payment.qrCode,
          qr_code_base64: payment.qrCodeBase64,
          ticket_url: `${this.ctx.baseUrl()}/payments/${payment.id}/ticket`,
        },
      },
    };
  }

  // ---- payment control ------------------------------------------------------------------------

  getPaymentView(rawId: string): Record<string, unknown> | undefined {
    const payment = this.findPayment(rawId);
    return payment === undefined ? undefined : this.paymentView(payment);
  }

  setPaymentStatus(rawId: string, change: PaymentStatusChange): ControlOutcome<Record<string, unknown>> {
    const payment = this.findPayment(rawId);
    if (payment === undefined) return { ok: false, status: 404, message: `unknown payment ${rawId}` };
    if (change.refundAmount !== undefined) {
      const remaining = payment.amount - payment.refunds.reduce((sum, refund) => sum + refund.amount, 0);
      if (!(change.refundAmount > 0) || change.refundAmount > remaining + 1e-9) {
        return {
          ok: false,
          status: 400,
          message: `refundAmount must be > 0 and at most ${remaining.toFixed(2)}`,
        };
      }
    }
    this.applyPaymentStatus(payment, change);
    return { ok: true, value: this.paymentView(payment) };
  }

  private applyPaymentStatus(payment: Payment, change: PaymentStatusChange): void {
    const now = this.ctx.now();
    payment.dateLastUpdated = now;
    if (change.status === 'refunded') {
      const refundedSoFar = payment.refunds.reduce((sum, refund) => sum + refund.amount, 0);
      const amount = change.refundAmount ?? Math.round((payment.amount - refundedSoFar) * 100) / 100;
      if (amount > 0) {
        payment.refunds.push({
          id: nextMercadoPagoPaymentId(),
          payment_id: payment.id,
          amount,
          status: 'approved',
          date_created: formatMercadoPagoDate(now),
          source: { id: String(MERCADO_PAGO_COLLECTOR_ID), name: 'RealApp Sandbox', type: 'collector' },
        });
      }
      const total = payment.refunds.reduce((sum, refund) => sum + refund.amount, 0);
      if (total + 1e-9 < payment.amount) {
        // A partial refund leaves the payment approved, as Mercado Pago reports it.
        payment.status = 'approved';
        payment.statusDetail = change.statusDetail ?? 'partially_refunded';
        return;
      }
    }
    payment.status = change.status;
    payment.statusDetail = change.statusDetail ?? DEFAULT_STATUS_DETAIL[change.status];
    if (change.status === 'approved' && payment.dateApproved === null) payment.dateApproved = now;
  }

  async notifyPayment(rawId: string, options: NotifyOptions = {}): Promise<ControlOutcome<NotifiedSummary>> {
    const payment = this.findPayment(rawId);
    if (payment === undefined) return { ok: false, status: 404, message: `unknown payment ${rawId}` };
    if (options.fresh === true || payment.lastNotification === undefined) {
      const id = nextMercadoPagoNotificationId();
      payment.lastNotification = {
        id,
        body: {
          id,
          live_mode: false,
          type: 'payment',
          date_created: this.ctx.now().toISOString(),
          user_id: MERCADO_PAGO_COLLECTOR_ID,
          api_version: 'v1',
          action: options.action ?? 'payment.updated',
          data: { id: String(payment.id) },
        },
      };
    }
    const notification = payment.lastNotification;
    const base = payment.notificationUrl ?? `${this.ctx.settings.webhookBaseUrl}/v1/webhooks/mercadopago`;
    const summary = await this.ctx.poster.postMany(options.count ?? 1, () =>
      this.signedNotification(base, String(payment.id), 'payment', notification.body),
    );
    return { ok: true, value: summary };
  }

  /** Mercado Pago appends `data.id` and `type` to the notification URL; the signature covers `data.id`. */
  private signedNotification(
    baseUrl: string,
    dataId: string,
    type: string,
    body: Record<string, unknown>,
  ): OutgoingWebhook {
    const url = new URL(baseUrl);
    url.searchParams.set('data.id', dataId);
    url.searchParams.set('type', type);
    const requestId = uuid();
    const ts = String(unixSeconds(this.ctx.now()));
    return {
      url: url.toString(),
      rawBody: JSON.stringify(body),
      headers: {
        'content-type': 'application/json',
        'user-agent': `MercadoPago WebHook v1.0 ${type}`,
        'x-request-id': requestId,
        'x-signature': mercadoPagoSignatureHeader(
          this.ctx.settings.mercadoPagoWebhookSecret,
          dataId,
          requestId,
          ts,
        ),
      },
    };
  }

  // ---- pre-approvals (subscriptions) ---------------------------------------------------------

  private createPreapproval(request: FastifyRequest): RouteResult {
    if (bearerToken(request.headers.authorization) === undefined) return unauthorized();
    const input = bodyOf(request);
    const idempotencyKey = headerValue(request.headers['x-idempotency-key']);
    if (idempotencyKey !== undefined) {
      const replay = this.idempotency.lookup('preapproval', idempotencyKey, input);
      if (replay.kind === 'replay') return ok(replay.body, replay.status);
      if (replay.kind === 'conflict') {
        return mercadoPagoError(
          409,
          'Idempotency key already used with a different request body',
          'conflict',
        );
      }
    }

    const planId = readNonEmptyString(input, 'preapproval_plan_id');
    const cardToken = readNonEmptyString(input, 'card_token_id');
    // The real API refuses a plan subscription without a card: the redirect flow cannot use plans.
    if (planId !== undefined && cardToken === undefined) return badRequest('card_id is required', 3100);
    const plan = planId === undefined ? undefined : this.plans.get(planId);
    if (planId !== undefined && plan === undefined) {
      return mercadoPagoError(404, 'preapproval_plan not found', 'not_found', [
        { code: 3101, description: `preapproval_plan ${planId} not found` },
      ]);
    }

    const reason = readNonEmptyString(input, 'reason') ?? plan?.reason;
    if (reason === undefined) return badRequest('reason is required', 3102);
    const payerEmail = readNonEmptyString(input, 'payer_email');
    if (payerEmail === undefined || !/^[^@\s]+@[^@\s]+$/.test(payerEmail)) {
      return badRequest('payer_email must be a valid email', 3103);
    }
    const backUrl = readNonEmptyString(input, 'back_url') ?? plan?.backUrl;
    if (backUrl === undefined || !isHttpUrl(backUrl)) return badRequest('back_url must be a valid url', 3104);
    let autoRecurring: AutoRecurring;
    if (plan !== undefined) {
      autoRecurring = { ...plan.autoRecurring };
    } else {
      const parsed = parseAutoRecurring(input['auto_recurring']);
      if (!parsed.ok) return parsed.error;
      autoRecurring = parsed.value;
    }
    const requestedStatus = input['status'];
    if (requestedStatus !== undefined && requestedStatus !== 'pending' && requestedStatus !== 'authorized') {
      return badRequest('status must be pending or authorized', 3105);
    }
    if (requestedStatus === 'authorized' && cardToken === undefined)
      return badRequest('card_id is required', 3100);

    const now = this.ctx.now();
    const status: PreapprovalStatus = cardToken !== undefined ? 'authorized' : 'pending';
    const preapproval: Preapproval = {
      id: `2c938084${randomHex(24)}`,
      status,
      reason,
      externalReference: readString(input, 'external_reference') ?? null,
      payerEmail,
      backUrl,
      autoRecurring,
      planId: planId ?? null,
      dateCreated: now,
      lastModified: now,
      nextPaymentDate: status === 'authorized' ? addPeriod(now, autoRecurring) : now,
      version: 0,
    };
    this.preapprovals.set(preapproval.id, preapproval);
    const view = this.preapprovalView(preapproval);
    if (idempotencyKey !== undefined)
      this.idempotency.remember('preapproval', idempotencyKey, input, 201, view);
    return ok(view, 201);
  }

  private getPreapproval(request: FastifyRequest): RouteResult {
    if (bearerToken(request.headers.authorization) === undefined) return unauthorized();
    const preapproval = this.preapprovals.get(routeParams(request)['id'] ?? '');
    if (preapproval === undefined) return this.preapprovalNotFound();
    return ok(this.preapprovalView(preapproval));
  }

  private updatePreapproval(request: FastifyRequest): RouteResult {
    if (bearerToken(request.headers.authorization) === undefined) return unauthorized();
    const preapproval = this.preapprovals.get(routeParams(request)['id'] ?? '');
    if (preapproval === undefined) return this.preapprovalNotFound();
    const input = bodyOf(request);
    if (preapproval.status === 'cancelled') {
      return badRequest('You can not modify a cancelled preapproval', 3200);
    }
    const status = input['status'];
    if (status !== undefined) {
      if (!isPreapprovalStatus(status))
        return badRequest('status must be authorized, paused or cancelled', 3201);
      const allowed: Record<PreapprovalStatus, PreapprovalStatus[]> = {
        pending: ['pending', 'cancelled'],
        authorized: ['authorized', 'paused', 'cancelled'],
        paused: ['paused', 'authorized', 'cancelled'],
        cancelled: [],
      };
      if (!allowed[preapproval.status].includes(status)) {
        return badRequest(`Cannot change status from ${preapproval.status} to ${status}`, 3202);
      }
    }
    const reason = readNonEmptyString(input, 'reason');
    const backUrl = readNonEmptyString(input, 'back_url');
    if (backUrl !== undefined && !isHttpUrl(backUrl)) return badRequest('back_url must be a valid url', 3104);
    let amount: number | undefined;
    if (isRecord(input['auto_recurring'])) {
      amount = readNumeric(input['auto_recurring'], 'transaction_amount');
      if (amount !== undefined && !(amount > 0 && hasAtMostTwoDecimals(amount))) {
        return badRequest('auto_recurring.transaction_amount must be a positive amount', 3003);
      }
    }
    if (isPreapprovalStatus(status)) this.applyPreapprovalStatus(preapproval, status);
    if (reason !== undefined) preapproval.reason = reason;
    if (backUrl !== undefined) preapproval.backUrl = backUrl;
    if (amount !== undefined) preapproval.autoRecurring.transaction_amount = amount;
    const externalReference = readString(input, 'external_reference');
    if (externalReference !== undefined) preapproval.externalReference = externalReference;
    preapproval.lastModified = this.ctx.now();
    return ok(this.preapprovalView(preapproval));
  }

  private searchPreapprovals(request: FastifyRequest): RouteResult {
    if (bearerToken(request.headers.authorization) === undefined) return unauthorized();
    const q = queryOf(request);
    const filters: Array<[string | undefined, (p: Preapproval) => string | null]> = [
      [readString(q, 'external_reference'), (p) => p.externalReference],
      [readString(q, 'status'), (p) => p.status],
      [readString(q, 'payer_email'), (p) => p.payerEmail],
      [readString(q, 'preapproval_plan_id'), (p) => p.planId],
    ];
    const limit = Math.min(Math.max(readNumeric(q, 'limit') ?? 30, 1), 100);
    const offset = Math.max(readNumeric(q, 'offset') ?? 0, 0);
    const all = [...this.preapprovals.values()].filter((preapproval) =>
      filters.every(([wanted, field]) => wanted === undefined || field(preapproval) === wanted),
    );
    return ok({
      paging: { offset, limit, total: all.length },
      results: all.slice(offset, offset + limit).map((preapproval) => this.preapprovalView(preapproval)),
    });
  }

  private preapprovalNotFound(): RouteResult {
    return mercadoPagoError(404, 'The preapproval does not exist', 'not_found', [
      { code: 404, description: 'preapproval not found' },
    ]);
  }

  private applyPreapprovalStatus(preapproval: Preapproval, status: PreapprovalStatus): void {
    const now = this.ctx.now();
    if (status === 'authorized' && preapproval.status !== 'authorized') {
      preapproval.nextPaymentDate = addPeriod(now, preapproval.autoRecurring);
    }
    preapproval.status = status;
    preapproval.lastModified = now;
    preapproval.version += 1;
  }

  private preapprovalView(preapproval: Preapproval): Record<string, unknown> {
    const initPoint = `${this.ctx.baseUrl()}/subscriptions/checkout?preapproval_id=${preapproval.id}`;
    return {
      id: preapproval.id,
      payer_id: null,
      payer_email: preapproval.payerEmail,
      back_url: preapproval.backUrl,
      collector_id: MERCADO_PAGO_COLLECTOR_ID,
      application_id: MERCADO_PAGO_APPLICATION_ID,
      status: preapproval.status,
      reason: preapproval.reason,
      external_reference: preapproval.externalReference,
      date_created: formatMercadoPagoDate(preapproval.dateCreated),
      last_modified: formatMercadoPagoDate(preapproval.lastModified),
      init_point: initPoint,
      sandbox_init_point: initPoint,
      preapproval_plan_id: preapproval.planId,
      auto_recurring: { ...preapproval.autoRecurring },
      next_payment_date: formatMercadoPagoDate(preapproval.nextPaymentDate),
      payment_method_id: null,
    };
  }

  // ---- pre-approval control -------------------------------------------------------------------

  getPreapprovalView(id: string): Record<string, unknown> | undefined {
    const preapproval = this.preapprovals.get(id);
    return preapproval === undefined ? undefined : this.preapprovalView(preapproval);
  }

  /** The control API may set any status (tests drive what the buyer and Mercado Pago would do). */
  setPreapprovalStatus(id: string, status: PreapprovalStatus): ControlOutcome<Record<string, unknown>> {
    const preapproval = this.preapprovals.get(id);
    if (preapproval === undefined) return { ok: false, status: 404, message: `unknown preapproval ${id}` };
    this.applyPreapprovalStatus(preapproval, status);
    return { ok: true, value: this.preapprovalView(preapproval) };
  }

  /** Creates an authorized subscription from a plan, as the buyer does on the plan's checkout page. */
  subscribeToPlan(planId: string, payerEmail: string): ControlOutcome<Record<string, unknown>> {
    const plan = this.plans.get(planId);
    if (plan === undefined) return { ok: false, status: 404, message: `unknown preapproval_plan ${planId}` };
    const now = this.ctx.now();
    const preapproval: Preapproval = {
      id: `2c938084${randomHex(24)}`,
      status: 'authorized',
      reason: plan.reason,
      externalReference: null,
      payerEmail,
      backUrl: plan.backUrl,
      autoRecurring: { ...plan.autoRecurring },
      planId,
      dateCreated: now,
      lastModified: now,
      nextPaymentDate: addPeriod(now, plan.autoRecurring),
      version: 0,
    };
    this.preapprovals.set(preapproval.id, preapproval);
    return { ok: true, value: this.preapprovalView(preapproval) };
  }

  async notifyPreapproval(id: string, options: NotifyOptions = {}): Promise<ControlOutcome<NotifiedSummary>> {
    const preapproval = this.preapprovals.get(id);
    if (preapproval === undefined) return { ok: false, status: 404, message: `unknown preapproval ${id}` };
    if (options.fresh === true || preapproval.lastNotification === undefined) {
      const notificationId = nextMercadoPagoNotificationId();
      preapproval.lastNotification = {
        id: notificationId,
        body: {
          action: options.action ?? 'updated',
          application_id: MERCADO_PAGO_APPLICATION_ID,
          data: { id: preapproval.id },
          date: this.ctx.now().toISOString(),
          entity: 'preapproval',
          id: notificationId,
          type: 'subscription_preapproval',
          version: preapproval.version,
        },
      };
    }
    const notification = preapproval.lastNotification;
    // Subscriptions have no notification_url: they go to the application's configured endpoint.
    const base = `${this.ctx.settings.webhookBaseUrl}/v1/webhooks/mercadopago`;
    const summary = await this.ctx.poster.postMany(options.count ?? 1, () =>
      this.signedNotification(base, preapproval.id, 'subscription_preapproval', notification.body),
    );
    return { ok: true, value: summary };
  }

  // ---- plans ----------------------------------------------------------------------------------

  private createPlan(request: FastifyRequest): RouteResult {
    if (bearerToken(request.headers.authorization) === undefined) return unauthorized();
    const input = bodyOf(request);
    const reason = readNonEmptyString(input, 'reason');
    if (reason === undefined) return badRequest('reason is required', 3102);
    const backUrl = readNonEmptyString(input, 'back_url');
    if (backUrl === undefined || !isHttpUrl(backUrl)) return badRequest('back_url must be a valid url', 3104);
    const parsed = parseAutoRecurring(input['auto_recurring']);
    if (!parsed.ok) return parsed.error;
    const plan: Plan = {
      id: randomHex(32),
      reason,
      backUrl,
      autoRecurring: parsed.value,
      dateCreated: this.ctx.now(),
    };
    this.plans.set(plan.id, plan);
    return ok(this.planView(plan), 201);
  }

  private getPlan(request: FastifyRequest): RouteResult {
    if (bearerToken(request.headers.authorization) === undefined) return unauthorized();
    const plan = this.plans.get(routeParams(request)['id'] ?? '');
    if (plan === undefined) {
      return mercadoPagoError(404, 'preapproval_plan not found', 'not_found', [
        { code: 404, description: 'preapproval_plan not found' },
      ]);
    }
    return ok(this.planView(plan));
  }

  getPlanView(id: string): Record<string, unknown> | undefined {
    const plan = this.plans.get(id);
    return plan === undefined ? undefined : this.planView(plan);
  }

  private planView(plan: Plan): Record<string, unknown> {
    return {
      id: plan.id,
      application_id: MERCADO_PAGO_APPLICATION_ID,
      collector_id: MERCADO_PAGO_COLLECTOR_ID,
      reason: plan.reason,
      auto_recurring: { ...plan.autoRecurring },
      back_url: plan.backUrl,
      init_point: `${this.ctx.baseUrl()}/subscriptions/checkout?preapproval_plan_id=${plan.id}`,
      status: 'active',
      date_created: formatMercadoPagoDate(plan.dateCreated),
      last_modified: formatMercadoPagoDate(plan.dateCreated),
    };
  }
}
