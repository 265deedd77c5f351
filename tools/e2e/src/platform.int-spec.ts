import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRealAppError, RealAppClient, RealAppError } from '@realapp/client';
import { DEVELOPMENT_VALUES } from '@realapp/platform';
import { expectEventually } from '@realapp/testing';
import { ROOT } from './support/nginx-gateway.test-helper';
import { Platform, startPlatform } from './support/platform.test-helper';

/*
 * The platform through its one front door: the four services in-process, the provider sandbox, and the
 * nginx gateway in front of them. The Expo app's journey (the SPEC §11 postcheck) runs with the typed
 * client @realapp/client against the gateway's origin only; the sandbox's signed webhooks reach the
 * webhook-gateway through the gateway too.
 */

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const OPS_KEY = DEVELOPMENT_VALUES.OPS_API_KEY;

/** The error a client call threw (the test fails if it did not throw one). */
async function failure(call: Promise<unknown>): Promise<RealAppError> {
  const outcome = await call.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected a RealAppError, got ${JSON.stringify(outcome.value)}`);
  if (!isRealAppError(outcome.error)) throw outcome.error;
  return outcome.error;
}

const anOrder = (name: string, budgetCents: number) => ({
  name,
  objective: 'traffic' as const,
  budgetCents,
  targeting: { countries: ['BR'], ageMin: 18, ageMax: 65 },
  creative: {
    headline: 'Apartamentos no centro',
    body: 'Visite o decorado neste fim de semana.',
    imageUrl: 'https://cdn.example.com/ad.png',
    linkUrl: 'https://example.com/lancamento',
  },
});

describe('the platform behind the API gateway', () => {
  let platform: Platform;

  beforeAll(async () => {
    platform = await startPlatform();
  }, 120000);

  afterAll(async () => {
    await platform?.close();
  });

  /** A tenant signed up through the gateway, its session in the client. */
  async function signedUp(client: RealAppClient): Promise<{ tenantId: string }> {
    const session = await client.POST('/v1/auth/signup', {
      body: {
        email: `owner-${randomUUID()}@example.com`,
        password: 'correct horse battery staple',
        name: 'Ana Souza',
        tenantName: 'Imobiliária Sol',
      },
    });
    await client.setSession(session);
    return { tenantId: session.tenant.id };
  }

  describe('the Expo app journey with the typed client (SPEC §11 postcheck)', () => {
    it('signs up, tops up by PIX, is credited once by the signed webhook, orders ads and pauses, resumes and stops them', async () => {
      const app = platform.client();
      const { tenantId } = await signedUp(app);
      const me = await app.GET('/v1/auth/me');
      expect(me.tenant.id).toBe(tenantId);
      expect(me.user.role).toBe('owner');

      // 1. A PIX top-up is created and is pending.
      const topup = await app.POST('/v1/billing/topups/pix', { body: { amountCents: 9000 } });
      expect(topup).toMatchObject({
        status: 'pending',
        amountCents: 9000,
        currency: 'BRL',
        provider: 'mercadopago',
      });
      expect(topup.pix?.copyPasteCode).toEqual(expect.any(String));
      expect(topup.providerPaymentId).toEqual(expect.any(String));

      // 2. A correctly signed Mercado Pago notification approves it — delivered five times at once, through
      //    the gateway — and the duplicates change nothing.
      const approval = await platform.sandboxCall<{ notified: { status: number; statuses: number[] } }>(
        'POST',
        `/_sandbox/mercadopago/payments/${topup.providerPaymentId}/status`,
        { status: 'approved', notify: true, count: 5 },
      );
      expect(approval.notified.statuses).toEqual([200, 200, 200, 200, 200]);
      await expectEventually(async () => {
        expect(
          await app.GET('/v1/billing/topups/{id}', { params: { path: { id: topup.id } } }),
        ).toMatchObject({ status: 'approved' });
      });

      // 3. The wallet shows the new balance, credited once.
      await expectEventually(async () => {
        expect(await app.GET('/v1/billing/wallet')).toMatchObject({
          balanceCents: 9000,
          heldCents: 0,
          availableCents: 9000,
        });
      });
      const ledger = await app.GET('/v1/billing/ledger');
      expect(ledger.items.filter((entry) => entry.kind === 'topup')).toEqual([
        expect.objectContaining({ amountCents: 9000 }),
      ]);

      // 4. Without a plan an order waits (missing_plan) …
      const waiting = await app.POST('/v1/ads/orders', { body: anOrder('Lançamento Centro', 5000) });
      expect(waiting).toMatchObject({ status: 'waiting_payment', waitingReason: 'missing_plan' });

      // … the plan is activated by an authorized pre-approval whose signed webhook comes through the gateway …
      const subscription = await app.POST('/v1/billing/subscription', { body: { planId: 'plan_basic' } });
      const preapprovalId = new URL(subscription.checkoutUrl).searchParams.get('preapproval_id');
      expect(preapprovalId).toEqual(expect.any(String));
      const authorized = await platform.sandboxCall<{ notified: { status: number } }>(
        'POST',
        `/_sandbox/mercadopago/preapproval/${preapprovalId}/status`,
        { status: 'authorized', notify: true },
      );
      expect(authorized.notified.status).toBe(200);
      await expectEventually(async () =>
        expect(await app.GET('/v1/billing/subscription')).toMatchObject({ status: 'active' }),
      );

      // … which re-evaluates the waiting order: it is funded now and goes to Meta.
      await expectEventually(
        async () => {
          const order = await app.GET('/v1/ads/orders/{id}', { params: { path: { id: waiting.id } } });
          expect(order.status).toBe('active');
          expect(order.campaignId).toEqual(expect.any(String));
        },
        { timeoutMs: 30000 },
      );

      // With a plan, an order the balance does not cover waits for insufficient_balance; one it covers is queued.
      const tooBig = await app.POST('/v1/ads/orders', { body: anOrder('Campanha grande', 100000) });
      expect(tooBig).toMatchObject({ status: 'waiting_payment', waitingReason: 'insufficient_balance' });
      const covered = await app.POST('/v1/ads/orders', { body: anOrder('Campanha pequena', 2000) });
      expect(covered).toMatchObject({ status: 'queued', waitingReason: null, heldCents: 2000 });
      await expectEventually(async () => {
        expect(await app.GET('/v1/billing/wallet')).toMatchObject({
          balanceCents: 9000,
          heldCents: 7000,
          availableCents: 2000,
        });
      });

      // 5. Pause, resume and stop work; resume after stop is refused.
      const paused = await app.POST('/v1/ads/orders/{id}/pause', { params: { path: { id: waiting.id } } });
      expect(paused.status).toBe('paused');
      const resumed = await app.POST('/v1/ads/orders/{id}/resume', { params: { path: { id: waiting.id } } });
      expect(resumed.status).toBe('active');
      const stopped = await app.POST('/v1/ads/orders/{id}/stop', { params: { path: { id: waiting.id } } });
      expect(stopped.status).toBe('stopped');
      const refused = await failure(
        app.POST('/v1/ads/orders/{id}/resume', { params: { path: { id: waiting.id } } }),
      );
      expect(refused).toMatchObject({ status: 409, code: 'invalid_transition' });
      expect(refused.correlationId).toEqual(expect.any(String));

      // The stopped order's unspent budget is back in the wallet.
      await expectEventually(async () => {
        expect(await app.GET('/v1/billing/wallet')).toMatchObject({
          balanceCents: 9000,
          heldCents: 2000,
          availableCents: 7000,
        });
      });
      const orders = await app.GET('/v1/ads/orders', { params: { query: { limit: 10 } } });
      expect(orders.items.map((order) => order.id).sort()).toEqual(
        [waiting.id, tooBig.id, covered.id].sort(),
      );
    });

    it('sends an Idempotency-Key on every [idem] call: a retried top-up (same key, sent five times at once) is one top-up', async () => {
      const app = platform.client();
      await signedUp(app);
      const key = randomUUID();
      const attempts = await Promise.allSettled(
        Array.from({ length: 5 }, () =>
          app.api.POST('/v1/billing/topups/pix', {
            body: { amountCents: 3000 },
            headers: { 'Idempotency-Key': key },
          }),
        ),
      );
      const answered = attempts.filter(
        (a): a is PromiseFulfilledResult<Awaited<ReturnType<RealAppClient['api']['POST']>>> =>
          a.status === 'fulfilled',
      );
      const inProgress = attempts
        .filter((a) => a.status === 'rejected')
        .map((a) => (a as PromiseRejectedResult).reason as RealAppError);
      expect(answered.length).toBeGreaterThanOrEqual(1);
      for (const error of inProgress)
        expect(error).toMatchObject({ status: 409, code: 'idempotency_request_in_progress' });
      const ids = new Set(answered.map((a) => (a.value.data as { id: string }).id));
      expect(ids.size).toBe(1);
      const page = await app.GET('/v1/billing/topups');
      expect(page.items).toHaveLength(1);

      // Without a key of the caller's, each call gets its own: two calls, two top-ups.
      await app.POST('/v1/billing/topups/pix', { body: { amountCents: 3000 } });
      await app.POST('/v1/billing/topups/pix', { body: { amountCents: 3000 } });
      expect((await app.GET('/v1/billing/topups')).items).toHaveLength(3);
    });

    it('refreshes an expired session through the gateway and retries the call', async () => {
      const app = platform.client();
      await signedUp(app);
      const session = await app.session();
      // A token whose signature no longer verifies is what an expired one looks like to the services: 401.
      await app.setSession({
        accessToken: `${session!.accessToken.slice(0, -4)}AAAA`,
        refreshToken: session!.refreshToken,
      });

      const wallet = await app.GET('/v1/billing/wallet');

      expect(wallet.balanceCents).toBe(0);
      const refreshed = await app.session();
      expect(refreshed!.accessToken).not.toBe(session!.accessToken);
      expect(refreshed!.refreshToken).not.toBe(session!.refreshToken);
    });

    it('throws problem+json answers as typed errors with their code and field errors', async () => {
      const app = platform.client();
      await signedUp(app);
      const belowMinimum = await failure(app.POST('/v1/billing/topups/pix', { body: { amountCents: 2999 } }));
      expect(belowMinimum).toMatchObject({ status: 422, code: 'amount_below_minimum' });
      const invalid = await failure(app.POST('/v1/billing/topups/pix', { body: { amountCents: 12.5 } }));
      expect(invalid).toMatchObject({ status: 400, code: 'validation_failed' });
      expect(invalid.errors.map((e) => e.field)).toContain('amountCents');
      const anonymous = await failure(platform.client().GET('/v1/billing/wallet'));
      expect(anonymous).toMatchObject({ status: 401, code: 'invalid_token' });
    });
  });

  describe('the gateway in front of the real services', () => {
    const stripeSecret = DEVELOPMENT_VALUES.STRIPE_WEBHOOK_SECRET;
    const metaSecret = DEVELOPMENT_VALUES.META_APP_SECRET;
    const hmac = (secret: string, data: Buffer | string): string =>
      createHmac('sha256', secret).update(data).digest('hex');

    const storedBody = async (provider: string, providerEventId: string): Promise<Buffer | undefined> => {
      const rows = (await platform.dataSource.query(
        `SELECT raw_body FROM webhooks.events WHERE provider = $1 AND provider_event_id = $2`,
        [provider, providerEventId],
      )) as Array<{ raw_body: Buffer }>;
      return rows[0]?.raw_body;
    };

    it('delivers a signed Stripe webhook byte for byte: odd whitespace and \\u escapes verify and are stored as sent', async () => {
      const eventId = `evt_e2e_${randomUUID().replace(/-/g, '')}`;
      const body = Buffer.from(
        `{\n  "id" :  "${eventId}",\t"object":"event",\r\n "type": "customer.updated",\n\n  "data": {"object": {"id":"cus_1","name":"Jo\\u00e3o Concei\\u00e7\\u00e3o","site":"https:\\/\\/x.example"}} }  \n`,
      );
      const t = Math.floor(Date.now() / 1000);
      const signature = `t=${t},v1=${hmac(stripeSecret, Buffer.concat([Buffer.from(`${t}.`), body]))}`;
      const send = (bytes: Buffer) =>
        fetch(`${platform.gatewayUrl}/v1/webhooks/stripe`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'stripe-signature': signature },
          body: bytes,
        });

      const accepted = await send(body);
      expect(accepted.status).toBe(200);
      expect(await accepted.json()).toEqual({ received: true });
      expect((await storedBody('stripe', eventId))?.equals(body)).toBe(true);

      // The same signature over one more space does not verify: the 200 above was on the exact bytes.
      const tampered = await send(Buffer.concat([body, Buffer.from(' ')]));
      expect(tampered.status).toBe(401);
      expect(await tampered.json()).toMatchObject({ code: 'invalid_signature' });
    });

    it('delivers a signed Meta webhook (Meta’s own serialisation) byte for byte', async () => {
      const wabaId = `${Date.now()}`;
      const body = Buffer.from(
        `{"object":"whatsapp_business_account","entry":[{"id":"${wabaId}","changes":[{"field":"account_update","value":{"event":"ACCOUNT_VIOLATION","note":"Pol\\u00edtica \\u00e9 \\/ \\ud83d\\ude00"}}]}]}`,
      );
      const response = await fetch(`${platform.gatewayUrl}/v1/webhooks/meta`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-hub-signature-256': `sha256=${hmac(metaSecret, body)}`,
        },
        body,
      });
      expect(response.status).toBe(200);
      const rows = (await platform.dataSource.query(
        `SELECT raw_body FROM webhooks.events WHERE provider = 'meta' AND resource_id = $1`,
        [wabaId],
      )) as Array<{
        raw_body: Buffer;
      }>;
      expect(rows).toHaveLength(1);
      expect(rows[0].raw_body.equals(body)).toBe(true);
    });

    it('routes /v1/ops/webhook-events to the webhook-gateway and the rest of /v1/ops to queue-api', async () => {
      // The webhook-gateway documents no response schema for this list yet, so it is read untyped.
      const listed = await fetch(`${platform.gatewayUrl}/v1/ops/webhook-events?provider=stripe`, {
        headers: { 'x-ops-key': OPS_KEY },
      });
      expect(listed.status).toBe(200);
      const events = (await listed.json()) as { items: Array<{ providerEventId: string }> };
      expect(events.items.some((event) => event.providerEventId.startsWith('evt_e2e_'))).toBe(true);

      const ops = platform.client({ headers: { 'X-Ops-Key': OPS_KEY } });
      const metrics = await ops.GET('/v1/ops/metrics');
      expect(metrics).toMatchObject({ walletTotals: expect.any(Object), queueDepth: expect.any(Object) });
      const denied = await failure(platform.client().GET('/v1/ops/metrics'));
      expect(denied).toMatchObject({ status: 401, code: 'api_key_required' });
    });

    it('passes the app’s X-Correlation-Id to the service, which answers with it; creates one when absent', async () => {
      const sent = await fetch(`${platform.gatewayUrl}/v1/billing/wallet`, {
        headers: { 'x-correlation-id': 'expo-req-123' },
      });
      expect(sent.status).toBe(401);
      expect(sent.headers.get('x-correlation-id')).toBe('expo-req-123');
      expect(await sent.json()).toMatchObject({ code: 'invalid_token', correlationId: 'expo-req-123' });

      const created = await fetch(`${platform.gatewayUrl}/v1/auth/me`);
      const id = created.headers.get('x-correlation-id');
      expect(id).toMatch(UUID_V4);
      expect(await created.json()).toMatchObject({ correlationId: id });
    });

    it('answers a 2 MB body with its own problem+json 413, an unknown path with a 404', async () => {
      const app = platform.client();
      const tooLarge = await failure(
        app.api.POST('/v1/billing/topups/pix', {
          body: { amountCents: 3000 },
          headers: { 'X-Padding': 'x' },
          bodySerializer: () => 'x'.repeat(2 * 1024 * 1024),
        }),
      );
      expect(tooLarge).toMatchObject({ status: 413, code: 'payload_too_large' });
      expect(tooLarge.correlationId).toMatch(UUID_V4);

      const unknown = await fetch(`${platform.gatewayUrl}/health/readiness`);
      expect(unknown.status).toBe(404);
      expect(unknown.headers.get('content-type')).toBe('application/problem+json');
      expect(await unknown.json()).toMatchObject({ code: 'not_found' });
    });

    it('serves the merged OpenAPI document at /docs-json', async () => {
      const merged = await fetch(`${platform.gatewayUrl}/docs-json`);
      expect(merged.headers.get('content-type')).toBe('application/json');
      expect(await merged.json()).toEqual(
        JSON.parse(readFileSync(join(ROOT, 'openapi/merged.json'), 'utf8')),
      );
    });

    // Last: it stops queue-api for good.
    it('answers 502 problem+json, not an nginx page, for a service that stopped; the others still answer', async () => {
      await platform.stopService('queue-api');
      const app = platform.client();
      const error = await failure(app.GET('/v1/billing/wallet'));
      expect(error).toMatchObject({ status: 502, code: 'bad_gateway' });
      expect(error.problem).toMatchObject({
        type: 'https://docs.realapp.dev/problems/bad-gateway',
        title: 'Bad Gateway',
        status: 502,
      });
      expect(error.correlationId).toMatch(UUID_V4);

      const raw = await fetch(`${platform.gatewayUrl}/v1/ads/orders`);
      expect(raw.status).toBe(502);
      expect(raw.headers.get('content-type')).toBe('application/problem+json');
      expect(await raw.text()).not.toMatch(/<html/i);

      const jwks = await fetch(`${platform.gatewayUrl}/.well-known/jwks.json`);
      expect(jwks.status).toBe(200);
    });
  });
});
