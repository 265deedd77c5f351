import { expectEventually, startTestSandbox, TestSandbox } from '@realapp/testing';
import { WhatsAppGraphClient } from './whatsapp-graph.client';
import { isWhatsAppGraphError, WhatsAppGraphError } from './whatsapp-graph.errors';

const APP_SECRET = 'dev-meta-app-secret';

interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, unknown>;
  headers: Record<string, string>;
  response: { status: number };
}

describe('WhatsAppGraphClient against the provider sandbox', () => {
  let sandbox: TestSandbox;
  let client: WhatsAppGraphClient;
  let waba = 700000000000100;

  const control = async <T>(path: string, body: unknown = {}): Promise<T> => {
    const response = await fetch(`${sandbox.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status).toBeLessThan(300);
    return (await response.json()) as T;
  };
  const requests = async (): Promise<LoggedRequest[]> => {
    const response = await fetch(`${sandbox.url}/_sandbox/requests?provider=meta&limit=50`);
    return ((await response.json()) as { items: LoggedRequest[] }).items;
  };
  const fault = (body: Record<string, unknown>): Promise<unknown> => control('/_sandbox/faults', { provider: 'meta', ...body });
  const failure = async (promise: Promise<unknown>): Promise<WhatsAppGraphError> => {
    try {
      await promise;
    } catch (error) {
      if (isWhatsAppGraphError(error)) return error;
      throw error;
    }
    throw new Error('expected the call to fail');
  };

  /** A fresh WABA with one number, and the business token a signup for it would give. */
  const signup = async (): Promise<{ wabaId: string; phoneNumberId: string; token: string }> => {
    waba += 1;
    const wabaId = String(waba);
    const phoneNumberId = String(waba + 5_000_000);
    const { code } = await control<{ code: string }>('/_sandbox/meta/oauth/codes', {
      wabaId,
      phoneNumberId,
      displayPhoneNumber: '+55 11 99999-0000',
    });
    const { accessToken } = await client.exchangeCode(code);
    return { wabaId, phoneNumberId, token: accessToken };
  };

  beforeAll(async () => {
    sandbox = await startTestSandbox();
    client = new WhatsAppGraphClient({
      baseUrl: sandbox.url,
      apiVersion: 'v26.0',
      appId: '1000000000000001',
      appSecret: APP_SECRET,
      appAccessToken: 'dev-meta-app-access-token',
      timeoutMs: 1500,
      maxRetries: 2,
      retryBaseDelayMs: 10,
    });
  });

  afterEach(async () => {
    await fetch(`${sandbox.url}/_sandbox/faults`, { method: 'DELETE' });
  });

  afterAll(async () => {
    await sandbox.close();
  });

  it('exchanges a signup code for a business token (Graph `code`, reads `access_token` and `expires_in`)', async () => {
    const { code } = await control<{ code: string }>('/_sandbox/meta/oauth/codes', { expiresIn: 3600 });
    const exchanged = await client.exchangeCode(code);
    expect(exchanged.accessToken).toMatch(/^EAAG/);
    expect(exchanged.expiresInSeconds).toBe(3600);
    const [call] = await requests();
    expect(call.path).toBe('/v26.0/oauth/access_token');
    expect(Object.keys(call.query).sort()).toEqual(['client_id', 'client_secret', 'code']);

    const again = await failure(client.exchangeCode(code));
    expect(again.kind).toBe('permanent');
    expect(again.graphCode).toBe(100);
    expect(again.message).not.toContain(code);
  });

  it('reads a token that never expires as expiresInSeconds null', async () => {
    const { code } = await control<{ code: string }>('/_sandbox/meta/oauth/codes', { expiresIn: null });
    expect((await client.exchangeCode(code)).expiresInSeconds).toBeNull();
  });

  it('debugs a token with the app token and its appsecret_proof, and reads the granted WABAs', async () => {
    const { wabaId, token } = await signup();
    const info = await client.debugToken(token);
    expect(info).toMatchObject({ isValid: true, wabaIds: [wabaId] });
    expect(info.scopes).toContain('whatsapp_business_messaging');
    expect(info.expiresAt?.getTime()).toBeGreaterThan(Date.now());
    const [call] = await requests();
    expect(call.path).toBe('/v26.0/debug_token');
    expect(call.query).toHaveProperty('appsecret_proof');
    expect(call.headers['authorization']).toMatch(/^Bearer /);

    await control(`/_sandbox/meta/tokens/${token}`, { isValid: false });
    expect((await client.debugToken(token)).isValid).toBe(false);
    await control(`/_sandbox/meta/tokens/${token}`, { isValid: true, expiresAt: 0 });
    expect((await client.debugToken(token)).expiresAt).toBeNull();
  });

  it('lists the phone numbers, subscribes the app and sends a text with the business token', async () => {
    const { wabaId, phoneNumberId, token } = await signup();
    expect(await client.listPhoneNumbers(wabaId, token)).toEqual([
      { id: phoneNumberId, displayPhoneNumber: '+55 11 99999-0000', verifiedName: 'RealApp Sandbox' },
    ]);
    await client.subscribeApp(wabaId, token);
    const sent = await client.sendText(phoneNumberId, token, '5511988887777', 'Olá!');
    expect(sent.messageId).toMatch(/^wamid\./);
    const messages = (await (await fetch(`${sandbox.url}/_sandbox/meta/whatsapp/messages?to=5511988887777`)).json()) as {
      items: Array<{ id: string; text: string; phoneNumberId: string }>;
    };
    expect(messages.items[0]).toMatchObject({ id: sent.messageId, text: 'Olá!', phoneNumberId });
    await client.unsubscribeApp(wabaId, token);
  });

  it('retries transient failures, then succeeds', async () => {
    const { wabaId, token } = await signup();
    await fault({ status: 500, count: 1 });
    await fault({ status: 502, count: 1 });
    await expect(client.listPhoneNumbers(wabaId, token)).resolves.toHaveLength(1);
    const calls = (await requests()).filter((call) => call.path.endsWith('/phone_numbers'));
    expect(calls.slice(0, 3).map((call) => call.response.status)).toEqual([200, 502, 500]);
  });

  it('stops at once, retryably, when Meta asks for a longer wait than a worker should sleep', async () => {
    const { wabaId, token } = await signup();
    await fault({ status: 429, count: 1 });
    const error = await failure(client.listPhoneNumbers(wabaId, token));
    expect(error).toMatchObject({ kind: 'throttled', retryable: true, graphCode: 17 });
    expect(error.retryAfterMs).toBeGreaterThanOrEqual(60_000);
    expect(error.message).toContain('1 attempt(s)');
  });

  it('gives up after its retries with a retryable error', async () => {
    const { wabaId, token } = await signup();
    await fault({ status: 503, count: 5 });
    const error = await failure(client.subscribeApp(wabaId, token));
    expect(error).toMatchObject({ retryable: true, ambiguous: false, httpStatus: 503 });
    expect(error.message).toContain('3 attempt(s)');
  });

  it('does not retry a refused token, and says so', async () => {
    const { phoneNumberId, token } = await signup();
    await control(`/_sandbox/meta/tokens/${token}`, { isValid: false });
    const error = await failure(client.sendText(phoneNumberId, token, '5511900000001', 'x'));
    expect(error).toMatchObject({ retryable: false, tokenInvalid: true, graphCode: 190 });
    expect(error.message).not.toContain(token);
  });

  it('retries a message send Meta answered with an error, since nothing was sent', async () => {
    const { phoneNumberId, token } = await signup();
    await fault({ status: 500, count: 1 });
    await expect(client.sendText(phoneNumberId, token, '5511900000002', 'retry me')).resolves.toHaveProperty('messageId');
  });

  it('never sends a message twice when the answer does not come back in time', async () => {
    const { phoneNumberId, token } = await signup();
    await fault({ delayMs: 2500, count: 1 });
    const error = await failure(client.sendText(phoneNumberId, token, '5511900000003', 'slow'));
    expect(error).toMatchObject({ ambiguous: true, retryable: true });
    // The sandbox logs the call once it answers, after its delay: one call, never a second.
    const sends = await expectEventually(async () => {
      const found = (await requests()).filter((call) => call.path === `/v26.0/${phoneNumberId}/messages`);
      expect(found.length).toBeGreaterThan(0);
      return found;
    });
    expect(sends).toHaveLength(1);
  });

  it('does retry an idempotent read that timed out', async () => {
    const { token } = await signup();
    await fault({ delayMs: 2500, count: 1 });
    await expect(client.debugToken(token)).resolves.toMatchObject({ isValid: true });
  });
});
