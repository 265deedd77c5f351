import { createHmac } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildSandboxApp } from './sandbox';
import { GatewayStub, startGatewayStub } from './testing/gateway-stub';

const APP_SECRET = 'test-meta-app-secret';
const APP_TOKEN = '1000000000000001|app-secret';

function validMetaSignature(rawBody: Buffer, header: unknown): boolean {
  return header === `sha256=${createHmac('sha256', APP_SECRET).update(rawBody).digest('hex')}`;
}

describe('WhatsApp Cloud API and Embedded Signup routes', () => {
  let gateway: GatewayStub;
  let app: FastifyInstance;

  beforeAll(async () => {
    gateway = await startGatewayStub();
  });

  afterAll(async () => {
    await gateway.close();
  });

  beforeEach(async () => {
    gateway.received.length = 0;
    app = buildSandboxApp({ webhookBaseUrl: gateway.url, metaAppSecret: APP_SECRET }).app;
    await app.ready();
  });

  afterEach(async () => {
    await app.close();
  });

  async function mintCode(body: Record<string, unknown> = {}): Promise<string> {
    const response = await app.inject({ method: 'POST', url: '/_sandbox/meta/oauth/codes', payload: body });
    expect(response.statusCode).toBe(201);
    return response.json().code;
  }

  async function exchange(code: string): Promise<{ statusCode: number; body: Record<string, unknown> }> {
    const response = await app.inject({
      method: 'GET',
      url: `/v24.0/oauth/access_token?client_id=1000000000000001&client_secret=s3cret&code=${encodeURIComponent(code)}`,
    });
    return { statusCode: response.statusCode, body: response.json() };
  }

  async function debug(token: string): Promise<Record<string, unknown>> {
    const response = await app.inject({
      method: 'GET',
      url: `/v26.0/debug_token?input_token=${encodeURIComponent(token)}&access_token=${encodeURIComponent(APP_TOKEN)}`,
    });
    expect(response.statusCode).toBe(200);
    return response.json().data;
  }

  describe('code exchange and debug_token', () => {
    it('exchanges a minted code once for a business token', async () => {
      const code = await mintCode({ wabaId: '5550001' });
      const first = await exchange(code);
      expect(first.statusCode).toBe(200);
      expect(first.body).toEqual({
        access_token: expect.stringMatching(/^EAAG/),
        token_type: 'bearer',
        expires_in: 5184000,
      });

      const second = await exchange(code);
      expect(second.statusCode).toBe(400);
      expect(second.body).toMatchObject({ error: { type: 'OAuthException', code: 100 } });
    });

    it('refuses an unknown or empty code with Graph OAuthException 100', async () => {
      for (const code of ['never-issued', '']) {
        const result = await exchange(code);
        expect(result.statusCode).toBe(400);
        expect(result.body).toMatchObject({ error: { type: 'OAuthException', code: 100 } });
      }
    });

    it('accepts sandbox-code-* codes without minting (demos)', async () => {
      expect((await exchange('sandbox-code-demo-1')).statusCode).toBe(200);
    });

    it('describes an issued token', async () => {
      const { body } = await exchange(await mintCode({ wabaId: '5550001' }));
      const data = await debug(String(body['access_token']));
      expect(data).toMatchObject({
        app_id: '1000000000000001',
        application: expect.any(String),
        type: 'SYSTEM_USER',
        is_valid: true,
        scopes: ['whatsapp_business_management', 'whatsapp_business_messaging', 'business_management'],
        user_id: expect.any(String),
      });
      expect(Number(data['expires_at']) - Number(data['issued_at'])).toBe(5184000);
      expect(data['granular_scopes']).toEqual([
        { scope: 'whatsapp_business_management', target_ids: ['5550001'] },
        { scope: 'whatsapp_business_messaging', target_ids: ['5550001'] },
        { scope: 'business_management' },
      ]);
    });

    it('issues a never-expiring token when the code says so', async () => {
      const { body } = await exchange(await mintCode({ expiresIn: null }));
      expect(body['expires_in']).toBeUndefined();
      expect((await debug(String(body['access_token'])))['expires_at']).toBe(0);
    });

    it('says is_valid false with error 190 for a token it never issued', async () => {
      const data = await debug('EAAGforged');
      expect(data).toMatchObject({
        is_valid: false,
        error: { code: 190, message: expect.any(String), subcode: expect.any(Number) },
      });
    });

    it('lets tests invalidate or expire a token', async () => {
      const { body } = await exchange(await mintCode());
      const token = String(body['access_token']);
      const soon = Math.floor(Date.now() / 1000) + 3 * 86400;
      const set = await app.inject({
        method: 'POST',
        url: `/_sandbox/meta/tokens/${token}`,
        payload: { expiresAt: soon },
      });
      expect(set.json().data).toMatchObject({ is_valid: true, expires_at: soon });

      await app.inject({
        method: 'POST',
        url: `/_sandbox/meta/tokens/${token}`,
        payload: { isValid: false },
      });
      expect(await debug(token)).toMatchObject({ is_valid: false, error: { code: 190, subcode: 460 } });

      // An invalidated token fails real calls too.
      const send = await app.inject({
        method: 'POST',
        url: '/v24.0/777/messages',
        headers: { authorization: `Bearer ${token}` },
        payload: { messaging_product: 'whatsapp', to: '5511999990000', type: 'text', text: { body: 'hi' } },
      });
      expect(send.statusCode).toBe(400);
      expect(send.json().error.code).toBe(190);

      const past = Math.floor(Date.now() / 1000) - 10;
      await app.inject({
        method: 'POST',
        url: `/_sandbox/meta/tokens/${token}`,
        payload: { isValid: true, expiresAt: past },
      });
      expect(await debug(token)).toMatchObject({ is_valid: false, error: { code: 190, subcode: 463 } });
    });
  });

  describe('WABA calls', () => {
    const auth = { authorization: 'Bearer EAAGbusiness' };

    it('subscribes the app and lists phone numbers', async () => {
      const subscribe = await app.inject({
        method: 'POST',
        url: '/v24.0/5550001/subscribed_apps',
        headers: auth,
      });
      expect(subscribe.json()).toEqual({ success: true });
      const numbers = await app.inject({ method: 'GET', url: '/v24.0/5550001/phone_numbers', headers: auth });
      expect(numbers.statusCode).toBe(200);
      expect(numbers.json().data).toEqual([
        expect.objectContaining({
          id: expect.stringMatching(/^\d+$/),
          display_phone_number: expect.any(String),
          verified_name: expect.any(String),
        }),
      ]);
      const unsubscribe = await app.inject({
        method: 'DELETE',
        url: '/v24.0/5550001/subscribed_apps',
        headers: auth,
      });
      expect(unsubscribe.json()).toEqual({ success: true });
    });

    it('lists the number a minted code registered for the WABA', async () => {
      await mintCode({ wabaId: '5550002', phoneNumberId: '880001', displayPhoneNumber: '+55 11 3000-0001' });
      const numbers = await app.inject({
        method: 'GET',
        url: '/v24.0/5550002/phone_numbers?fields=id,display_phone_number',
        headers: auth,
      });
      expect(numbers.json().data).toEqual([{ id: '880001', display_phone_number: '+55 11 3000-0001' }]);
    });

    it('sends a text message', async () => {
      const response = await app.inject({
        method: 'POST',
        url: '/v24.0/880001/messages',
        headers: auth,
        payload: {
          messaging_product: 'whatsapp',
          recipient_type: 'individual',
          to: '5511999990000',
          type: 'text',
          text: { body: 'Olá! Escolha 1 ou 2.' },
        },
      });
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(body).toEqual({
        messaging_product: 'whatsapp',
        contacts: [{ input: '5511999990000', wa_id: '5511999990000' }],
        messages: [{ id: expect.stringMatching(/^wamid\./) }],
      });
      const sent = await app.inject({
        method: 'GET',
        url: '/_sandbox/meta/whatsapp/messages?to=5511999990000',
      });
      expect(sent.json().items[0]).toMatchObject({ id: body.messages[0].id, text: 'Olá! Escolha 1 ou 2.' });
    });

    it('refuses a message without messaging_product or too long', async () => {
      const missing = await app.inject({
        method: 'POST',
        url: '/v24.0/880001/messages',
        headers: auth,
        payload: { to: '1', type: 'text', text: { body: 'x' } },
      });
      expect(missing.statusCode).toBe(400);
      const long = await app.inject({
        method: 'POST',
        url: '/v24.0/880001/messages',
        headers: auth,
        payload: { messaging_product: 'whatsapp', to: '1', type: 'text', text: { body: 'x'.repeat(4097) } },
      });
      expect(long.statusCode).toBe(400);
      expect(long.json().error.code).toBe(100);
    });
  });

  describe('signed webhooks', () => {
    it('posts an inbound text message in the real notification shape, signed over the raw bytes', async () => {
      const response = await app.inject({
        method: 'POST',
        url: '/_sandbox/meta/whatsapp/inbound',
        payload: {
          phoneNumberId: '880001',
          from: '5511988887777',
          text: 'Olá, quero saber do apê',
          wabaId: '5550001',
        },
      });
      expect(response.statusCode).toBe(200);
      const answer = response.json();
      expect(answer.messageId).toMatch(/^wamid\./);
      expect(answer.notified).toMatchObject({ status: 200, statuses: [200] });

      const [delivery] = gateway.received;
      expect(delivery.url).toBe('/v1/webhooks/meta');
      expect(validMetaSignature(delivery.rawBody, delivery.headers['x-hub-signature-256'])).toBe(true);
      const raw = delivery.rawBody.toString('utf8');
      // Meta escapes non-ASCII characters before signing.
      expect(raw).toContain('Ol\\u00e1');
      expect(JSON.parse(raw)).toEqual({
        object: 'whatsapp_business_account',
        entry: [
          {
            id: '5550001',
            changes: [
              {
                field: 'messages',
                value: {
                  messaging_product: 'whatsapp',
                  metadata: {
                    display_phone_number: expect.stringMatching(/^\d+$/),
                    phone_number_id: '880001',
                  },
                  contacts: [{ profile: { name: expect.any(String) }, wa_id: '5511988887777' }],
                  messages: [
                    {
                      from: '5511988887777',
                      id: answer.messageId,
                      timestamp: expect.stringMatching(/^\d{10}$/),
                      type: 'text',
                      text: { body: 'Olá, quero saber do apê' },
                    },
                  ],
                },
              },
            ],
          },
        ],
      });
    });

    it('delivers the same message several times with count', async () => {
      const response = await app.inject({
        method: 'POST',
        url: '/_sandbox/meta/whatsapp/inbound',
        payload: {
          phoneNumberId: '880001',
          from: '5511988887777',
          text: 'oi',
          messageId: 'wamid.fixed',
          count: 3,
        },
      });
      expect(response.json()).toMatchObject({
        messageId: 'wamid.fixed',
        notified: { statuses: [200, 200, 200] },
      });
      const ids = gateway.received.map(
        (delivery) => JSON.parse(delivery.rawBody.toString('utf8')).entry[0].changes[0].value.messages[0].id,
      );
      expect(ids).toEqual(['wamid.fixed', 'wamid.fixed', 'wamid.fixed']);
    });

    it('posts a signed account_update partner event', async () => {
      const response = await app.inject({
        method: 'POST',
        url: '/_sandbox/meta/partner-added',
        payload: { wabaId: '5550009', ownerBusinessId: '4440009' },
      });
      expect(response.statusCode).toBe(200);
      const [delivery] = gateway.received;
      expect(validMetaSignature(delivery.rawBody, delivery.headers['x-hub-signature-256'])).toBe(true);
      const body = JSON.parse(delivery.rawBody.toString('utf8'));
      expect(body.object).toBe('whatsapp_business_account');
      expect(body.entry[0]).toMatchObject({ id: expect.any(String), time: expect.any(Number) });
      expect(body.entry[0].changes[0]).toEqual({
        field: 'account_update',
        value: {
          event: 'PARTNER_ADDED',
          waba_info: { waba_id: '5550009', owner_business_id: '4440009', partner_app_id: expect.any(String) },
        },
      });

      await app.inject({
        method: 'POST',
        url: '/_sandbox/meta/partner-added',
        payload: { wabaId: '5550009', ownerBusinessId: '4440009', event: 'PARTNER_APP_INSTALLED' },
      });
      expect(JSON.parse(gateway.received[1].rawBody.toString('utf8')).entry[0].changes[0].value.event).toBe(
        'PARTNER_APP_INSTALLED',
      );
    });

    it('validates control input', async () => {
      const response = await app.inject({
        method: 'POST',
        url: '/_sandbox/meta/whatsapp/inbound',
        payload: {},
      });
      expect(response.statusCode).toBe(400);
      expect(response.json().error.errors).toEqual(
        expect.arrayContaining([expect.stringContaining('phoneNumberId'), expect.stringContaining('text')]),
      );
    });
  });
});
