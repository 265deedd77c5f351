import { parseFormBody, splitFormKey } from './form-body';

describe('splitFormKey', () => {
  it('splits bracket segments', () => {
    expect(splitFormKey('line_items[0][price_data][unit_amount]')).toEqual([
      'line_items',
      '0',
      'price_data',
      'unit_amount',
    ]);
    expect(splitFormKey('expand[]')).toEqual(['expand', '']);
    expect(splitFormKey('plain')).toEqual(['plain']);
  });
});

describe('parseFormBody', () => {
  it('reads a Checkout Session body as the stripe SDK encodes it', () => {
    // Brackets are left unencoded by the SDK; values are percent-encoded like qs does.
    const raw = [
      'mode=payment',
      'line_items[0][price_data][currency]=brl',
      'line_items[0][price_data][unit_amount]=5000',
      'line_items[0][price_data][product_data][name]=Cr%C3%A9dito%20de%20tr%C3%A1fego',
      'line_items[0][quantity]=1',
      'client_reference_id=topup_123',
      'metadata[topupId]=topup_123',
      'metadata[tenantId]=tenant%2Fa',
      'payment_intent_data[metadata][topupId]=topup_123',
      'success_url=https%3A%2F%2Fapp.example%2Fok%3Fs%3D%7BCHECKOUT_SESSION_ID%7D',
    ].join('&');
    expect(parseFormBody(raw)).toEqual({
      mode: 'payment',
      line_items: [
        {
          price_data: { currency: 'brl', unit_amount: '5000', product_data: { name: 'Crédito de tráfego' } },
          quantity: '1',
        },
      ],
      client_reference_id: 'topup_123',
      metadata: { topupId: 'topup_123', tenantId: 'tenant/a' },
      payment_intent_data: { metadata: { topupId: 'topup_123' } },
      success_url: 'https://app.example/ok?s={CHECKOUT_SESSION_ID}',
    });
  });

  it('accepts percent-encoded brackets and plus-encoded spaces', () => {
    expect(parseFormBody('metadata%5Bnote%5D=a+b')).toEqual({ metadata: { note: 'a b' } });
  });

  it('orders indexed arrays by index and supports empty brackets', () => {
    expect(parseFormBody('items[1]=b&items[0]=a&expand[]=x&expand[]=y')).toEqual({
      items: ['a', 'b'],
      expand: ['x', 'y'],
    });
  });

  it('collects repeated plain keys like qs', () => {
    expect(parseFormBody('a=1&a=2')).toEqual({ a: ['1', '2'] });
  });

  it('ignores prototype-polluting keys', () => {
    const parsed = parseFormBody('__proto__[polluted]=yes&constructor[prototype][x]=1&ok=1');
    expect(parsed).toEqual({ ok: '1' });
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('keeps the top level an object even with numeric keys', () => {
    expect(parseFormBody('0=a&1=b')).toEqual({ '0': 'a', '1': 'b' });
  });

  it('reads an empty body as an empty object', () => {
    expect(parseFormBody('')).toEqual({});
  });
});
