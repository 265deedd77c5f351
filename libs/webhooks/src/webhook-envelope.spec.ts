import { randomUUID } from 'node:crypto';
import { EVENTS, WEBHOOK_PROVIDERS } from '@realapp/contracts';
import { buildWebhookEnvelope, storableJsonText } from './webhook-envelope';
import { storableHeaders } from './storable-headers';

describe('buildWebhookEnvelope', () => {
  it.each(WEBHOOK_PROVIDERS)('builds a %s envelope the registry accepts as it stands', (provider) => {
    const envelope = buildWebhookEnvelope({
      webhookEventId: randomUUID(),
      provider,
      providerEventId: '123',
      topic: 'payment',
      resourceId: '456',
      tenantId: randomUUID(),
      payload: { id: 123, data: { id: '456' } },
      correlationId: 'corr-1',
    });
    expect(EVENTS.envelopeProblems(JSON.parse(JSON.stringify(envelope)))).toEqual([]);
    expect(envelope.type).toBe(`webhook.${provider}.received`);
  });

  it('leaves resourceId out when there is none, and stays valid', () => {
    const envelope = buildWebhookEnvelope({
      webhookEventId: randomUUID(),
      provider: 'meta',
      providerEventId: 'body:abc',
      topic: 'account_update',
      resourceId: null,
      tenantId: null,
      payload: {},
      correlationId: randomUUID(),
    });
    expect('resourceId' in envelope.data).toBe(false);
    expect(EVENTS.envelopeProblems(JSON.parse(JSON.stringify(envelope)))).toEqual([]);
  });
});

describe('storableHeaders', () => {
  it('drops signatures and credentials and keeps what ops needs', () => {
    expect(
      storableHeaders({
        'x-signature': 'ts=1,v1=ab',
        'stripe-signature': 't=1,v1=ab',
        'x-hub-signature-256': 'sha256=ab',
        'x-hub-signature': 'sha1=ab',
        authorization: 'Bearer x',
        cookie: 'a=b',
        'x-request-id': 'req-1',
        'content-type': 'application/json',
        'x-forwarded-for': ['1.1.1.1', '2.2.2.2'],
        'user-agent': undefined,
      }),
    ).toEqual({ 'x-request-id': 'req-1', 'content-type': 'application/json', 'x-forwarded-for': '1.1.1.1, 2.2.2.2' });
  });
});

describe('storableJsonText', () => {
  it('leaves a body without a byte order mark or a NUL escape as it is', () => {
    const text = '{"a":"caf\u00e9 \\\\u0000 is text","b":[1,2]}';
    expect(storableJsonText(text)).toBe(text);
  });

  it('drops a leading byte order mark', () => {
    expect(storableJsonText('\uFEFF{"a":1}')).toBe('{"a":1}');
  });

  it.each([
    ['a bare escape', '{"a":"x\\u0000y"}', { a: 'x\uFFFDy' }],
    ['two in a row', '{"a":"\\u0000\\u0000"}', { a: '\uFFFD\uFFFD' }],
    ['after an escaped backslash', '{"a":"\\\\\\u0000"}', { a: '\\\uFFFD' }],
    ['in a key', '{"k\\u0000":1}', { 'k\uFFFD': 1 }],
  ])('replaces a NUL escape (%s) with U+FFFD', (_what, text, parsed) => {
    const storable = storableJsonText(text);
    expect(JSON.parse(storable)).toEqual(parsed);
    expect(storable).not.toContain('\\u0000');
  });

  it('keeps an escaped backslash followed by the letters u0000', () => {
    const text = '{"a":"\\\\u0000"}';
    expect(storableJsonText(text)).toBe(text);
    expect(JSON.parse(storableJsonText(text))).toEqual({ a: '\\u0000' });
  });
});
