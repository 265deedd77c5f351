import { randomBytes } from 'node:crypto';
import { SecretBox, SecretBoxError, secretBoxKeyId } from './secret-box';

const hex = (): string => randomBytes(32).toString('hex');

describe('SecretBox', () => {
  it('opens what it sealed, with a fresh IV every time', () => {
    const box = SecretBox.fromConfig(hex());
    const a = box.seal('private key material', 'signing_key:k1');
    const b = box.seal('private key material', 'signing_key:k1');
    expect(a).not.toBe(b);
    expect(box.openText(a, 'signing_key:k1')).toBe('private key material');
    expect(a).not.toContain('private');
    expect(box.open(box.seal(Buffer.from([0, 1, 2, 255])))).toEqual(Buffer.from([0, 1, 2, 255]));
  });

  it('names the sealing key by an id derived from the key', () => {
    const key = hex();
    const box = SecretBox.fromConfig(key);
    expect(box.currentKeyId).toBe(secretBoxKeyId(Buffer.from(key, 'hex')));
    expect(box.currentKeyId).toMatch(/^[0-9a-f]{16}$/);
    expect(SecretBox.keyIdOf(box.seal('x'))).toBe(box.currentKeyId);
    expect(box.currentKeyId).not.toContain(key.slice(0, 16));
  });

  it('refuses a value altered in any part, or opened in another context', () => {
    const box = SecretBox.fromConfig(hex());
    const sealed = box.seal('secret', 'row:1');
    const parts = sealed.split('.');
    for (const index of [2, 3, 4]) {
      const bytes = Buffer.from(parts[index], 'base64url');
      bytes[0] ^= 1;
      const altered = [...parts];
      altered[index] = bytes.toString('base64url');
      expect(() => box.open(altered.join('.'), 'row:1')).toThrow(SecretBoxError);
    }
    expect(() => box.open(sealed, 'row:2')).toThrow(SecretBoxError);
    expect(() => box.open(sealed)).toThrow(SecretBoxError);
    expect(() => box.open('v1.nope')).toThrow(SecretBoxError);
  });

  it('rotates: the first key seals, every listed key opens, a dropped key no longer opens', () => {
    const oldKey = hex();
    const newKey = hex();
    const before = SecretBox.fromConfig(oldKey);
    const sealedOld = before.seal('token', 'ctx');

    const during = SecretBox.fromConfig(`${newKey},${oldKey}`);
    expect(during.openText(sealedOld, 'ctx')).toBe('token');
    expect(during.needsReseal(sealedOld)).toBe(true);
    const resealed = during.reseal(sealedOld, 'ctx');
    expect(during.needsReseal(resealed)).toBe(false);
    expect(SecretBox.keyIdOf(resealed)).toBe(during.currentKeyId);

    const after = SecretBox.fromConfig(newKey);
    expect(after.openText(resealed, 'ctx')).toBe('token');
    expect(() => after.open(sealedOld, 'ctx')).toThrow(/not configured/);
  });

  it('refuses malformed key settings', () => {
    expect(() => SecretBox.fromConfig('')).toThrow(SecretBoxError);
    expect(() => SecretBox.fromConfig('abc')).toThrow(SecretBoxError);
    expect(() => SecretBox.fromConfig(`${hex()},zz`)).toThrow(SecretBoxError);
    expect(() => new SecretBox([randomBytes(16)])).toThrow(SecretBoxError);
  });
});
