import { randomUUID } from 'node:crypto';
import { EVENTS, WEBHOOK_PROVIDERS } from '@realapp/contracts';
import { buildWebhookEnvelope } from './webhook-envelope';
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
