import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ProviderErrorResponse, stripeError } from './errors';
import { RouteResult, SandboxContext, bodyOf, handler, ok, queryOf, routeParams } from './http';
import { IdempotencyStore } from './idempotency';
import { stripeSignatureHeader } from './signing';
import {
  bearerToken,
  headerValue,
  isRecord,
  randomAlphanumeric,
  readNonEmptyString,
  unixSeconds,
} from './util';
import { NotifiedSummary } from './webhook-poster';

/** The API version the installed `stripe` SDK pins; events carry it like real ones do. */
export const STRIPE_API_VERSION = '2026-10-28.endive';

const MIN_SESSION_LIFETIME_S = 30 * 60;
const MAX_SESSION_LIFETIME_S = 24 * 60 * 60;

type SessionStatus = 'open' | 'complete' | 'expired';
type PaymentStatus = 'paid' | 'unpaid';

interface LineItem {
  name: string;
  currency: string;
  unitAmount: number;
  quantity: number;
}

interface Session {
  id: string;
  paymentIntentId: string;
  amountTotal: number;
  currency: string;
  clientReferenceId: string | null;
  customerEmail: string | null;
  metadata: Record<string, string>;
  mode: 'payment';
  successUrl: string | null;
  cancelUrl: string | null;
  created: number;
  expiresAt: number;
  status: SessionStatus;
  paymentStatus: PaymentStatus;
  lineItems: LineItem[];
}

interface PaymentIntent {
  id: string;
  amount: number;
  currency: string;
  metadata: Record<string, string>;
  status: 'requires_payment_method' | 'processing' | 'succeeded' | 'canceled';
  created: number;
  latestChargeId: string | null;
}

interface Charge {
  id: string;
  amount: number;
  amountRefunded: number;
  currency: string;
  paymentIntentId: string;
  metadata: Record<string, string>;
  created: number;
  disputed: boolean;
}

interface StripeEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  data: { object: Record<string, unknown>; previous_attributes?: Record<string, unknown> };
  livemode: false;
  pending_webhooks: number;
  request: { id: null; idempotency_key: null };
  type: string;
}

export type StripeControlOutcome =
  { ok: true; value: StripeControlAnswer } | { ok: false; status: number; message: string };

export interface StripeControlAnswer {
  session: Record<string, unknown>;
  event?: { id: string; type: string };
  charge?: Record<string, unknown>;
  dispute?: Record<string, unknown>;
  notified?: NotifiedSummary;
}

export interface StripeNotifyOptions {
  notify?: boolean;
  /** Posts the same event this many times concurrently (Stripe delivers duplicates). */
  count?: number;
}

function stripeId(prefix: string, length = 24): string {
  return `${prefix}_${randomAlphanumeric(length)}`;
}

function apiKeyError(header: string | string[] | undefined): ProviderErrorResponse | undefined {
  const key = bearerToken(Array.isArray(header) ? header[0] : header);
  if (key === undefined) {
    return stripeError(
      401,
      'invalid_request_error',
      "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
    );
  }
  if (!/^(sk|rk)_/.test(key)) {
    return stripeError(401, 'invalid_request_error', `Invalid API Key provided: ${key.slice(0, 8)}****`, {
      code: 'api_key_invalid',
    });
  }
  return undefined;
}

function missingParam(param: string): ProviderErrorResponse {
  return stripeError(400, 'invalid_request_error', `Missing required param: ${param}.`, {
    code: 'parameter_missing',
    param,
  });
}

function invalidParam(param: string, message: string): ProviderErrorResponse {
  return stripeError(400, 'invalid_request_error', message, { code: 'parameter_invalid', param });
}

/** Stripe integers arrive as form text; JSON numbers are accepted too. */
function readInteger(source: Record<string, unknown>, key: string): number | 'invalid' | undefined {
  const value = source[key];
  if (value === undefined || value === '') return undefined;
  if (typeof value === 'number') return Number.isInteger(value) ? value : 'invalid';
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
  return 'invalid';
}

/** Metadata is a flat string map; a form body with numeric keys would otherwise read as an array. */
function readMetadata(value: unknown): Record<string, string> | 'invalid' {
  if (value === undefined || value === '') return {};
  let entries: Array<[string, unknown]>;
  if (Array.isArray(value))
    entries = value.map((item: unknown, index): [string, unknown] => [String(index), item]);
  else if (isRecord(value)) entries = Object.entries(value);
  else return 'invalid';
  const out: Record<string, string> = {};
  for (const [key, item] of entries) {
    if (typeof item === 'string') out[key] = item;
    else if (typeof item === 'number' || typeof item === 'boolean') out[key] = String(item);
    else return 'invalid';
  }
  return Object.keys(out).length > 50 ? 'invalid' : out;
}

function isUrl(value: string): boolean {
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stripe: hosted Checkout Sessions for one-off card top-ups, their PaymentIntents and Charges,
 * and the signed events the control API triggers.
 */
export class StripeSandbox {
  private sessions = new Map<string, Session>();
  private paymentIntents = new Map<string, PaymentIntent>();
  private charges = new Map<string, Charge>();
  private events = new Map<string, StripeEvent>();
  private readonly idempotency = new IdempotencyStore();

  constructor(private readonly ctx: SandboxContext) {}

  reset(): void {
    this.sessions = new Map();
    this.paymentIntents = new Map();
    this.charges = new Map();
    this.events = new Map();
    this.idempotency.clear();
  }

  register(app: FastifyInstance): void {
    const config = { config: { provider: 'stripe' as const } };
    app.post(
      '/v1/checkout/sessions',
      config,
      handler((request) => this.createSession(request)),
    );
    app.get(
      '/v1/checkout/sessions/:id',
      config,
      handler((request) => this.getSession(request)),
    );
    app.post(
      '/v1/checkout/sessions/:id/expire',
      config,
      handler((request) => this.expireSessionApi(request)),
    );
    app.get(
      '/v1/payment_intents/:id',
      config,
      handler((request) => this.getPaymentIntent(request)),
    );
    app.get(
      '/v1/charges/:id',
      config,
      handler((request) => this.getCharge(request)),
    );
    app.get(
      '/v1/events/:id',
      config,
      handler((request) => this.getEvent(request)),
    );
  }

  private withRequestId(result: RouteResult): RouteResult {
    return { ...result, headers: { 'request-id': `req_${randomAlphanumeric(14)}`, ...result.headers } };
  }

  private createSession(request: FastifyRequest): RouteResult {
    const authError = apiKeyError(request.headers.authorization);
    if (authError !== undefined) return authError;
    const input = bodyOf(request);
    const idempotencyKey = headerValue(request.headers['idempotency-key']);
    if (idempotencyKey !== undefined) {
      const replay = this.idempotency.lookup('checkout.sessions', idempotencyKey, input);
      if (replay.kind === 'replay') {
        return this.withRequestId(ok(replay.body, replay.status, { 'idempotent-replayed': 'true' }));
      }
      if (replay.kind === 'conflict') {
        return stripeError(
          400,
          'idempotency_error',
          `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idempotencyKey}' if you meant to execute a different request.`,
        );
      }
    }
    const parsed = this.parseSession(input);
    if ('error' in parsed) return parsed.error;
    const session = parsed.session;
    this.sessions.set(session.id, session);
    this.paymentIntents.set(session.paymentIntentId, {
      id: session.paymentIntentId,
      amount: session.amountTotal,
      currency: session.currency,
      metadata: parsed.paymentIntentMetadata,
      status: 'requires_payment_method',
      created: session.created,
      latestChargeId: null,
    });
    const view = this.sessionView(session);
    if (idempotencyKey !== undefined)
      this.idempotency.remember('checkout.sessions', idempotencyKey, input, 200, view);
    return this.withRequestId(ok(view));
  }

  private parseSession(
    input: Record<string, unknown>,
  ): { session: Session; paymentIntentMetadata: Record<string, string> } | { error: ProviderErrorResponse } {
    const mode = input['mode'];
    if (mode === undefined || mode === '') return { error: missingParam('mode') };
    if (mode !== 'payment') {
      return { error: invalidParam('mode', 'The sandbox supports only mode=payment for Checkout Sessions.') };
    }
    const rawItems = input['line_items'];
    if (!Array.isArray(rawItems) || rawItems.length === 0) return { error: missingParam('line_items') };
    const lineItems: LineItem[] = [];
    for (let index = 0; index < rawItems.length; index += 1) {
      const param = `line_items[${index}]`;
      const item: unknown = rawItems[index];
      if (!isRecord(item)) return { error: invalidParam(param, `Invalid object for ${param}.`) };
      const price = readNonEmptyString(item, 'price');
      if (price !== undefined) {
        return {
          error: stripeError(400, 'invalid_request_error', `No such price: '${price}'`, {
            code: 'resource_missing',
            param: `${param}[price]`,
          }),
        };
      }
      const priceData = item['price_data'];
      if (!isRecord(priceData)) return { error: missingParam(`${param}[price_data]`) };
      const currency = readNonEmptyString(priceData, 'currency');
      if (currency === undefined) return { error: missingParam(`${param}[price_data][currency]`) };
      if (!/^[a-zA-Z]{3}$/.test(currency)) {
        return { error: invalidParam(`${param}[price_data][currency]`, `Invalid currency: ${currency}.`) };
      }
      const unitAmount = readInteger(priceData, 'unit_amount');
      if (unitAmount === undefined) return { error: missingParam(`${param}[price_data][unit_amount]`) };
      if (unitAmount === 'invalid' || unitAmount < 0) {
        return { error: invalidParam(`${param}[price_data][unit_amount]`, 'Invalid integer: unit_amount.') };
      }
      const productData = priceData['product_data'];
      const name = isRecord(productData) ? readNonEmptyString(productData, 'name') : undefined;
      if (name === undefined) return { error: missingParam(`${param}[price_data][product_data][name]`) };
      const quantity = readInteger(item, 'quantity');
      if (quantity === undefined) return { error: missingParam(`${param}[quantity]`) };
      if (quantity === 'invalid' || quantity < 1) {
        return { error: invalidParam(`${param}[quantity]`, 'Invalid integer: quantity.') };
      }
      lineItems.push({ name, currency: currency.toLowerCase(), unitAmount, quantity });
    }
    const currency = lineItems[0].currency;
    if (lineItems.some((item) => item.currency !== currency)) {
      return { error: invalidParam('line_items', 'All line items must use the same currency.') };
    }
    const metadata = readMetadata(input['metadata']);
    if (metadata === 'invalid') return { error: invalidParam('metadata', 'Invalid metadata.') };
    const paymentIntentData = input['payment_intent_data'];
    const paymentIntentMetadata = readMetadata(
      isRecord(paymentIntentData) ? paymentIntentData['metadata'] : undefined,
    );
    if (paymentIntentMetadata === 'invalid') {
      return { error: invalidParam('payment_intent_data[metadata]', 'Invalid metadata.') };
    }
    const urls: Record<'success_url' | 'cancel_url', string | null> = { success_url: null, cancel_url: null };
    for (const key of ['success_url', 'cancel_url'] as const) {
      const value = readNonEmptyString(input, key);
      if (value !== undefined && !isUrl(value)) return { error: invalidParam(key, 'Not a valid URL') };
      urls[key] = value ?? null;
    }
    const clientReferenceId = readNonEmptyString(input, 'client_reference_id') ?? null;
    if (clientReferenceId !== null && clientReferenceId.length > 200) {
      return {
        error: invalidParam('client_reference_id', 'client_reference_id must be at most 200 characters.'),
      };
    }
    const created = unixSeconds(this.ctx.now());
    let expiresAt = created + MAX_SESSION_LIFETIME_S;
    const requestedExpiry = readInteger(input, 'expires_at');
    if (requestedExpiry === 'invalid')
      return { error: invalidParam('expires_at', 'Invalid integer: expires_at.') };
    if (requestedExpiry !== undefined) {
      const lifetime = requestedExpiry - created;
      if (lifetime < MIN_SESSION_LIFETIME_S - 60 || lifetime > MAX_SESSION_LIFETIME_S + 60) {
        return {
          error: invalidParam(
            'expires_at',
            'The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.',
          ),
        };
      }
      expiresAt = requestedExpiry;
    }
    const session: Session = {
      id: stripeId('cs_test', 58),
      paymentIntentId: stripeId('pi'),
      amountTotal: lineItems.reduce((sum, item) => sum + item.unitAmount * item.quantity, 0),
      currency,
      clientReferenceId,
      customerEmail: readNonEmptyString(input, 'customer_email') ?? null,
      metadata,
      mode: 'payment',
      successUrl: urls.success_url,
      cancelUrl: urls.cancel_url,
      created,
      expiresAt,
      status: 'open',
      paymentStatus: 'unpaid',
      lineItems,
    };
    return { session, paymentIntentMetadata };
  }

  private getSession(request: FastifyRequest): RouteResult {
    const authError = apiKeyError(request.headers.authorization);
    if (authError !== undefined) return authError;
    const id = routeParams(request)['id'] ?? '';
    const session = this.findSession(id);
    if (session === undefined) return this.noSuch('checkout.session', id, 'session');
    const view = this.sessionView(session);
    const expand = queryOf(request)['expand'];
    const expansions = Array.isArray(expand) ? expand : typeof expand === 'string' ? [expand] : [];
    if (expansions.includes('payment_intent')) {
      const intent = this.paymentIntents.get(session.paymentIntentId);
      if (intent !== undefined) view['payment_intent'] = this.paymentIntentView(intent);
    }
    return this.withRequestId(ok(view));
  }

  private expireSessionApi(request: FastifyRequest): RouteResult {
    const authError = apiKeyError(request.headers.authorization);
    if (authError !== undefined) return authError;
    const id = routeParams(request)['id'] ?? '';
    const session = this.findSession(id);
    if (session === undefined) return this.noSuch('checkout.session', id, 'session');
    if (session.status !== 'open') {
      return stripeError(
        400,
        'invalid_request_error',
        `Only Checkout Sessions with a status of open can be expired.`,
        {
          code: 'checkout_session_not_open',
        },
      );
    }
    this.expire(session);
    return this.withRequestId(ok(this.sessionView(session)));
  }

  private getPaymentIntent(request: FastifyRequest): RouteResult {
    const authError = apiKeyError(request.headers.authorization);
    if (authError !== undefined) return authError;
    const id = routeParams(request)['id'] ?? '';
    const intent = this.paymentIntents.get(id);
    if (intent === undefined) return this.noSuch('payment_intent', id, 'intent');
    return this.withRequestId(ok(this.paymentIntentView(intent)));
  }

  private getCharge(request: FastifyRequest): RouteResult {
    const authError = apiKeyError(request.headers.authorization);
    if (authError !== undefined) return authError;
    const id = routeParams(request)['id'] ?? '';
    const charge = this.charges.get(id);
    if (charge === undefined) return this.noSuch('charge', id, 'id');
    return this.withRequestId(ok(this.chargeView(charge)));
  }

  private getEvent(request: FastifyRequest): RouteResult {
    const authError = apiKeyError(request.headers.authorization);
    if (authError !== undefined) return authError;
    const id = routeParams(request)['id'] ?? '';
    const event = this.events.get(id);
    if (event === undefined) return this.noSuch('event', id, 'id');
    return this.withRequestId(ok(event));
  }

  private noSuch(object: string, id: string, param: string): RouteResult {
    return stripeError(404, 'invalid_request_error', `No such ${object}: '${id}'`, {
      code: 'resource_missing',
      param,
    });
  }

  /** An open session past its `expires_at` is expired, as Stripe does on its own. */
  private findSession(id: string): Session | undefined {
    const session = this.sessions.get(id);
    if (
      session !== undefined &&
      session.status === 'open' &&
      unixSeconds(this.ctx.now()) >= session.expiresAt
    ) {
      this.expire(session);
    }
    return session;
  }

  private expire(session: Session): void {
    session.status = 'expired';
    const intent = this.paymentIntents.get(session.paymentIntentId);
    if (intent !== undefined && intent.status !== 'succeeded') intent.status = 'canceled';
  }

  private sessionView(session: Session): Record<string, unknown> {
    return {
      id: session.id,
      object: 'checkout.session',
      after_expiration: null,
      allow_promotion_codes: null,
      amount_subtotal: session.amountTotal,
      amount_total: session.amountTotal,
      cancel_url: session.cancelUrl,
      client_reference_id: session.clientReferenceId,
      created: session.created,
      currency: session.currency,
      customer: null,
      customer_email: session.customerEmail,
      expires_at: session.expiresAt,
      livemode: false,
      locale: null,
      metadata: { ...session.metadata },
      mode: session.mode,
      payment_intent: session.paymentIntentId,
      payment_method_types: ['card'],
      payment_status: session.paymentStatus,
      status: session.status,
      success_url: session.successUrl,
      ui_mode: 'hosted',
      // Stripe only hands out the hosted page while the session can still be paid.
      url: session.status === 'open' ? `${this.ctx.baseUrl()}/checkout/${session.id}` : null,
    };
  }

  private paymentIntentView(intent: PaymentIntent): Record<string, unknown> {
    return {
      id: intent.id,
      object: 'payment_intent',
      amount: intent.amount,
      amount_received: intent.status === 'succeeded' ? intent.amount : 0,
      currency: intent.currency,
      created: intent.created,
      latest_charge: intent.latestChargeId,
      livemode: false,
      metadata: { ...intent.metadata },
      payment_method_types: ['card'],
      status: intent.status,
    };
  }

  private chargeView(charge: Charge): Record<string, unknown> {
    return {
      id: charge.id,
      object: 'charge',
      amount: charge.amount,
      amount_captured: charge.amount,
      amount_refunded: charge.amountRefunded,
      captured: true,
      created: charge.created,
      currency: charge.currency,
      disputed: charge.disputed,
      livemode: false,
      metadata: { ...charge.metadata },
      paid: true,
      payment_intent: charge.paymentIntentId,
      refunded: charge.amountRefunded >= charge.amount,
      status: 'succeeded',
    };
  }

  // ---- control --------------------------------------------------------------------------------

  getSessionView(id: string): Record<string, unknown> | undefined {
    const session = this.findSession(id);
    return session === undefined ? undefined : this.sessionView(session);
  }

  getSessionUrls(id: string): { successUrl: string | null; cancelUrl: string | null } | undefined {
    const session = this.sessions.get(id);
    return session === undefined
      ? undefined
      : { successUrl: session.successUrl, cancelUrl: session.cancelUrl };
  }

  describeSession(
    id: string,
  ): { amountTotal: number; currency: string; status: SessionStatus; items: LineItem[] } | undefined {
    const session = this.findSession(id);
    if (session === undefined) return undefined;
    return {
      amountTotal: session.amountTotal,
      currency: session.currency,
      status: session.status,
      items: session.lineItems.map((item) => ({ ...item })),
    };
  }

  async complete(
    id: string,
    paymentStatus: PaymentStatus,
    options: StripeNotifyOptions,
  ): Promise<StripeControlOutcome> {
    const session = this.findSession(id);
    if (session === undefined) return { ok: false, status: 404, message: `unknown checkout session ${id}` };
    if (session.status !== 'open') {
      return { ok: false, status: 409, message: `checkout session ${id} is ${session.status}, not open` };
    }
    session.status = 'complete';
    session.paymentStatus = paymentStatus;
    const intent = this.paymentIntents.get(session.paymentIntentId);
    if (intent !== undefined) {
      if (paymentStatus === 'paid') this.capture(intent);
      else intent.status = 'processing';
    }
    return this.answer(session, 'checkout.session.completed', this.sessionView(session), options);
  }

  /** Settles a session completed as `unpaid` (boleto, PIX by Stripe, bank debits). */
  async settleAsyncPayment(
    id: string,
    result: 'succeeded' | 'failed',
    options: StripeNotifyOptions,
  ): Promise<StripeControlOutcome> {
    const session = this.findSession(id);
    if (session === undefined) return { ok: false, status: 404, message: `unknown checkout session ${id}` };
    if (session.status !== 'complete' || session.paymentStatus !== 'unpaid') {
      return { ok: false, status: 409, message: `checkout session ${id} is not complete and unpaid` };
    }
    const intent = this.paymentIntents.get(session.paymentIntentId);
    if (result === 'succeeded') {
      session.paymentStatus = 'paid';
      if (intent !== undefined) this.capture(intent);
    } else if (intent !== undefined) {
      intent.status = 'requires_payment_method';
    }
    return this.answer(
      session,
      `checkout.session.async_payment_${result}`,
      this.sessionView(session),
      options,
    );
  }

  async expireSession(id: string, options: StripeNotifyOptions): Promise<StripeControlOutcome> {
    const session = this.findSession(id);
    if (session === undefined) return { ok: false, status: 404, message: `unknown checkout session ${id}` };
    if (session.status === 'complete') {
      return { ok: false, status: 409, message: `checkout session ${id} is complete` };
    }
    this.expire(session);
    return this.answer(session, 'checkout.session.expired', this.sessionView(session), options);
  }

  async refund(
    id: string,
    amountCents: number | undefined,
    options: StripeNotifyOptions,
  ): Promise<StripeControlOutcome> {
    const found = this.chargeOf(id);
    if (!found.ok) return found;
    const { session, charge } = found;
    const remaining = charge.amount - charge.amountRefunded;
    const amount = amountCents ?? remaining;
    if (!Number.isInteger(amount) || amount < 1 || amount > remaining) {
      return { ok: false, status: 400, message: `amountCents must be an integer 1..${remaining}` };
    }
    const previous = { amount_refunded: charge.amountRefunded, refunded: false };
    charge.amountRefunded += amount;
    const view = this.chargeView(charge);
    return this.answer(session, 'charge.refunded', view, options, { charge: view }, previous);
  }

  async dispute(id: string, reason: string, options: StripeNotifyOptions): Promise<StripeControlOutcome> {
    const found = this.chargeOf(id);
    if (!found.ok) return found;
    const { session, charge } = found;
    if (charge.disputed)
      return { ok: false, status: 409, message: `charge ${charge.id} is already disputed` };
    charge.disputed = true;
    const dispute = {
      id: stripeId('dp'),
      object: 'dispute',
      amount: charge.amount - charge.amountRefunded,
      charge: charge.id,
      created: unixSeconds(this.ctx.now()),
      currency: charge.currency,
      is_charge_refundable: false,
      livemode: false,
      // A dispute has metadata of its own (empty); match it through payment_intent or the charge.
      metadata: {},
      payment_intent: charge.paymentIntentId,
      reason,
      status: 'needs_response',
    };
    return this.answer(session, 'charge.dispute.created', dispute, options, { dispute });
  }

  private chargeOf(
    id: string,
  ): { ok: true; session: Session; charge: Charge } | { ok: false; status: number; message: string } {
    const session = this.findSession(id);
    if (session === undefined) return { ok: false, status: 404, message: `unknown checkout session ${id}` };
    const intent = this.paymentIntents.get(session.paymentIntentId);
    const charge = intent?.latestChargeId == null ? undefined : this.charges.get(intent.latestChargeId);
    if (charge === undefined)
      return { ok: false, status: 409, message: `checkout session ${id} has not been paid` };
    return { ok: true, session, charge };
  }

  private capture(intent: PaymentIntent): void {
    intent.status = 'succeeded';
    if (intent.latestChargeId !== null) return;
    const charge: Charge = {
      id: stripeId('ch'),
      amount: intent.amount,
      amountRefunded: 0,
      currency: intent.currency,
      paymentIntentId: intent.id,
      metadata: { ...intent.metadata },
      created: unixSeconds(this.ctx.now()),
      disputed: false,
    };
    this.charges.set(charge.id, charge);
    intent.latestChargeId = charge.id;
  }

  private async answer(
    session: Session,
    type: string,
    object: Record<string, unknown>,
    options: StripeNotifyOptions,
    extra: Partial<StripeControlAnswer> = {},
    previousAttributes?: Record<string, unknown>,
  ): Promise<StripeControlOutcome> {
    const event: StripeEvent = {
      id: stripeId('evt'),
      object: 'event',
      api_version: STRIPE_API_VERSION,
      created: unixSeconds(this.ctx.now()),
      data:
        previousAttributes === undefined ? { object } : { object, previous_attributes: previousAttributes },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
    };
    this.events.set(event.id, event);
    const value: StripeControlAnswer = {
      session: this.sessionView(session),
      event: { id: event.id, type },
      ...extra,
    };
    if (options.notify === true) value.notified = await this.postEvent(event, options.count ?? 1);
    return { ok: true, value };
  }

  private postEvent(event: StripeEvent, count: number): Promise<NotifiedSummary> {
    // Stripe sends pretty-printed JSON; the signature covers exactly these bytes.
    const rawBody = JSON.stringify(event, null, 2);
    return this.ctx.poster.postMany(count, () => {
      const t = unixSeconds(this.ctx.now());
      return {
        url: `${this.ctx.settings.webhookBaseUrl}/v1/webhooks/stripe`,
        rawBody,
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
          'stripe-signature': stripeSignatureHeader(this.ctx.settings.stripeWebhookSecret, rawBody, t),
        },
      };
    });
  }
}

export function isStripePaymentStatus(value: unknown): value is PaymentStatus {
  return value === 'paid' || value === 'unpaid';
}
