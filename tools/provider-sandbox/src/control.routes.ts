import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FaultRegistry, parseFaultSpec } from './faults';
import { RouteResult, bodyOf, controlError, handler, ok, queryOf, routeParams } from './http';
import { MercadoPagoSandbox, isPaymentStatus, isPreapprovalStatus } from './mercadopago.routes';
import { MetaSandbox } from './meta.routes';
import { RequestLog } from './request-log';
import { StripeControlOutcome, StripeSandbox, isStripePaymentStatus } from './stripe.routes';
import { isProviderName, readBoolean, readNonEmptyString, readNumber, readString } from './util';
import { WhatsAppSandbox } from './whatsapp.routes';

export interface ControlDependencies {
  mercadoPago: MercadoPagoSandbox;
  stripe: StripeSandbox;
  meta: MetaSandbox;
  whatsapp: WhatsAppSandbox;
  faults: FaultRegistry;
  requestLog: RequestLog;
  reset: () => void;
}

const MAX_DUPLICATES = 100;

/** Control bodies are small; each reader collects every problem so one answer names them all. */
class BodyReader {
  readonly errors: string[] = [];

  constructor(readonly source: Record<string, unknown>) {}

  optionalBoolean(key: string): boolean | undefined {
    const value = this.source[key];
    if (value === undefined) return undefined;
    const parsed = readBoolean(this.source, key);
    if (parsed === undefined) this.errors.push(`${key} must be a boolean`);
    return parsed;
  }

  optionalInteger(key: string, min: number, max: number): number | undefined {
    const value = this.source[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.errors.push(`${key} must be an integer ${min}..${max}`);
      return undefined;
    }
    return value;
  }

  optionalNumber(key: string): number | undefined {
    const value = this.source[key];
    if (value === undefined) return undefined;
    const parsed = readNumber(this.source, key);
    if (parsed === undefined) this.errors.push(`${key} must be a number`);
    return parsed;
  }

  optionalString(key: string): string | undefined {
    const value = this.source[key];
    if (value === undefined) return undefined;
    const parsed = readNonEmptyString(this.source, key);
    if (parsed === undefined) this.errors.push(`${key} must be a non-empty string`);
    return parsed;
  }

  /** Ids may come as JSON numbers from a test that holds them as numbers. */
  requiredId(key: string): string {
    const value = this.source[key];
    if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
    const parsed = readNonEmptyString(this.source, key);
    if (parsed === undefined) {
      this.errors.push(`${key} is required (non-empty string)`);
      return '';
    }
    return parsed;
  }

  requiredString(key: string): string {
    const parsed = readString(this.source, key);
    if (parsed === undefined || parsed === '') {
      this.errors.push(`${key} is required (non-empty string)`);
      return '';
    }
    return parsed;
  }

  count(): number | undefined {
    return this.optionalInteger('count', 1, MAX_DUPLICATES);
  }

  invalid(): RouteResult | undefined {
    return this.errors.length === 0 ? undefined : controlError(400, 'invalid control request', this.errors);
  }
}

function reader(request: FastifyRequest): BodyReader {
  return new BodyReader(bodyOf(request));
}

function stripeAnswer(outcome: StripeControlOutcome): RouteResult {
  return outcome.ok ? ok(outcome.value) : controlError(outcome.status, outcome.message);
}

/**
 * The test-and-demo API under `/_sandbox`. Never called by the platform's own code paths, so it
 * is neither logged nor subject to faults.
 */
export function registerControlRoutes(app: FastifyInstance, deps: ControlDependencies): void {
  const { mercadoPago, stripe, meta, whatsapp, faults, requestLog } = deps;

  app.get(
    '/_sandbox/health',
    handler(() => ok({ status: 'ok' })),
  );

  app.post(
    '/_sandbox/reset',
    handler(() => {
      deps.reset();
      return ok({ status: 'reset' });
    }),
  );

  app.get(
    '/_sandbox/requests',
    handler((request) => {
      const q = queryOf(request);
      const provider = q['provider'];
      if (provider !== undefined && provider !== '' && !isProviderName(provider)) {
        return controlError(400, 'provider must be one of mercadopago, stripe, meta, openai');
      }
      const rawLimit = q['limit'];
      const limit = rawLimit === undefined || rawLimit === '' ? 100 : Number(rawLimit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        return controlError(400, 'limit must be 1..1000');
      return ok({
        items: requestLog.list({ provider: isProviderName(provider) ? provider : undefined, limit }),
      });
    }),
  );

  // ---- faults ---------------------------------------------------------------------------------

  app.post(
    '/_sandbox/faults',
    handler((request) => {
      const parsed = parseFaultSpec(request.body);
      if (!parsed.ok) return controlError(400, 'invalid fault', parsed.errors);
      return ok({ fault: faults.add(parsed.spec) }, 201);
    }),
  );
  app.get(
    '/_sandbox/faults',
    handler((request) => {
      const provider = queryOf(request)['provider'];
      return ok({ items: faults.list(isProviderName(provider) ? provider : undefined) });
    }),
  );
  app.delete(
    '/_sandbox/faults',
    handler((request) => {
      const provider = queryOf(request)['provider'];
      return ok({ cleared: faults.clear(isProviderName(provider) ? provider : undefined) });
    }),
  );

  // ---- Mercado Pago ---------------------------------------------------------------------------

  app.get(
    '/_sandbox/mercadopago/payments/:id',
    handler((request) => {
      const view = mercadoPago.getPaymentView(routeParams(request)['id']);
      return view === undefined ? controlError(404, 'unknown payment') : ok({ payment: view });
    }),
  );

  app.post(
    '/_sandbox/mercadopago/payments/:id/status',
    handler(async (request) => {
      const id = routeParams(request)['id'];
      const body = reader(request);
      const status = body.source['status'];
      if (!isPaymentStatus(status)) {
        body.errors.push(
          'status must be one of pending, approved, authorized, in_process, in_mediation, rejected, cancelled, refunded, charged_back',
        );
      }
      const statusDetail = body.optionalString('statusDetail');
      const refundAmount = body.optionalNumber('refundAmount');
      const notify = body.optionalBoolean('notify');
      const count = body.count();
      const invalid = body.invalid();
      if (invalid !== undefined || !isPaymentStatus(status))
        return invalid ?? controlError(400, 'invalid status');
      const changed = mercadoPago.setPaymentStatus(id, { status, statusDetail, refundAmount });
      if (!changed.ok) return controlError(changed.status, changed.message);
      if (notify !== true) return ok({ payment: changed.value });
      // A status change is a new notification, never a re-delivery of the previous one.
      const notified = await mercadoPago.notifyPayment(id, { count, fresh: true });
      if (!notified.ok) return controlError(notified.status, notified.message);
      return ok({ payment: mercadoPago.getPaymentView(id), notified: notified.value });
    }),
  );

  app.post(
    '/_sandbox/mercadopago/payments/:id/notify',
    handler(async (request) => {
      const id = routeParams(request)['id'];
      const body = reader(request);
      const count = body.count();
      const fresh = body.optionalBoolean('fresh');
      const action = body.optionalString('action');
      const invalid = body.invalid();
      if (invalid !== undefined) return invalid;
      const notified = await mercadoPago.notifyPayment(id, { count, fresh, action });
      if (!notified.ok) return controlError(notified.status, notified.message);
      return ok({ payment: mercadoPago.getPaymentView(id), notified: notified.value });
    }),
  );

  app.get(
    '/_sandbox/mercadopago/preapproval/:id',
    handler((request) => {
      const view = mercadoPago.getPreapprovalView(routeParams(request)['id']);
      return view === undefined ? controlError(404, 'unknown preapproval') : ok({ preapproval: view });
    }),
  );

  app.post(
    '/_sandbox/mercadopago/preapproval/:id/status',
    handler(async (request) => {
      const id = routeParams(request)['id'];
      const body = reader(request);
      const status = body.source['status'];
      if (!isPreapprovalStatus(status))
        body.errors.push('status must be one of pending, authorized, paused, cancelled');
      const notify = body.optionalBoolean('notify');
      const count = body.count();
      const invalid = body.invalid();
      if (invalid !== undefined || !isPreapprovalStatus(status))
        return invalid ?? controlError(400, 'invalid status');
      const changed = mercadoPago.setPreapprovalStatus(id, status);
      if (!changed.ok) return controlError(changed.status, changed.message);
      if (notify !== true) return ok({ preapproval: changed.value });
      const notified = await mercadoPago.notifyPreapproval(id, { count, fresh: true });
      if (!notified.ok) return controlError(notified.status, notified.message);
      return ok({ preapproval: changed.value, notified: notified.value });
    }),
  );

  app.post(
    '/_sandbox/mercadopago/preapproval/:id/notify',
    handler(async (request) => {
      const id = routeParams(request)['id'];
      const body = reader(request);
      const count = body.count();
      const fresh = body.optionalBoolean('fresh');
      const action = body.optionalString('action');
      const invalid = body.invalid();
      if (invalid !== undefined) return invalid;
      const notified = await mercadoPago.notifyPreapproval(id, { count, fresh, action });
      if (!notified.ok) return controlError(notified.status, notified.message);
      return ok({ preapproval: mercadoPago.getPreapprovalView(id), notified: notified.value });
    }),
  );

  // ---- Stripe ---------------------------------------------------------------------------------

  const session = '/_sandbox/stripe/checkout/sessions/:id';

  app.get(
    session,
    handler((request) => {
      const view = stripe.getSessionView(routeParams(request)['id']);
      return view === undefined ? controlError(404, 'unknown checkout session') : ok({ session: view });
    }),
  );

  app.post(
    `${session}/complete`,
    handler(async (request) => {
      const body = reader(request);
      const notify = body.optionalBoolean('notify');
      const count = body.count();
      const paymentStatus = body.source['paymentStatus'] ?? 'paid';
      if (!isStripePaymentStatus(paymentStatus)) body.errors.push('paymentStatus must be paid or unpaid');
      const invalid = body.invalid();
      if (invalid !== undefined || !isStripePaymentStatus(paymentStatus)) {
        return invalid ?? controlError(400, 'invalid paymentStatus');
      }
      return stripeAnswer(
        await stripe.complete(routeParams(request)['id'], paymentStatus, { notify, count }),
      );
    }),
  );

  app.post(
    `${session}/async-payment`,
    handler(async (request) => {
      const body = reader(request);
      const notify = body.optionalBoolean('notify');
      const count = body.count();
      const result = body.source['result'] ?? 'succeeded';
      if (result !== 'succeeded' && result !== 'failed')
        body.errors.push('result must be succeeded or failed');
      const invalid = body.invalid();
      if (invalid !== undefined || (result !== 'succeeded' && result !== 'failed')) {
        return invalid ?? controlError(400, 'invalid result');
      }
      return stripeAnswer(
        await stripe.settleAsyncPayment(routeParams(request)['id'], result, { notify, count }),
      );
    }),
  );

  app.post(
    `${session}/expire`,
    handler(async (request) => {
      const body = reader(request);
      const notify = body.optionalBoolean('notify');
      const count = body.count();
      const invalid = body.invalid();
      if (invalid !== undefined) return invalid;
      return stripeAnswer(await stripe.expireSession(routeParams(request)['id'], { notify, count }));
    }),
  );

  app.post(
    `${session}/refund`,
    handler(async (request) => {
      const body = reader(request);
      const notify = body.optionalBoolean('notify');
      const count = body.count();
      const amountCents = body.optionalInteger('amountCents', 1, Number.MAX_SAFE_INTEGER);
      const invalid = body.invalid();
      if (invalid !== undefined) return invalid;
      return stripeAnswer(await stripe.refund(routeParams(request)['id'], amountCents, { notify, count }));
    }),
  );

  app.post(
    `${session}/dispute`,
    handler(async (request) => {
      const body = reader(request);
      const notify = body.optionalBoolean('notify');
      const count = body.count();
      const reason = body.optionalString('reason') ?? 'fraudulent';
      const invalid = body.invalid();
      if (invalid !== undefined) return invalid;
      return stripeAnswer(await stripe.dispute(routeParams(request)['id'], reason, { notify, count }));
    }),
  );

  // ---- Meta: Marketing API --------------------------------------------------------------------

  app.get(
    '/_sandbox/meta/campaigns',
    handler(() => ok({ items: meta.listCampaignViews() })),
  );

  app.get(
    '/_sandbox/meta/campaigns/:id',
    handler((request) => {
      const view = meta.getCampaignView(routeParams(request)['id']);
      return view === undefined ? controlError(404, 'unknown campaign') : ok({ campaign: view });
    }),
  );

  app.post(
    '/_sandbox/meta/campaigns/:id/spend',
    handler((request) => {
      const body = reader(request);
      const amountCents = body.optionalInteger('amountCents', 1, Number.MAX_SAFE_INTEGER);
      if (amountCents === undefined && body.errors.length === 0) body.errors.push('amountCents is required');
      const invalid = body.invalid();
      if (invalid !== undefined || amountCents === undefined)
        return invalid ?? controlError(400, 'amountCents');
      const campaign = meta.addSpend(routeParams(request)['id'], amountCents);
      return campaign === undefined ? controlError(404, 'unknown campaign') : ok({ campaign });
    }),
  );

  // ---- Meta: tokens, Embedded Signup, WhatsApp ------------------------------------------------

  app.post(
    '/_sandbox/meta/tokens/:token',
    handler((request) => {
      const body = reader(request);
      const isValid = body.optionalBoolean('isValid');
      const expiresAt = body.optionalInteger('expiresAt', 0, Number.MAX_SAFE_INTEGER);
      const scopes = body.source['scopes'];
      if (
        scopes !== undefined &&
        (!Array.isArray(scopes) || scopes.some((scope) => typeof scope !== 'string'))
      ) {
        body.errors.push('scopes must be an array of strings');
      }
      const invalid = body.invalid();
      if (invalid !== undefined) return invalid;
      return ok(
        whatsapp.setToken(routeParams(request)['token'], {
          isValid,
          expiresAt,
          scopes: Array.isArray(scopes) ? scopes.map(String) : undefined,
        }),
      );
    }),
  );

  app.post(
    '/_sandbox/meta/oauth/codes',
    handler((request) => {
      const body = reader(request);
      const code = body.optionalString('code');
      const rawExpiresIn = body.source['expiresIn'];
      const expiresIn =
        rawExpiresIn === null || rawExpiresIn === 0
          ? null
          : body.optionalInteger('expiresIn', 1, 10 * 365 * 86400);
      const wabaId = body.optionalString('wabaId');
      const phoneNumberId = body.optionalString('phoneNumberId');
      const displayPhoneNumber = body.optionalString('displayPhoneNumber');
      const verifiedName = body.optionalString('verifiedName');
      if (phoneNumberId !== undefined && wabaId === undefined) body.errors.push('phoneNumberId needs wabaId');
      const invalid = body.invalid();
      if (invalid !== undefined) return invalid;
      const minted = whatsapp.mintCode({
        code,
        expiresIn: rawExpiresIn === undefined ? undefined : expiresIn,
        wabaId,
        phoneNumberId,
        displayPhoneNumber,
        verifiedName,
      });
      return ok(minted, 201);
    }),
  );

  app.post(
    '/_sandbox/meta/wabas/:wabaId/phone-numbers',
    handler((request) => {
      const body = reader(request);
      const id = body.optionalString('id');
      const displayPhoneNumber = body.optionalString('displayPhoneNumber');
      const verifiedName = body.optionalString('verifiedName');
      const invalid = body.invalid();
      if (invalid !== undefined) return invalid;
      const phoneNumber = whatsapp.registerPhoneNumber(routeParams(request)['wabaId'], {
        id,
        displayPhoneNumber,
        verifiedName,
      });
      return ok({ phoneNumber }, 201);
    }),
  );

  app.post(
    '/_sandbox/meta/whatsapp/inbound',
    handler(async (request) => {
      const body = reader(request);
      const phoneNumberId = body.requiredId('phoneNumberId');
      const from = body.requiredId('from');
      const text = body.requiredString('text');
      const messageId = body.optionalString('messageId');
      const wabaId = body.optionalString('wabaId');
      const displayPhoneNumber = body.optionalString('displayPhoneNumber');
      const profileName = body.optionalString('profileName');
      const count = body.count();
      const invalid = body.invalid();
      if (invalid !== undefined) return invalid;
      const answer = await whatsapp.postInbound({
        phoneNumberId,
        from,
        text,
        messageId,
        wabaId,
        displayPhoneNumber,
        profileName,
        count,
      });
      return ok({ ...answer, phoneNumberId });
    }),
  );

  app.post(
    '/_sandbox/meta/whatsapp/status',
    handler(async (request) => {
      const body = reader(request);
      const messageId = body.requiredString('messageId');
      const status = body.source['status'] ?? 'delivered';
      if (status !== 'sent' && status !== 'delivered' && status !== 'read' && status !== 'failed') {
        body.errors.push('status must be sent, delivered, read or failed');
      }
      const phoneNumberId = body.optionalString('phoneNumberId');
      const recipientId = body.optionalString('recipientId');
      const count = body.count();
      const invalid = body.invalid();
      if (invalid !== undefined) return invalid;
      if (status !== 'sent' && status !== 'delivered' && status !== 'read' && status !== 'failed') {
        return controlError(400, 'invalid status');
      }
      const answer = await whatsapp.postStatus({ messageId, status, phoneNumberId, recipientId, count });
      return answer === undefined
        ? controlError(
            404,
            'unknown messageId: give phoneNumberId and recipientId for a message the sandbox did not send',
          )
        : ok(answer);
    }),
  );

  app.get(
    '/_sandbox/meta/whatsapp/messages',
    handler((request) => {
      const q = queryOf(request);
      const limit = Number(q['limit'] ?? 100);
      return ok({
        items: whatsapp.sentMessages({
          phoneNumberId: readNonEmptyString(q, 'phoneNumberId'),
          to: readNonEmptyString(q, 'to'),
          limit: Number.isInteger(limit) && limit > 0 ? Math.min(limit, 1000) : 100,
        }),
      });
    }),
  );

  app.post(
    '/_sandbox/meta/partner-added',
    handler(async (request) => {
      const body = reader(request);
      const wabaId = body.requiredId('wabaId');
      const ownerBusinessId = body.requiredId('ownerBusinessId');
      const event = body.optionalString('event');
      const partnerAppId = body.optionalString('partnerAppId');
      const entryId = body.optionalString('entryId');
      const count = body.count();
      const invalid = body.invalid();
      if (invalid !== undefined) return invalid;
      const answer = await whatsapp.postPartnerEvent({
        wabaId,
        ownerBusinessId,
        event,
        partnerAppId,
        entryId,
        count,
      });
      return ok({ ...answer, wabaId });
    }),
  );
}
