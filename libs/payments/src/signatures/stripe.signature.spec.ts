import { createHmac } from 'node:crypto';
import { signStripe, verifyStripeSignature } from './stripe.signature';

const SECRET = 'whsec_dev_stripe_webhook_secret';
const NEXT_SECRET = 'whsec_next_secret';
const NOW_S = 1_795_000_000;
const NOW_MS = NOW_S * 1000;
const BODY = Buffer.from(
  '{"id":"evt_1","type":"checkout.session.completed","data":{"object":{"id":"cs_1"}}}',
);

function v1(secret: string, t: number | string, body: Buffer): string {
  return createHmac('sha256', secret)
    .update(Buffer.concat([Buffer.from(`${t}.`), body]))
    .digest('hex');
}

describe('verifyStripeSignature', () => {
  const base = { rawBody: BODY, secrets: [SECRET], nowMs: NOW_MS };

  it('accepts a valid signature computed independently of the helper', () => {
    const header = `t=${NOW_S},v1=${v1(SECRET, NOW_S, BODY)}`;
    expect(verifyStripeSignature({ ...base, header })).toEqual({
      ok: true,
      matchedSecretIndex: 0,
      timestamp: NOW_S,
    });
  });

  it('accepts what signStripe produces', () => {
    expect(
      verifyStripeSignature({
        ...base,
        header: signStripe({ secret: SECRET, rawBody: BODY, timestamp: NOW_S }),
      }),
    ).toMatchObject({ ok: true });
  });

  it('reports which live secret matched', () => {
    const secrets = [SECRET, NEXT_SECRET];
    for (const [index, secret] of secrets.entries()) {
      const header = signStripe({ secret, rawBody: BODY, timestamp: NOW_S });
      expect(verifyStripeSignature({ ...base, secrets, header })).toMatchObject({
        ok: true,
        matchedSecretIndex: index,
      });
    }
  });

  it('accepts when any of several v1 signatures matches, and ignores v0', () => {
    const header = `t=${NOW_S},v1=${'0'.repeat(64)},v1=${v1(NEXT_SECRET, NOW_S, BODY)},v0=${'f'.repeat(64)}`;
    expect(verifyStripeSignature({ ...base, secrets: [SECRET, NEXT_SECRET], header })).toMatchObject({
      ok: true,
      matchedSecretIndex: 1,
    });
  });

  it('never accepts a v0 signature alone', () => {
    const header = `t=${NOW_S},v0=${v1(SECRET, NOW_S, BODY)}`;
    expect(verifyStripeSignature({ ...base, header })).toEqual({ ok: false, reason: 'invalid_signature' });
  });

  it('refuses a body altered by one byte', () => {
    const header = signStripe({ secret: SECRET, rawBody: BODY, timestamp: NOW_S });
    const altered = Buffer.from(BODY);
    altered[10] = altered[10] ^ 0x01;
    expect(verifyStripeSignature({ ...base, rawBody: altered, header })).toEqual({
      ok: false,
      reason: 'invalid_signature',
    });
  });

  it('refuses a body that differs only by re-serialization', () => {
    const header = signStripe({ secret: SECRET, rawBody: BODY, timestamp: NOW_S });
    const reserialized = Buffer.from(JSON.stringify(JSON.parse(BODY.toString()), null, 1));
    expect(verifyStripeSignature({ ...base, rawBody: reserialized, header }).ok).toBe(false);
  });

  it('refuses a body re-signed with another secret', () => {
    const header = signStripe({ secret: 'whsec_attacker', rawBody: BODY, timestamp: NOW_S });
    expect(verifyStripeSignature({ ...base, secrets: [SECRET, NEXT_SECRET], header })).toEqual({
      ok: false,
      reason: 'invalid_signature',
    });
  });

  it('refuses a valid signature whose t was swapped', () => {
    const header = signStripe({ secret: SECRET, rawBody: BODY, timestamp: NOW_S }).replace(
      `t=${NOW_S}`,
      `t=${NOW_S + 5}`,
    );
    expect(verifyStripeSignature({ ...base, header }).ok).toBe(false);
  });

  it('refuses a stale timestamp as signature_expired', () => {
    const header = signStripe({ secret: SECRET, rawBody: BODY, timestamp: NOW_S - 301 });
    expect(verifyStripeSignature({ ...base, header })).toEqual({ ok: false, reason: 'signature_expired' });
  });

  it('refuses a timestamp too far in the future as signature_expired', () => {
    const header = signStripe({ secret: SECRET, rawBody: BODY, timestamp: NOW_S + 301 });
    expect(verifyStripeSignature({ ...base, header })).toEqual({ ok: false, reason: 'signature_expired' });
  });

  it('accepts the edges of the default tolerance and honours a custom one', () => {
    const old = signStripe({ secret: SECRET, rawBody: BODY, timestamp: NOW_S - 300 });
    expect(verifyStripeSignature({ ...base, header: old }).ok).toBe(true);
    expect(verifyStripeSignature({ ...base, header: old, toleranceSeconds: 299 })).toEqual({
      ok: false,
      reason: 'signature_expired',
    });
  });

  it('reads a 13-digit (millisecond) t as seconds, i.e. far in the future', () => {
    const header = signStripe({ secret: SECRET, rawBody: BODY, timestamp: NOW_MS });
    expect(verifyStripeSignature({ ...base, header })).toEqual({ ok: false, reason: 'signature_expired' });
  });

  it('tolerates spaces and any order', () => {
    const sig = v1(SECRET, NOW_S, BODY);
    for (const header of [`v1=${sig},t=${NOW_S}`, ` t=${NOW_S} , v1=${sig} `]) {
      expect(verifyStripeSignature({ ...base, header }).ok).toBe(true);
    }
  });

  it('signs the empty body too', () => {
    const empty = Buffer.alloc(0);
    const header = signStripe({ secret: SECRET, rawBody: empty, timestamp: NOW_S });
    expect(verifyStripeSignature({ ...base, rawBody: empty, header }).ok).toBe(true);
  });

  it.each([
    ['missing', undefined],
    ['null', null],
    ['empty', ''],
    ['garbage', 'garbage'],
    ['no t', `v1=${'a'.repeat(64)}`],
    ['no v1', `t=${NOW_S}`],
    ['non-numeric t', `t=soon,v1=${'a'.repeat(64)}`],
    ['two t', `t=${NOW_S},t=${NOW_S},v1=${'a'.repeat(64)}`],
    ['short v1', `t=${NOW_S},v1=abc`],
    ['huge header', `t=${NOW_S},${`v1=${'a'.repeat(64)},`.repeat(200)}`],
  ])('refuses a %s header without throwing', (_label, header) => {
    expect(verifyStripeSignature({ ...base, header })).toEqual({ ok: false, reason: 'invalid_signature' });
  });

  it('refuses a body that is not a Buffer without throwing', () => {
    const header = signStripe({ secret: SECRET, rawBody: BODY, timestamp: NOW_S });
    const rawBody = BODY.toString() as unknown as Buffer;
    expect(verifyStripeSignature({ ...base, rawBody, header }).ok).toBe(false);
  });

  it('throws on a deployment without secrets', () => {
    expect(() => verifyStripeSignature({ ...base, secrets: [], header: 't=1,v1=a' })).toThrow(TypeError);
  });
});
