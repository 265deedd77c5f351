import { createHmac } from 'node:crypto';
import { signMeta, verifyMetaSignature } from './meta.signature';

const SECRET = 'dev-meta-app-secret';
const NEXT_SECRET = 'next-meta-app-secret';
// Meta escapes non-ASCII before signing; these are the bytes on the wire.
const BODY = Buffer.from('{"object":"whatsapp_business_account","entry":[{"text":"Ol\\u00e1 \\/ mundo"}]}');

describe('verifyMetaSignature', () => {
  const base = { rawBody: BODY, secrets: [SECRET] };

  it('accepts a valid signature computed independently of the helper', () => {
    const header = `sha256=${createHmac('sha256', SECRET).update(BODY).digest('hex')}`;
    expect(verifyMetaSignature({ ...base, header })).toEqual({ ok: true, matchedSecretIndex: 0 });
  });

  it('accepts an upper-case hex digest and prefix', () => {
    const header = signMeta({ secret: SECRET, rawBody: BODY }).toUpperCase();
    expect(verifyMetaSignature({ ...base, header }).ok).toBe(true);
  });

  it('reports which live secret matched', () => {
    const secrets = [SECRET, NEXT_SECRET];
    for (const [index, secret] of secrets.entries()) {
      const header = signMeta({ secret, rawBody: BODY });
      expect(verifyMetaSignature({ ...base, secrets, header })).toEqual({
        ok: true,
        matchedSecretIndex: index,
      });
    }
  });

  it('refuses a body altered by one byte', () => {
    const header = signMeta({ secret: SECRET, rawBody: BODY });
    const altered = Buffer.from(BODY);
    altered[altered.length - 3] = altered[altered.length - 3] ^ 0x01;
    expect(verifyMetaSignature({ ...base, rawBody: altered, header })).toEqual({
      ok: false,
      reason: 'invalid_signature',
    });
  });

  it('refuses the same payload re-serialized (unescaped)', () => {
    const header = signMeta({ secret: SECRET, rawBody: BODY });
    const reserialized = Buffer.from(JSON.stringify(JSON.parse(BODY.toString())));
    expect(verifyMetaSignature({ ...base, rawBody: reserialized, header }).ok).toBe(false);
  });

  it('refuses a body re-signed with another secret', () => {
    const header = signMeta({ secret: 'attacker', rawBody: BODY });
    expect(verifyMetaSignature({ ...base, secrets: [SECRET, NEXT_SECRET], header }).ok).toBe(false);
  });

  it.each([
    ['missing', undefined],
    ['null', null],
    ['empty', ''],
    ['no prefix', createHmac('sha256', SECRET).update(BODY).digest('hex')],
    ['sha1 prefix', `sha1=${createHmac('sha1', SECRET).update(BODY).digest('hex')}`],
    ['short digest', 'sha256=abcd'],
    ['non-hex digest', `sha256=${'g'.repeat(64)}`],
    ['huge header', `sha256=${'a'.repeat(10_000)}`],
  ])('refuses a %s header without throwing', (_label, header) => {
    expect(verifyMetaSignature({ ...base, header })).toEqual({ ok: false, reason: 'invalid_signature' });
  });

  it('throws on a deployment without secrets', () => {
    expect(() => verifyMetaSignature({ ...base, secrets: [], header: 'sha256=a' })).toThrow(TypeError);
  });
});
