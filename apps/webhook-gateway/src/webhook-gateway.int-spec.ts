import { randomUUID } from 'node:crypto';
import { EVENTS, WebhookProvider, WhatsAppNumberMapped } from '@realapp/contracts';
import { OutboxService } from '@realapp/messaging';
import { signMercadoPago, signMeta, signStripe } from '@realapp/payments';
import {
  createTestDatabase,
  expectEventually,
  startTestSandbox,
  testEnv,
  TestDatabase,
  TestSandbox,
} from '@realapp/testing';
import { buildWebhookEnvelope } from '@realapp/webhooks';
import { RunningGateway, startGateway } from './testing/gateway.test-helper';

// The projects' testTimeout in jest.config.js does not take effect (jest 30 reads it globally only).
jest.setTimeout(90_000);

const MP_SECRET = 'dev-mercadopago-webhook-secret';
const MP_NEXT_SECRET = 'next-mercadopago-webhook-secret';
const STRIPE_SECRET = 'whsec_dev_stripe_webhook_secret';
const STRIPE_NEXT_SECRET = 'whsec_next_stripe_webhook_secret';
const META_SECRET = 'dev-meta-app-secret';
const OPS = { 'x-ops-key': 'dev-ops-api-key' };

interface StoredRow {
  id: string;
  provider: string;
  provider_event_id: string;
  topic: string;
  resource_id: string | null;
  status: string;
  last_error: string | null;
  tenant_id: string | null;
  headers: Record<string, string>;
  raw: string;
}

let nextId = 9_100_000_000 + Math.floor(Math.random() * 1_000_000);
const uniqueId = (): number => ++nextId;

describe('webhook-gateway on the real database and broker', () => {
  let db: TestDatabase;
  let gateway: RunningGateway;
  let sandbox: TestSandbox;

  const events = async (provider: string, providerEventId: string): Promise<StoredRow[]> =>
    (await gateway.dataSource.query(
      `SELECT id, provider, provider_event_id, topic, resource_id, status, last_error, tenant_id, headers,
              convert_from(raw_body, 'UTF8') AS raw
       FROM webhooks.events WHERE provider = $1 AND provider_event_id = $2`,
      [provider, providerEventId],
    )) as StoredRow[];
  const outboxRows = async (
    webhookEventId: string,
  ): Promise<Array<{ type: string; envelope: Record<string, unknown> }>> =>
    (await gateway.dataSource.query(
      `SELECT type, envelope FROM messaging.outbox_log WHERE envelope -> 'data' ->> 'webhookEventId' = $1 ORDER BY seq`,
      [webhookEventId],
    )) as Array<{ type: string; envelope: Record<string, unknown> }>;
  const totals = async (): Promise<{ events: number; outbox: number }> => {
    const [row] = (await gateway.dataSource.query(
      `SELECT (SELECT count(*) FROM webhooks.events)::int AS events, (SELECT count(*) FROM messaging.outbox_log)::int AS outbox`,
    )) as Array<{ events: number; outbox: number }>;
    return row;
  };

  /** A Mercado Pago notification as Mercado Pago sends it; `tamper` changes it after signing. */
  function mercadoPagoWebhook(
    options: { notificationId?: number; dataId?: string; secret?: string; ts?: string; body?: string } = {},
  ): { url: string; init: RequestInit; notificationId: number } {
    const notificationId = options.notificationId ?? uniqueId();
    const dataId = options.dataId ?? String(uniqueId());
    const requestId = randomUUID();
    const body =
      options.body ??
      JSON.stringify({
        id: notificationId,
        live_mode: false,
        type: 'payment',
        date_created: new Date().toISOString(),
        user_id: 1,
        api_version: 'v1',
        action: 'payment.updated',
        data: { id: dataId },
      });
    return {
      notificationId,
      url: `${gateway.url}/v1/webhooks/mercadopago?data.id=${dataId}&type=payment`,
      init: {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-request-id': requestId,
          'x-signature': signMercadoPago({
            secret: options.secret ?? MP_SECRET,
            dataId,
            xRequestId: requestId,
            ts: options.ts,
          }),
        },
        body,
      },
    };
  }

  function stripeWebhook(
    options: { eventId?: string; secret?: string; timestamp?: number; tenantId?: string } = {},
  ): {
    eventId: string;
    body: string;
    init: RequestInit;
  } {
    const eventId = options.eventId ?? `evt_${randomUUID().replace(/-/g, '')}`;
    const body = JSON.stringify(
      {
        id: eventId,
        object: 'event',
        type: 'checkout.session.completed',
        data: {
          object: {
            id: `cs_test_${uniqueId()}`,
            payment_status: 'paid',
            metadata: { tenantId: options.tenantId ?? randomUUID() },
          },
        },
      },
      null,
      2,
    );
    return {
      eventId,
      body,
      init: {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'stripe-signature': signStripe({
            secret: options.secret ?? STRIPE_SECRET,
            rawBody: body,
            timestamp: options.timestamp,
          }),
        },
        body,
      },
    };
  }

  const post = (url: string, init: RequestInit): Promise<Response> => fetch(url, init);

  beforeAll(async () => {
    db = await createTestDatabase();
    gateway = await startGateway(
      testEnv(db.url, {
        MERCADO_PAGO_WEBHOOK_SECRET: `${MP_SECRET},${MP_NEXT_SECRET}`,
        STRIPE_WEBHOOK_SECRET: `${STRIPE_SECRET}, ${STRIPE_NEXT_SECRET}`,
      }),
    );
    sandbox = await startTestSandbox(gateway.url);
  });

  afterAll(async () => {
    await sandbox?.close();
    await gateway?.close();
    await db?.drop();
  });

  describe('Mercado Pago', () => {
    it('stores a signed notification with its outbox event before answering 200, and a retry publishes nothing new', async () => {
      const created = await fetch(`${sandbox.url}/v1/payments`, {
        method: 'POST',
        headers: {
          authorization: 'Bearer TEST-token',
          'content-type': 'application/json',
          'x-idempotency-key': randomUUID(),
        },
        body: JSON.stringify({
          transaction_amount: 90,
          payment_method_id: 'pix',
          payer: { email: 'buyer@example.com' },
          description: 'Saldo',
          external_reference: randomUUID(),
        }),
      });
      const payment = (await created.json()) as { id: number };
      const approved = (await (
        await fetch(`${sandbox.url}/_sandbox/mercadopago/payments/${payment.id}/status`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ status: 'approved', notify: true }),
        })
      ).json()) as { notified: { status: number; responseBody: string } };
      expect(approved.notified.status).toBe(200);
      expect(JSON.parse(approved.notified.responseBody)).toEqual({ received: true });

      const stored = await gateway.dataSource.query(
        `SELECT provider_event_id FROM webhooks.events WHERE provider = 'mercadopago' AND resource_id = $1`,
        [String(payment.id)],
      );
      expect(stored).toHaveLength(1);
      const [event] = await events(
        'mercadopago',
        (stored as Array<{ provider_event_id: string }>)[0].provider_event_id,
      );
      expect(event).toMatchObject({
        topic: 'payment',
        resource_id: String(payment.id),
        status: 'received',
        tenant_id: null,
      });
      expect(event.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(event.headers['x-signature']).toBeUndefined();
      const [outbox] = await outboxRows(event.id);
      expect(outbox.type).toBe('webhook.mercadopago.received');
      expect(outbox.envelope).toMatchObject({
        type: 'webhook.mercadopago.received',
        version: 1,
        tenantId: null,
        data: {
          webhookEventId: event.id,
          provider: 'mercadopago',
          topic: 'payment',
          resourceId: String(payment.id),
        },
      });

      // Mercado Pago re-delivers the same notification (same id, new x-request-id): nothing new.
      const again = (await (
        await fetch(`${sandbox.url}/_sandbox/mercadopago/payments/${payment.id}/notify`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ count: 3 }),
        })
      ).json()) as { notified: { statuses: number[] } };
      expect(again.notified.statuses).toEqual([200, 200, 200]);
      expect(await events('mercadopago', event.provider_event_id)).toHaveLength(1);
      expect(await outboxRows(event.id)).toHaveLength(1);
    });

    it('answers alike on the bare path and through Fastify (a request with an Origin), carrying the correlation id into the event', async () => {
      for (const [correlationId, origin] of [
        ['mp-bare-1', undefined],
        ['mp-fastify-1', 'https://dashboard.example'],
      ] as const) {
        const webhook = mercadoPagoWebhook();
        const headers = new Headers(webhook.init.headers);
        headers.set('x-correlation-id', correlationId);
        if (origin) headers.set('origin', origin);
        const res = await post(webhook.url, { ...webhook.init, headers });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
        expect(await res.json()).toEqual({ received: true });
        expect(res.headers.get('x-correlation-id')).toBe(correlationId);
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        expect(res.headers.get('x-powered-by')).toBeNull();
        const [event] = await events('mercadopago', String(webhook.notificationId));
        const [outbox] = await outboxRows(event.id);
        expect(outbox.envelope).toMatchObject({ correlationId, data: { webhookEventId: event.id } });

        const forged = mercadoPagoWebhook({ secret: 'not-the-secret' });
        const refused = await post(forged.url, { ...forged.init, headers: origin ? { ...forged.init.headers, origin } : forged.init.headers });
        expect(refused.status).toBe(401);
        expect(refused.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
        expect(await refused.json()).toMatchObject({ status: 401, code: 'invalid_signature' });
      }
    });

    it('builds each published event as buildWebhookEnvelope does, from the stored bytes, for every provider', async () => {
      const check = async (provider: WebhookProvider, providerEventId: string, rawBody: Buffer): Promise<void> => {
        const [event] = await events(provider, providerEventId);
        const [stored] = (await gateway.dataSource.query(`SELECT raw_body FROM webhooks.events WHERE id = $1`, [
          event.id,
        ])) as Array<{ raw_body: Buffer }>;
        expect(Buffer.compare(stored.raw_body, rawBody)).toBe(0);
        const [outbox] = await outboxRows(event.id);
        const envelope = outbox.envelope as { id: string; occurredAt: string; correlationId: string };
        expect(EVENTS.envelopeProblems(envelope)).toEqual([]);
        const text = rawBody.toString('utf8').replace(/^\uFEFF/, '');
        const expected = buildWebhookEnvelope(
          {
            webhookEventId: event.id,
            provider,
            providerEventId,
            topic: event.topic,
            resourceId: event.resource_id,
            tenantId: event.tenant_id,
            payload: JSON.parse(text) as Record<string, unknown>,
            correlationId: envelope.correlationId,
          },
          new Date(envelope.occurredAt),
        );
        expect(envelope).toEqual({ ...expected, id: envelope.id });
        expect(envelope.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
      };

      // Mercado Pago signs the query, not the body: a body with a byte order mark, non-ASCII text and
      // escapes is stored byte for byte, and its payload parsed as JSON.parse parses it.
      const notificationId = uniqueId();
      const mpBody = Buffer.concat([
        Buffer.from([0xef, 0xbb, 0xbf]),
        Buffer.from(
          `{"id": ${notificationId}, "type": "payment", "data": {"id": "777"}, "note": "café \\"quoted\\" \\u00e9 \\\\ ☃", "n": [1.5, -2, 1e3]}`,
        ),
      ]);
      const mp = mercadoPagoWebhook({ notificationId, dataId: '777' });
      expect((await post(mp.url, { ...mp.init, body: mpBody })).status).toBe(200);
      await check('mercadopago', String(notificationId), mpBody);

      const tenantId = randomUUID();
      const stripe = stripeWebhook({ tenantId });
      expect((await post(`${gateway.url}/v1/webhooks/stripe`, stripe.init)).status).toBe(200);
      await check('stripe', stripe.eventId, Buffer.from(stripe.body));

      // An account update: no message, no phone number, so no tenant; identified by its bytes.
      const metaBody = JSON.stringify({
        object: 'whatsapp_business_account',
        entry: [{ id: `waba-${uniqueId()}`, time: 1, changes: [{ field: 'account_update', value: { event: 'VERIFIED' } }] }],
      });
      const meta = await post(`${gateway.url}/v1/webhooks/meta`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': signMeta({ secret: META_SECRET, rawBody: metaBody }) },
        body: metaBody,
      });
      expect(meta.status).toBe(200);
      const [metaEvent] = (await gateway.dataSource.query(
        `SELECT provider_event_id FROM webhooks.events WHERE provider = 'meta' AND convert_from(raw_body, 'UTF8') = $1`,
        [metaBody],
      )) as Array<{ provider_event_id: string }>;
      await check('meta', metaEvent.provider_event_id, Buffer.from(metaBody));
    });

    it('takes the same signed webhook 50 times at once as one stored event and one outbox row', async () => {
      const webhook = mercadoPagoWebhook();
      const statuses = await Promise.all(
        Array.from({ length: 50 }, async () => (await post(webhook.url, webhook.init)).status),
      );
      expect(statuses.every((s) => s === 200)).toBe(true);
      const stored = await events('mercadopago', String(webhook.notificationId));
      expect(stored).toHaveLength(1);
      expect(await outboxRows(stored[0].id)).toHaveLength(1);
    });

    it('stores a burst of distinct webhooks, each delivered twice at once, once each with one outbox row', async () => {
      // Enough at once that the store writes them in groups, duplicates of one event inside a group.
      const webhooks = Array.from({ length: 80 }, () => mercadoPagoWebhook());
      const statuses = await Promise.all(
        webhooks
          .flatMap((webhook) => [webhook, webhook])
          .map(async (webhook) => (await post(webhook.url, webhook.init)).status),
      );
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
      for (const webhook of webhooks) {
        const stored = await events('mercadopago', String(webhook.notificationId));
        expect(stored).toHaveLength(1);
        expect(await outboxRows(stored[0].id)).toHaveLength(1);
      }
    });

    it('refuses forged, other-secret, altered and stale notifications with 401 and stores nothing', async () => {
      const before = await totals();
      const cases: Array<[string, { url: string; init: RequestInit }, string]> = [];

      const noSignature = mercadoPagoWebhook();
      delete (noSignature.init.headers as Record<string, string>)['x-signature'];
      cases.push(['missing signature', noSignature, 'invalid_signature']);

      const forged = mercadoPagoWebhook();
      (forged.init.headers as Record<string, string>)['x-signature'] =
        `ts=${Math.floor(Date.now() / 1000)},v1=${'ab'.repeat(32)}`;
      cases.push(['forged', forged, 'invalid_signature']);

      cases.push([
        'signed with another secret',
        mercadoPagoWebhook({ secret: 'not-our-secret' }),
        'invalid_signature',
      ]);

      // One byte of the signed data.id changed after signing.
      const altered = mercadoPagoWebhook({ dataId: '123456789' });
      altered.url = altered.url.replace('data.id=123456789', 'data.id=123456788');
      cases.push(['one byte of data.id altered', altered, 'invalid_signature']);

      const alteredRequestId = mercadoPagoWebhook();
      (alteredRequestId.init.headers as Record<string, string>)['x-request-id'] = randomUUID();
      cases.push(['x-request-id swapped', alteredRequestId, 'invalid_signature']);

      cases.push([
        'stale (10 minutes old)',
        mercadoPagoWebhook({ ts: String(Math.floor(Date.now() / 1000) - 600) }),
        'signature_expired',
      ]);
      cases.push([
        'stale forged with bad json',
        { ...mercadoPagoWebhook({ secret: 'x', body: '{nope' }) },
        'invalid_signature',
      ]);

      for (const [name, webhook, code] of cases) {
        const response = await post(webhook.url, webhook.init);
        expect({ name, status: response.status }).toEqual({ name, status: 401 });
        expect(response.headers.get('content-type')).toContain('application/problem+json');
        expect(((await response.json()) as { code: string }).code).toBe(code);
      }
      expect(await totals()).toEqual(before);
    });

    it('answers 400 malformed_json to a correctly signed body that is not JSON, and stores nothing', async () => {
      const before = await totals();
      const webhook = mercadoPagoWebhook({ body: '{"id": 1, "type": "payment", ' });
      const response = await post(webhook.url, webhook.init);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { code: string }).code).toBe('malformed_json');
      const array = mercadoPagoWebhook({ body: '[1,2]' });
      const arrayResponse = await post(array.url, array.init);
      expect(arrayResponse.status).toBe(400);
      expect(((await arrayResponse.json()) as { code: string }).code).toBe('validation_failed');
      expect(await totals()).toEqual(before);
    });

    it('accepts either live secret during a rotation', async () => {
      const oldSecret = mercadoPagoWebhook({ secret: MP_SECRET });
      const newSecret = mercadoPagoWebhook({ secret: MP_NEXT_SECRET });
      expect((await post(oldSecret.url, oldSecret.init)).status).toBe(200);
      expect((await post(newSecret.url, newSecret.init)).status).toBe(200);
      expect(await events('mercadopago', String(oldSecret.notificationId))).toHaveLength(1);
      expect(await events('mercadopago', String(newSecret.notificationId))).toHaveLength(1);
    });

    it('answers 413 to a body over 1 MB', async () => {
      const webhook = mercadoPagoWebhook({
        body: JSON.stringify({ id: 1, type: 'payment', pad: 'x'.repeat(1024 * 1024) }),
      });
      const response = await post(webhook.url, webhook.init);
      expect(response.status).toBe(413);
      expect(((await response.json()) as { code: string }).code).toBe('payload_too_large');
    });
  });

  describe('Stripe', () => {
    it('stores a checkout.session.completed posted by the sandbox, labelled with its tenant', async () => {
      const tenantId = randomUUID();
      const topupId = randomUUID();
      const session = (await (
        await fetch(`${sandbox.url}/v1/checkout/sessions`, {
          method: 'POST',
          headers: { authorization: 'Bearer sk_test_x', 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            mode: 'payment',
            'line_items[0][price_data][currency]': 'brl',
            'line_items[0][price_data][unit_amount]': '5000',
            'line_items[0][price_data][product_data][name]': 'Saldo',
            'line_items[0][quantity]': '1',
            client_reference_id: topupId,
            'metadata[topupId]': topupId,
            'metadata[tenantId]': tenantId,
            success_url: 'https://example.com/ok',
            cancel_url: 'https://example.com/cancel',
          }).toString(),
        })
      ).json()) as { id: string };
      const completed = (await (
        await fetch(`${sandbox.url}/_sandbox/stripe/checkout/sessions/${session.id}/complete`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ notify: true, count: 5 }),
        })
      ).json()) as { event: { id: string }; notified: { statuses: number[] } };
      expect(completed.notified.statuses).toEqual([200, 200, 200, 200, 200]);
      const [stored] = await events('stripe', completed.event.id);
      expect(stored).toMatchObject({
        topic: 'checkout.session.completed',
        resource_id: session.id,
        tenant_id: tenantId,
      });
      expect(stored.headers['stripe-signature']).toBeUndefined();
      expect(await outboxRows(stored.id)).toHaveLength(1);
    });

    it('refuses a one-byte-altered body, another secret and a stale timestamp, and accepts the rotated secret', async () => {
      const before = await totals();
      const altered = stripeWebhook();
      // One byte: "paid" → "pajd".
      altered.init.body = altered.body.replace('"paid"', '"pajd"');
      expect(Buffer.byteLength(altered.init.body)).toBe(Buffer.byteLength(altered.body));
      const response = await post(`${gateway.url}/v1/webhooks/stripe`, altered.init);
      expect(response.status).toBe(401);
      expect(((await response.json()) as { code: string }).code).toBe('invalid_signature');

      const other = stripeWebhook({ secret: 'whsec_somebody_else' });
      expect((await post(`${gateway.url}/v1/webhooks/stripe`, other.init)).status).toBe(401);

      const stale = stripeWebhook({ timestamp: Math.floor(Date.now() / 1000) - 301 });
      const staleResponse = await post(`${gateway.url}/v1/webhooks/stripe`, stale.init);
      expect(staleResponse.status).toBe(401);
      expect(((await staleResponse.json()) as { code: string }).code).toBe('signature_expired');
      expect(await totals()).toEqual(before);

      const rotated = stripeWebhook({ secret: STRIPE_NEXT_SECRET });
      expect((await post(`${gateway.url}/v1/webhooks/stripe`, rotated.init)).status).toBe(200);
      expect(await events('stripe', rotated.eventId)).toHaveLength(1);
    });
  });

  describe('Meta', () => {
    it('answers the verification challenge only with the right token', async () => {
      const ok = await fetch(
        `${gateway.url}/v1/webhooks/meta?hub.mode=subscribe&hub.verify_token=dev-meta-verify-token&hub.challenge=1158201444`,
      );
      expect(ok.status).toBe(200);
      expect(ok.headers.get('content-type')).toContain('text/plain');
      expect(await ok.text()).toBe('1158201444');
      const wrong = await fetch(
        `${gateway.url}/v1/webhooks/meta?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1`,
      );
      expect(wrong.status).toBe(403);
      const noMode = await fetch(
        `${gateway.url}/v1/webhooks/meta?hub.verify_token=dev-meta-verify-token&hub.challenge=1`,
      );
      expect(noMode.status).toBe(403);
    });

    it('routes a WhatsApp message to the tenant its number is mapped to, once however often Meta sends it', async () => {
      const tenantId = randomUUID();
      const phoneNumberId = String(uniqueId());
      await gateway.dataSource.transaction((tx) =>
        gateway.app.get(OutboxService).enqueue(tx, WhatsAppNumberMapped, {
          tenantId,
          data: {
            tenantId,
            phoneNumberId,
            wabaId: String(uniqueId()),
            displayPhoneNumber: '+55 11 99999-0000',
          },
        }),
      );
      await expectEventually(async () => {
        const rows = (await gateway.dataSource.query(
          `SELECT tenant_id FROM webhooks.whatsapp_numbers WHERE phone_number_id = $1`,
          [phoneNumberId],
        )) as Array<{ tenant_id: string }>;
        expect(rows).toEqual([{ tenant_id: tenantId }]);
      });

      const inbound = (await (
        await fetch(`${sandbox.url}/_sandbox/meta/whatsapp/inbound`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            phoneNumberId,
            from: '5511988887777',
            text: 'Olá, São Paulo / ação',
            count: 10,
          }),
        })
      ).json()) as { messageId: string; notified: { statuses: number[] } };
      expect(inbound.notified.statuses.every((s) => s === 200)).toBe(true);
      const stored = await events('meta', `message:${inbound.messageId}`);
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatchObject({
        topic: 'messages',
        resource_id: phoneNumberId,
        tenant_id: tenantId,
        status: 'received',
      });
      // The exact bytes Meta signed (its \uXXXX escapes), not a re-serialization.
      expect(stored[0].raw).toContain('\\u00e3');
      const [outbox] = await outboxRows(stored[0].id);
      expect(outbox.envelope).toMatchObject({ type: 'webhook.meta.received', tenantId });
    });

    it('stores a message for an unmapped number as tenant_not_mapped_for_phone_number_id, answers 200 and publishes nothing', async () => {
      const phoneNumberId = String(uniqueId());
      const inbound = (await (
        await fetch(`${sandbox.url}/_sandbox/meta/whatsapp/inbound`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ phoneNumberId, from: '5511977776666', text: 'oi' }),
        })
      ).json()) as { messageId: string; notified: { status: number } };
      expect(inbound.notified.status).toBe(200);
      const [stored] = await events('meta', `message:${inbound.messageId}`);
      expect(stored).toMatchObject({
        status: 'dead',
        last_error: 'tenant_not_mapped_for_phone_number_id',
        tenant_id: null,
      });
      expect(await outboxRows(stored.id)).toHaveLength(0);

      const listed = (await (
        await fetch(`${gateway.url}/v1/ops/webhook-events?provider=meta&status=dead&limit=100`, {
          headers: OPS,
        })
      ).json()) as {
        items: Array<{ id: string; lastError: string }>;
      };
      expect(listed.items.find((i) => i.id === stored.id)?.lastError).toBe(
        'tenant_not_mapped_for_phone_number_id',
      );

      // Once the number is mapped, a replay routes it to its tenant.
      const tenantId = randomUUID();
      await gateway.dataSource.query(
        `INSERT INTO webhooks.whatsapp_numbers (phone_number_id, tenant_id, waba_id, display_phone_number, mapped_at) VALUES ($1, $2, '1', '+55', now())`,
        [phoneNumberId, tenantId],
      );
      const replay = await fetch(`${gateway.url}/v1/ops/webhook-events/${stored.id}/replay`, {
        method: 'POST',
        headers: OPS,
      });
      expect(replay.status).toBe(202);
      const [outbox] = await outboxRows(stored.id);
      expect(outbox.envelope).toMatchObject({ tenantId, data: { webhookEventId: stored.id } });
      expect((await events('meta', `message:${inbound.messageId}`))[0]).toMatchObject({
        status: 'received',
        tenant_id: tenantId,
        last_error: null,
      });
    });

    it('refuses a Meta body altered by one byte, or signed with another secret', async () => {
      const before = await totals();
      const body = JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: '1', changes: [] }] });
      const altered = await post(`${gateway.url}/v1/webhooks/meta`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-hub-signature-256': signMeta({ secret: META_SECRET, rawBody: body }),
        },
        body: body.replace('"1"', '"2"'),
      });
      expect(altered.status).toBe(401);
      const other = await post(`${gateway.url}/v1/webhooks/meta`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-hub-signature-256': signMeta({ secret: 'other', rawBody: body }),
        },
        body,
      });
      expect(other.status).toBe(401);
      expect(await totals()).toEqual(before);
    });
  });

  describe('per-IP rate limit (SPEC §16)', () => {
    let limited: RunningGateway;

    beforeAll(async () => {
      limited = await startGateway(
        testEnv(db.url, {
          RATE_LIMIT_ENABLED: 'true',
          RATE_LIMIT_PER_IP_PER_MINUTE: '5',
          RATE_LIMIT_KEY_PREFIX: `rl-test-${randomUUID()}:`,
        }),
      );
    });

    afterAll(async () => {
      await limited?.close();
    });

    it('never refuses a correctly signed webhook, and cuts a flood of forged ones off at the limit', async () => {
      const signed = Array.from({ length: 12 }, () => mercadoPagoWebhook());
      for (const webhook of signed) {
        expect((await post(webhook.url.replace(gateway.url, limited.url), webhook.init)).status).toBe(200);
      }
      const forged: number[] = [];
      for (let i = 0; i < 8; i++) {
        const webhook = mercadoPagoWebhook({ secret: 'forger' });
        forged.push((await post(webhook.url.replace(gateway.url, limited.url), webhook.init)).status);
      }
      expect(forged.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
      expect(forged.slice(5)).toEqual([429, 429, 429]);
      const last = mercadoPagoWebhook({ secret: 'forger' });
      const refused = await post(last.url.replace(gateway.url, limited.url), last.init);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(((await refused.json()) as { code: string }).code).toBe('too_many_requests');
      // Still: a signed one goes through.
      const stillSigned = mercadoPagoWebhook();
      expect((await post(stillSigned.url.replace(gateway.url, limited.url), stillSigned.init)).status).toBe(
        200,
      );
    });
  });

  describe('ops', () => {
    it('lists stored events newest first with filters and a cursor, behind the ops key', async () => {
      for (let i = 0; i < 3; i++) {
        const webhook = stripeWebhook();
        expect((await post(`${gateway.url}/v1/webhooks/stripe`, webhook.init)).status).toBe(200);
      }
      const first = (await (
        await fetch(`${gateway.url}/v1/ops/webhook-events?provider=stripe&limit=2`, { headers: OPS })
      ).json()) as {
        items: Array<Record<string, unknown>>;
        nextCursor: string | null;
      };
      expect(first.items).toHaveLength(2);
      expect(Object.keys(first.items[0]).sort()).toEqual(
        [
          'attempts',
          'id',
          'lastError',
          'processedAt',
          'provider',
          'providerEventId',
          'receivedAt',
          'status',
          'type',
        ].sort(),
      );
      expect(first.items.every((i) => i.provider === 'stripe')).toBe(true);
      expect(first.nextCursor).not.toBeNull();
      const second = (await (
        await fetch(
          `${gateway.url}/v1/ops/webhook-events?provider=stripe&limit=2&cursor=${first.nextCursor}`,
          { headers: OPS },
        )
      ).json()) as { items: Array<{ id: string; receivedAt: string }> };
      expect(second.items.length).toBeGreaterThan(0);
      expect(second.items.some((i) => first.items.some((f) => f.id === i.id))).toBe(false);
      expect(second.items[0].receivedAt <= (first.items[1].receivedAt as string)).toBe(true);

      expect((await fetch(`${gateway.url}/v1/ops/webhook-events`)).status).toBe(401);
      expect(
        (await fetch(`${gateway.url}/v1/ops/webhook-events`, { headers: { 'x-ops-key': 'wrong' } })).status,
      ).toBe(403);
      const badStatus = await fetch(`${gateway.url}/v1/ops/webhook-events?status=lost`, { headers: OPS });
      expect(badStatus.status).toBe(400);
      expect(((await badStatus.json()) as { code: string }).code).toBe('validation_failed');
      expect((await fetch(`${gateway.url}/v1/ops/webhook-events?limit=101`, { headers: OPS })).status).toBe(
        400,
      );
      expect(
        (await fetch(`${gateway.url}/v1/ops/webhook-events?cursor=garbage`, { headers: OPS })).status,
      ).toBe(400);
    });

    it('reads empty filters as no filter, and still refuses an unknown one', async () => {
      const webhook = stripeWebhook();
      expect((await post(`${gateway.url}/v1/webhooks/stripe`, webhook.init)).status).toBe(200);
      const ids = async (query: string): Promise<string[]> => {
        const res = await fetch(`${gateway.url}/v1/ops/webhook-events?${query}`, { headers: OPS });
        expect(res.status).toBe(200);
        return ((await res.json()) as { items: Array<{ id: string }> }).items.map((i) => i.id);
      };
      const unfiltered = await ids('limit=5');
      expect(unfiltered.length).toBeGreaterThan(0);
      expect(await ids('status=&provider=&limit=5')).toEqual(unfiltered);
      expect(await ids('status=&limit=5')).toEqual(unfiltered);
      expect((await ids('status=&provider=stripe&limit=5')).length).toBeGreaterThan(0);
      for (const query of ['provider=paypal', 'status=&provider=paypal', 'status=%20']) {
        const res = await fetch(`${gateway.url}/v1/ops/webhook-events?${query}`, { headers: OPS });
        expect(res.status).toBe(400);
        expect(((await res.json()) as { code: string }).code).toBe('validation_failed');
      }
    });

    it('refuses a cursor PostgreSQL could not read with 400 validation_failed, not a 500', async () => {
      const cursorOf = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
      for (const cursor of [
        cursorOf(['2026-01-01T00:00:00Z', 'x']),
        cursorOf(['2026-01-01T00:00:00Z', '-'.repeat(36)]),
        cursorOf(['1', randomUUID()]),
        cursorOf(['2026-02-30T00:00:00Z', randomUUID()]),
      ]) {
        const res = await fetch(`${gateway.url}/v1/ops/webhook-events?cursor=${cursor}`, { headers: OPS });
        expect(res.status).toBe(400);
        expect(res.headers.get('content-type')).toContain('application/problem+json');
        expect(await res.json()).toMatchObject({
          status: 400,
          code: 'validation_failed',
          errors: [{ field: 'cursor', message: 'cursor is malformed' }],
        });
      }
    });

    it('pages through events received within one millisecond without skipping any (the cursor keeps microseconds)', async () => {
      const ids = [randomUUID(), randomUUID(), randomUUID()];
      // Newest of all (so at the head of the list), one millisecond, three microseconds.
      const times = ['2099-01-01T00:00:00.123999Z', '2099-01-01T00:00:00.123789Z', '2099-01-01T00:00:00.123456Z'];
      await gateway.dataSource.query(
        `INSERT INTO webhooks.events (id, provider, provider_event_id, topic, status, raw_body, headers, received_at)
         SELECT id, 'mercadopago', 'paging-' || id, 'payment', 'processed', '\\x7b7d'::bytea, '{}'::jsonb, at
         FROM unnest($1::uuid[], $2::timestamptz[]) AS t(id, at)`,
        [ids, times],
      );
      try {
        const seen: string[] = [];
        let cursor = '';
        for (let page = 0; page < 3; page++) {
          const url = `${gateway.url}/v1/ops/webhook-events?provider=mercadopago&status=processed&limit=1${cursor}`;
          const body = (await (await fetch(url, { headers: OPS })).json()) as {
            items: Array<{ id: string }>;
            nextCursor: string | null;
          };
          seen.push(...body.items.map((item) => item.id));
          cursor = `&cursor=${body.nextCursor}`;
        }
        expect(seen).toEqual(ids);
      } finally {
        await gateway.dataSource.query(`DELETE FROM webhooks.events WHERE id = ANY($1::uuid[])`, [ids]);
      }
    });

    it('shows an event the broker confirmed as published, and one whose message is still in the outbox as received', async () => {
      const webhook = stripeWebhook();
      expect((await post(`${gateway.url}/v1/webhooks/stripe`, webhook.init)).status).toBe(200);
      const [stored] = await events('stripe', webhook.eventId);
      const listed = async (status: string): Promise<string[]> => {
        const url = `${gateway.url}/v1/ops/webhook-events?provider=stripe&status=${status}&limit=100`;
        const page = (await (await fetch(url, { headers: OPS })).json()) as {
          items: Array<{ id: string; status: string }>;
        };
        expect(page.items.every((item) => item.status === status)).toBe(true);
        return page.items.map((item) => item.id);
      };
      // No worker consumes here: once the relay has the broker's confirm, the event is published.
      await expectEventually(async () => expect(await listed('published')).toContain(stored.id));
      expect(await listed('received')).not.toContain(stored.id);
      expect((await events('stripe', webhook.eventId))[0].status).toBe('received');

      // Its message back in the outbox (as a replay puts it), held so the relay skips it: received again.
      const client = gateway.dataSource.createQueryRunner();
      try {
        let held = false;
        for (let attempt = 0; attempt < 5 && !held; attempt++) {
          const [{ seq }] = (await client.query(
            `INSERT INTO messaging.outbox (id, type, routing_key, envelope)
             VALUES (gen_random_uuid(), 'webhook.stripe.received', 'webhook.stripe.received',
                     jsonb_build_object('data', jsonb_build_object('webhookEventId', $1::text)))
             RETURNING seq`,
            [stored.id],
          )) as Array<{ seq: string }>;
          await client.startTransaction();
          const locked = (await client.query(`SELECT 1 FROM messaging.outbox WHERE seq = $1 FOR UPDATE`, [
            seq,
          ])) as unknown[];
          held = locked.length === 1;
          if (held) {
            expect(await listed('received')).toContain(stored.id);
            expect(await listed('published')).not.toContain(stored.id);
            await client.query(`DELETE FROM messaging.outbox WHERE seq = $1`, [seq]);
          }
          await client.commitTransaction();
        }
        expect(held).toBe(true);
      } finally {
        await client.release();
      }
      expect(await listed('published')).toContain(stored.id);
    });

    it('stores a signed body holding a \\u0000 escape (and a byte order mark) byte for byte, publishes it with U+FFFD, and replays it', async () => {
      // PostgreSQL's jsonb cannot hold U+0000: such a body used to fail its insert, and every retry got a 503.
      const notificationId = uniqueId();
      // With a byte order mark too, which replay used to hand to JSON.parse as it was.
      const body = Buffer.concat([
        Buffer.from([0xef, 0xbb, 0xbf]),
        Buffer.from(
          `{"id": ${notificationId}, "type": "payment", "data": {"id": "778"}, "note": "a\\u0000b", "kept": "\\\\u0000"}`,
        ),
      ]);
      const mp = mercadoPagoWebhook({ notificationId, dataId: '778' });
      // The provider's retries of it, at once: every one answered 200, the event stored once.
      const answers = await Promise.all(Array.from({ length: 10 }, () => post(mp.url, { ...mp.init, body })));
      expect(answers.map((answer) => answer.status)).toEqual(Array<number>(10).fill(200));
      const matching = await events('mercadopago', String(notificationId));
      expect(matching).toHaveLength(1);
      const [event] = matching;
      expect(event).toMatchObject({ status: 'received', resource_id: '778' });
      const [stored] = (await gateway.dataSource.query(`SELECT raw_body FROM webhooks.events WHERE id = $1`, [
        event.id,
      ])) as Array<{ raw_body: Buffer }>;
      expect(Buffer.compare(stored.raw_body, body)).toBe(0);
      const payloadOf = (row: { envelope: Record<string, unknown> }): unknown =>
        (row.envelope.data as { payload: unknown }).payload;
      const [published] = await outboxRows(event.id);
      expect(payloadOf(published)).toMatchObject({ id: notificationId, note: 'a\uFFFDb', kept: '\\u0000' });

      const replay = await fetch(`${gateway.url}/v1/ops/webhook-events/${event.id}/replay`, { method: 'POST', headers: OPS });
      expect(replay.status).toBe(202);
      const rows = await outboxRows(event.id);
      expect(rows).toHaveLength(2);
      expect(payloadOf(rows[1])).toEqual(payloadOf(published));
    });

    it('replays a stored event through the outbox (202) and answers 404 for unknown ids', async () => {
      const webhook = stripeWebhook();
      await post(`${gateway.url}/v1/webhooks/stripe`, webhook.init);
      const [stored] = await events('stripe', webhook.eventId);
      const replay = await fetch(`${gateway.url}/v1/ops/webhook-events/${stored.id}/replay`, {
        method: 'POST',
        headers: OPS,
      });
      expect(replay.status).toBe(202);
      expect(await replay.json()).toMatchObject({
        id: stored.id,
        status: 'received',
        providerEventId: webhook.eventId,
      });
      const rows = await outboxRows(stored.id);
      expect(rows).toHaveLength(2);
      expect(rows[1].envelope.id).not.toBe(rows[0].envelope.id);

      expect(
        (
          await fetch(`${gateway.url}/v1/ops/webhook-events/${randomUUID()}/replay`, {
            method: 'POST',
            headers: OPS,
          })
        ).status,
      ).toBe(404);
      expect(
        (
          await fetch(`${gateway.url}/v1/ops/webhook-events/not-a-uuid/replay`, {
            method: 'POST',
            headers: OPS,
          })
        ).status,
      ).toBe(404);
    });

    it('counts received and rejected webhooks in /metrics', async () => {
      const text = await (await fetch(`${gateway.url}/metrics`)).text();
      expect(text).toMatch(/webhooks_received_total\{provider="mercadopago",outcome="stored"\} \d+/);
      expect(text).toMatch(/webhooks_received_total\{provider="mercadopago",outcome="duplicate"\} \d+/);
      expect(text).toMatch(
        /webhooks_rejected_total\{provider="mercadopago",reason="invalid_signature"\} \d+/,
      );
      expect(text).toMatch(/webhooks_rejected_total\{provider="stripe",reason="signature_expired"\} \d+/);
    });
  });
});
