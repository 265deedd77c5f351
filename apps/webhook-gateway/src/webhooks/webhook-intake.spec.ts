import { createHash } from 'node:crypto';
import { signMercadoPago, signMeta, signStripe } from '@realapp/payments';
import { intakeMercadoPago, intakeMeta, intakeStripe, RawWebhook } from './webhook-intake';
import { WebhookRejected } from './webhook-rejection';

const NOW = Date.UTC(2026, 10, 24, 12, 0, 0);
const nowSeconds = NOW / 1000;
const options = (secrets: string[]): { secrets: string[]; toleranceSeconds: number; nowMs: number } => ({
  secrets,
  toleranceSeconds: 300,
  nowMs: NOW,
});

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof WebhookRejected) return `${error.status} ${error.reason}`;
    throw error;
  }
  return 'accepted';
}

describe('intakeMercadoPago', () => {
  const mp = (overrides: { body?: string; dataId?: string; secret?: string; ts?: number; queryId?: string } = {}): RawWebhook => {
    const dataId = overrides.dataId ?? '1234567890';
    return {
      rawBody: Buffer.from(overrides.body ?? JSON.stringify({ id: 98765, type: 'payment', action: 'payment.updated', data: { id: dataId } })),
      headers: {
        'x-request-id': 'req-1',
        'x-signature': signMercadoPago({ secret: overrides.secret ?? 's1', dataId, xRequestId: 'req-1', ts: overrides.ts ?? nowSeconds }),
      },
      query: { 'data.id': overrides.queryId ?? dataId, type: 'payment' },
    };
  };

  it('takes the event id from the body, the topic from type and the resource from the signed query', () => {
    const parsed = intakeMercadoPago(mp(), options(['s1']));
    expect(parsed).toMatchObject({ providerEventId: '98765', topic: 'payment', resourceId: '1234567890', tenantId: null, matchedSecretIndex: 0 });
  });

  it('matches the second live secret during a rotation', () => {
    expect(intakeMercadoPago(mp({ secret: 's2' }), options(['s1', 's2'])).matchedSecretIndex).toBe(1);
  });

  it('verifies before parsing: a forged malformed body is 401, a signed one 400', () => {
    expect(reason(() => intakeMercadoPago(mp({ body: '{', secret: 'x' }), options(['s1'])))).toBe('401 invalid_signature');
    expect(reason(() => intakeMercadoPago(mp({ body: '{' }), options(['s1'])))).toBe('400 malformed_json');
    expect(reason(() => intakeMercadoPago(mp({ body: '"str"' }), options(['s1'])))).toBe('400 validation_failed');
    expect(reason(() => intakeMercadoPago(mp({ body: '{"type":"payment"}' }), options(['s1'])))).toBe('400 validation_failed');
  });

  it('refuses an altered data.id, a stale ts and a missing signature', () => {
    expect(reason(() => intakeMercadoPago(mp({ queryId: '1234567891' }), options(['s1'])))).toBe('401 invalid_signature');
    expect(reason(() => intakeMercadoPago(mp({ ts: nowSeconds - 301 }), options(['s1'])))).toBe('401 signature_expired');
    const unsigned = mp();
    expect(reason(() => intakeMercadoPago({ ...unsigned, headers: { 'x-request-id': 'req-1' } }, options(['s1'])))).toBe(
      '401 invalid_signature',
    );
  });

  it('refuses invalid UTF-8 as malformed', () => {
    const raw = mp();
    expect(reason(() => intakeMercadoPago({ ...raw, rawBody: Buffer.from([0x7b, 0xff, 0x7d]) }, options(['s1'])))).toBe('400 malformed_json');
  });
});

describe('intakeStripe', () => {
  const body = JSON.stringify({
    id: 'evt_1',
    type: 'charge.refunded',
    data: { object: { id: 'ch_1', metadata: { tenantId: '0b5e4f64-7f5b-4a43-8d5e-3f7f3c1d2e10', topupId: 'x' } } },
  });
  const stripe = (rawBody = body, secret = 's1', timestamp = nowSeconds): RawWebhook => ({
    rawBody: Buffer.from(rawBody),
    headers: { 'stripe-signature': signStripe({ secret, rawBody: body, timestamp }) },
    query: {},
  });

  it('identifies the event and labels it with the tenant from the signed metadata', () => {
    expect(intakeStripe(stripe(), options(['s1']))).toMatchObject({
      providerEventId: 'evt_1',
      topic: 'charge.refunded',
      resourceId: 'ch_1',
      tenantId: '0b5e4f64-7f5b-4a43-8d5e-3f7f3c1d2e10',
    });
  });

  it('refuses one altered byte, another secret and a stale timestamp', () => {
    expect(reason(() => intakeStripe(stripe(body.replace('ch_1', 'ch_2')), options(['s1'])))).toBe('401 invalid_signature');
    expect(reason(() => intakeStripe(stripe(body, 'other'), options(['s1'])))).toBe('401 invalid_signature');
    expect(reason(() => intakeStripe(stripe(body, 's1', nowSeconds - 400), options(['s1'])))).toBe('401 signature_expired');
  });
});

describe('intakeMeta', () => {
  const signed = (payload: unknown): RawWebhook => {
    const text = JSON.stringify(payload);
    return { rawBody: Buffer.from(text), headers: { 'x-hub-signature-256': signMeta({ secret: 'app', rawBody: text }) }, query: {} };
  };
  const messages = (ids: string[]): unknown => ({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '555',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550001111', phone_number_id: '106540352242922' },
              messages: ids.map((id) => ({ id, from: '5511', timestamp: '1', type: 'text', text: { body: 'oi' } })),
            },
          },
        ],
      },
    ],
  });

  it('identifies a single message by its wamid and routes by phone_number_id', () => {
    expect(intakeMeta(signed(messages(['wamid.A'])), { secrets: ['app'] })).toMatchObject({
      providerEventId: 'message:wamid.A',
      topic: 'messages',
      resourceId: '106540352242922',
      phoneNumberId: '106540352242922',
    });
  });

  it('gives a batch the same id whatever the order of its messages', () => {
    const a = intakeMeta(signed(messages(['wamid.A', 'wamid.B'])), { secrets: ['app'] }).providerEventId;
    const b = intakeMeta(signed(messages(['wamid.B', 'wamid.A'])), { secrets: ['app'] }).providerEventId;
    expect(a).toMatch(/^batch:[0-9a-f]{64}$/);
    expect(a).toBe(b);
  });

  it('identifies an account update by the hash of its exact bytes, and its resource by WABA', () => {
    const raw = signed({
      object: 'whatsapp_business_account',
      entry: [{ id: '777', changes: [{ field: 'account_update', value: { event: 'PARTNER_ADDED', waba_info: { waba_id: '888', owner_business_id: '999' } } }] }],
    });
    expect(intakeMeta(raw, { secrets: ['app'] })).toMatchObject({
      providerEventId: `body:${createHash('sha256').update(raw.rawBody).digest('hex')}`,
      topic: 'account_update',
      resourceId: '888',
      phoneNumberId: null,
    });
  });

  it('refuses a bad signature before looking at the body', () => {
    const raw = signed(messages(['wamid.A']));
    expect(reason(() => intakeMeta({ ...raw, rawBody: Buffer.from('{') }, { secrets: ['app'] }))).toBe('401 invalid_signature');
    expect(reason(() => intakeMeta(raw, { secrets: ['other'] }))).toBe('401 invalid_signature');
  });
});
