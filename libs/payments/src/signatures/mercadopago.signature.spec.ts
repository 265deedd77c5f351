import { createHmac } from 'node:crypto';
import {
  buildMercadoPagoManifest,
  signMercadoPago,
  verifyMercadoPagoSignature,
} from './mercadopago.signature';

const SECRET = 'dev-mercadopago-webhook-secret';
const OLD_SECRET = 'previous-mercadopago-secret';
const NOW_S = 1_795_000_000;
const NOW_MS = NOW_S * 1000;
const REQUEST_ID = 'bb56a2f1-6aae-46ac-982e-9dcd3581d08e';
const DATA_ID = '123456789';

function hexHmac(secret: string, text: string): string {
  return createHmac('sha256', secret).update(text).digest('hex');
}

describe('verifyMercadoPagoSignature', () => {
  const base = { xRequestId: REQUEST_ID, dataId: DATA_ID, secrets: [SECRET], nowMs: NOW_MS };

  it('builds the documented manifest, dropping absent parts whole', () => {
    expect(buildMercadoPagoManifest({ dataId: 'abc', xRequestId: 'req', ts: '1' })).toBe(
      'id:abc;request-id:req;ts:1;',
    );
    expect(buildMercadoPagoManifest({ xRequestId: 'req', ts: '1' })).toBe('request-id:req;ts:1;');
    expect(buildMercadoPagoManifest({ dataId: 'abc', xRequestId: '', ts: '1' })).toBe('id:abc;ts:1;');
    expect(buildMercadoPagoManifest({ dataId: null, xRequestId: null, ts: '1' })).toBe('ts:1;');
  });

  it('accepts a valid signature computed independently of the helper', () => {
    const v1 = hexHmac(SECRET, `id:${DATA_ID};request-id:${REQUEST_ID};ts:${NOW_S};`);
    expect(verifyMercadoPagoSignature({ ...base, xSignature: `ts=${NOW_S},v1=${v1}` })).toEqual({
      ok: true,
      matchedSecretIndex: 0,
      idVariant: 'as_received',
      timestampMs: NOW_MS,
    });
  });

  it('accepts a signature made by signMercadoPago', () => {
    const xSignature = signMercadoPago({
      secret: SECRET,
      dataId: DATA_ID,
      xRequestId: REQUEST_ID,
      ts: NOW_S,
    });
    expect(verifyMercadoPagoSignature({ ...base, xSignature }).ok).toBe(true);
  });

  it('reports which live secret matched', () => {
    const secrets = [SECRET, OLD_SECRET];
    for (const [index, secret] of secrets.entries()) {
      const xSignature = signMercadoPago({ secret, dataId: DATA_ID, xRequestId: REQUEST_ID, ts: NOW_S });
      expect(verifyMercadoPagoSignature({ ...base, secrets, xSignature })).toMatchObject({
        ok: true,
        matchedSecretIndex: index,
      });
    }
  });

  it('refuses a signature made with a secret that is not live', () => {
    const xSignature = signMercadoPago({
      secret: 'attacker',
      dataId: DATA_ID,
      xRequestId: REQUEST_ID,
      ts: NOW_S,
    });
    expect(verifyMercadoPagoSignature({ ...base, secrets: [SECRET, OLD_SECRET], xSignature })).toEqual({
      ok: false,
      reason: 'invalid_signature',
    });
  });

  it('refuses when any signed part differs', () => {
    const xSignature = signMercadoPago({
      secret: SECRET,
      dataId: DATA_ID,
      xRequestId: REQUEST_ID,
      ts: NOW_S,
    });
    expect(verifyMercadoPagoSignature({ ...base, dataId: '123456780', xSignature }).ok).toBe(false);
    expect(verifyMercadoPagoSignature({ ...base, xRequestId: 'other', xSignature }).ok).toBe(false);
    expect(verifyMercadoPagoSignature({ ...base, xRequestId: undefined, xSignature }).ok).toBe(false);
    const otherTs = xSignature.replace(`ts=${NOW_S}`, `ts=${NOW_S + 1}`);
    expect(verifyMercadoPagoSignature({ ...base, xSignature: otherTs }).ok).toBe(false);
  });

  it('refuses a one-character change in the digest', () => {
    const xSignature = signMercadoPago({
      secret: SECRET,
      dataId: DATA_ID,
      xRequestId: REQUEST_ID,
      ts: NOW_S,
    });
    const last = xSignature.at(-1) === '0' ? '1' : '0';
    expect(verifyMercadoPagoSignature({ ...base, xSignature: `${xSignature.slice(0, -1)}${last}` })).toEqual({
      ok: false,
      reason: 'invalid_signature',
    });
  });

  it('verifies a notification without x-request-id (the part is dropped from the manifest)', () => {
    const v1 = hexHmac(SECRET, `id:${DATA_ID};ts:${NOW_S};`);
    expect(
      verifyMercadoPagoSignature({ ...base, xRequestId: undefined, xSignature: `ts=${NOW_S},v1=${v1}` }),
    ).toMatchObject({ ok: true });
    expect(
      verifyMercadoPagoSignature({ ...base, xRequestId: '', xSignature: `ts=${NOW_S},v1=${v1}` }),
    ).toMatchObject({ ok: true });
  });

  it('verifies a notification without data.id', () => {
    const v1 = hexHmac(SECRET, `request-id:${REQUEST_ID};ts:${NOW_S};`);
    expect(
      verifyMercadoPagoSignature({ ...base, dataId: undefined, xSignature: `ts=${NOW_S},v1=${v1}` }),
    ).toMatchObject({ ok: true, idVariant: 'as_received' });
  });

  it('tolerates spaces and any order in the header', () => {
    const v1 = hexHmac(SECRET, `id:${DATA_ID};request-id:${REQUEST_ID};ts:${NOW_S};`);
    for (const xSignature of [
      `v1=${v1},ts=${NOW_S}`,
      ` ts = ${NOW_S} , v1 = ${v1} `,
      `ts=${NOW_S}, v1=${v1}`,
    ]) {
      expect(verifyMercadoPagoSignature({ ...base, xSignature }).ok).toBe(true);
    }
  });

  it('tries the id as received first, then lowercased, and says which matched', () => {
    const upper = 'ABC123DEF';
    const signedAsReceived = signMercadoPago({
      secret: SECRET,
      dataId: upper,
      xRequestId: REQUEST_ID,
      ts: NOW_S,
    });
    expect(
      verifyMercadoPagoSignature({ ...base, dataId: upper, xSignature: signedAsReceived }),
    ).toMatchObject({
      ok: true,
      idVariant: 'as_received',
    });
    const signedLower = signMercadoPago({
      secret: SECRET,
      dataId: upper.toLowerCase(),
      xRequestId: REQUEST_ID,
      ts: NOW_S,
    });
    expect(verifyMercadoPagoSignature({ ...base, dataId: upper, xSignature: signedLower })).toMatchObject({
      ok: true,
      idVariant: 'lowercased',
    });
  });

  it('does not uppercase: an id received lowercased only verifies as received', () => {
    const signedUpper = signMercadoPago({ secret: SECRET, dataId: 'ABC', xRequestId: REQUEST_ID, ts: NOW_S });
    expect(verifyMercadoPagoSignature({ ...base, dataId: 'abc', xSignature: signedUpper }).ok).toBe(false);
  });

  describe('timestamps', () => {
    const signAt = (ts: string | number): string =>
      signMercadoPago({ secret: SECRET, dataId: DATA_ID, xRequestId: REQUEST_ID, ts });

    it('reads 13-digit timestamps as milliseconds and keeps them verbatim in the manifest', () => {
      const tsMs = NOW_MS - 12_345;
      const v1 = hexHmac(SECRET, `id:${DATA_ID};request-id:${REQUEST_ID};ts:${tsMs};`);
      expect(verifyMercadoPagoSignature({ ...base, xSignature: `ts=${tsMs},v1=${v1}` })).toEqual({
        ok: true,
        matchedSecretIndex: 0,
        idVariant: 'as_received',
        timestampMs: tsMs,
      });
    });

    it('refuses a stale timestamp as signature_expired', () => {
      expect(verifyMercadoPagoSignature({ ...base, xSignature: signAt(NOW_S - 301) })).toEqual({
        ok: false,
        reason: 'signature_expired',
      });
      expect(verifyMercadoPagoSignature({ ...base, xSignature: signAt(NOW_MS - 301_000) })).toEqual({
        ok: false,
        reason: 'signature_expired',
      });
    });

    it('accepts the edges of the tolerance', () => {
      expect(verifyMercadoPagoSignature({ ...base, xSignature: signAt(NOW_S - 300) }).ok).toBe(true);
      expect(verifyMercadoPagoSignature({ ...base, xSignature: signAt(NOW_S + 300) }).ok).toBe(true);
    });

    it('refuses a timestamp too far in the future', () => {
      expect(verifyMercadoPagoSignature({ ...base, xSignature: signAt(NOW_S + 301) })).toEqual({
        ok: false,
        reason: 'signature_expired',
      });
    });

    it('honours a custom tolerance', () => {
      const xSignature = signAt(NOW_S - 60);
      expect(verifyMercadoPagoSignature({ ...base, xSignature, toleranceSeconds: 30 }).ok).toBe(false);
      expect(verifyMercadoPagoSignature({ ...base, xSignature, toleranceSeconds: 90 }).ok).toBe(true);
    });

    it('reports a forged stale signature as invalid, not expired', () => {
      const forged = signMercadoPago({
        secret: 'attacker',
        dataId: DATA_ID,
        xRequestId: REQUEST_ID,
        ts: NOW_S - 9999,
      });
      expect(verifyMercadoPagoSignature({ ...base, xSignature: forged })).toEqual({
        ok: false,
        reason: 'invalid_signature',
      });
    });
  });

  it.each([
    ['missing', undefined],
    ['null', null],
    ['empty', ''],
    ['garbage', 'not a signature'],
    ['no ts', `v1=${'a'.repeat(64)}`],
    ['no v1', `ts=${NOW_S}`],
    ['non-numeric ts', `ts=abc,v1=${'a'.repeat(64)}`],
    ['two ts', `ts=${NOW_S},ts=${NOW_S},v1=${'a'.repeat(64)}`],
    ['short v1', `ts=${NOW_S},v1=abcd`],
    ['non-hex v1', `ts=${NOW_S},v1=${'z'.repeat(64)}`],
    ['huge header', `ts=${NOW_S},v1=${'a'.repeat(10_000)}`],
  ])('refuses a %s header without throwing', (_label, xSignature) => {
    expect(verifyMercadoPagoSignature({ ...base, xSignature })).toEqual({
      ok: false,
      reason: 'invalid_signature',
    });
  });

  it('refuses non-string header values without throwing', () => {
    const xSignature = ['ts=1,v1=abc'] as unknown as string;
    expect(verifyMercadoPagoSignature({ ...base, xSignature }).ok).toBe(false);
  });

  it('throws on a deployment without secrets', () => {
    expect(() => verifyMercadoPagoSignature({ ...base, secrets: [], xSignature: 'ts=1,v1=a' })).toThrow(
      TypeError,
    );
    expect(() => verifyMercadoPagoSignature({ ...base, secrets: [''], xSignature: 'ts=1,v1=a' })).toThrow(
      TypeError,
    );
  });
});
