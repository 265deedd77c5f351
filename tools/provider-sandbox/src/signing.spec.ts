import { createHmac } from 'node:crypto';
import {
  mercadoPagoManifest,
  mercadoPagoSignatureHeader,
  metaJsonStringify,
  metaSignature256Header,
  stripeSignatureHeader,
} from './signing';

describe('signing', () => {
  it('signs the Mercado Pago manifest with the trailing semicolon', () => {
    expect(mercadoPagoManifest('123', 'req-1', '1700000000')).toBe('id:123;request-id:req-1;ts:1700000000;');
    const expected = createHmac('sha256', 'secret')
      .update('id:123;request-id:req-1;ts:1700000000;')
      .digest('hex');
    expect(mercadoPagoSignatureHeader('secret', '123', 'req-1', '1700000000')).toBe(
      `ts=1700000000,v1=${expected}`,
    );
  });

  it('signs "<t>.<raw body>" for Stripe', () => {
    const body = '{\n  "id": "evt_1"\n}';
    const expected = createHmac('sha256', 'whsec_x').update(`1700000000.${body}`).digest('hex');
    expect(stripeSignatureHeader('whsec_x', body, 1700000000)).toBe(`t=1700000000,v1=${expected}`);
  });

  it('signs the raw bytes for Meta', () => {
    const raw = '{"a":"\\u00e9"}';
    const expected = createHmac('sha256', 'app').update(Buffer.from(raw, 'utf8')).digest('hex');
    expect(metaSignature256Header('app', raw)).toBe(`sha256=${expected}`);
  });

  it('escapes non-ASCII and slashes like Meta, and still parses back to the same value', () => {
    const value = { text: 'Olá 👋', url: 'https://x.example/a' };
    const raw = metaJsonStringify(value);
    expect(raw).toBe('{"text":"Ol\\u00e1 \\ud83d\\udc4b","url":"https:\\/\\/x.example\\/a"}');
    expect(JSON.parse(raw)).toEqual(value);
    // The re-serialized text differs, which is why the gateway must hash the raw bytes.
    expect(JSON.stringify(JSON.parse(raw))).not.toBe(raw);
  });
});
