import { inspect } from 'node:util';
import fc from 'fast-check';
import { isWhatsAppError, WhatsAppErrorCode } from '../whatsapp.errors';
import { keyIdFor, TokenCipher } from './token-cipher';

const OLD_KEY = '0f'.repeat(32);
const NEW_KEY = 'A1b2'.repeat(16);
const TOKEN = 'EAAGm0PX4ZCpsBA-business-token-ção-🔑';

function codeOf(run: () => unknown): WhatsAppErrorCode | 'no_error' | 'foreign_error' {
  try {
    run();
    return 'no_error';
  } catch (error) {
    return isWhatsAppError(error) ? error.code : 'foreign_error';
  }
}

/** Replaces one `:`-segment of a blob. */
function withSegment(blob: string, index: number, change: (segment: string) => string): string {
  const parts = blob.split(':');
  parts[index] = change(parts[index]);
  return parts.join(':');
}

/** Flips one bit of a base64url segment and re-encodes it canonically. */
const flipFirstBit = (segment: string): string => {
  const bytes = Buffer.from(segment, 'base64url');
  bytes[0] ^= 0x01;
  return bytes.toString('base64url');
};

describe('keyIdFor', () => {
  it('is the first 8 hex characters of sha256 over the key bytes, whatever the hex case', () => {
    expect(keyIdFor(OLD_KEY)).toMatch(/^[0-9a-f]{8}$/);
    expect(keyIdFor(NEW_KEY)).toBe(keyIdFor(NEW_KEY.toLowerCase()));
    expect(keyIdFor(OLD_KEY)).not.toBe(keyIdFor(NEW_KEY));
  });

  it('refuses a malformed key', () => {
    expect(codeOf(() => keyIdFor('abc'))).toBe('token_key_invalid');
  });
});

describe('TokenCipher', () => {
  const cipher = TokenCipher.fromKeys(NEW_KEY);

  it('round-trips, including empty and non-ASCII text', () => {
    for (const plaintext of [TOKEN, '', 'x'.repeat(10_000)]) {
      expect(cipher.decrypt(cipher.encrypt(plaintext))).toBe(plaintext);
    }
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme' }),
        (plaintext) => cipher.decrypt(cipher.encrypt(plaintext)) === plaintext,
      ),
    );
  });

  it('writes v1:<keyId>:<12-byte nonce>:<ciphertext>:<16-byte tag> in base64url, never the token', () => {
    const blob = cipher.encrypt(TOKEN);
    const [version, keyId, nonce, ciphertext, tag] = blob.split(':');
    expect(version).toBe('v1');
    expect(keyId).toBe(keyIdFor(NEW_KEY));
    expect(Buffer.from(nonce, 'base64url')).toHaveLength(12);
    expect(Buffer.from(tag, 'base64url')).toHaveLength(16);
    expect(Buffer.from(ciphertext, 'base64url')).toHaveLength(Buffer.byteLength(TOKEN));
    expect(blob).toMatch(/^v1:[0-9a-f]{8}(:[A-Za-z0-9_-]*){3}$/);
    expect(blob).not.toContain('EAAG');
  });

  it('uses a fresh nonce per value: the same token twice gives different blobs', () => {
    const blobs = Array.from({ length: 200 }, () => cipher.encrypt(TOKEN));
    expect(new Set(blobs).size).toBe(200);
    expect(new Set(blobs.map((b) => b.split(':')[2])).size).toBe(200);
  });

  describe('tampering is always an error, never garbage', () => {
    const blob = cipher.encrypt(TOKEN, 'conn-1');

    it.each([
      ['version', 0, (): string => 'v2', 'token_blob_malformed'],
      ['key id (unknown)', 1, (): string => 'deadbeef', 'token_key_unknown'],
      ['key id (malformed)', 1, (): string => 'de:ad', 'token_blob_malformed'],
      ['nonce', 2, flipFirstBit, 'token_decrypt_failed'],
      ['ciphertext', 3, flipFirstBit, 'token_decrypt_failed'],
      ['tag', 4, flipFirstBit, 'token_decrypt_failed'],
      ['nonce length', 2, (s: string): string => s.slice(0, -4), 'token_blob_malformed'],
      ['tag length', 4, (s: string): string => `${s}AAAA`, 'token_blob_malformed'],
      [
        'ciphertext cut short',
        3,
        (s: string): string => Buffer.from(s, 'base64url').subarray(0, -3).toString('base64url'),
        'token_decrypt_failed',
      ],
      ['padding added', 3, (s: string): string => `${s}=`, 'token_blob_malformed'],
      ['standard base64 alphabet', 2, (s: string): string => `${s.slice(0, -1)}+`, 'token_blob_malformed'],
    ] as const)('%s', (_what, index, change, code) => {
      expect(codeOf(() => cipher.decrypt(withSegment(blob, index, change), 'conn-1'))).toBe(code);
    });

    it('a non-canonical last character (same bytes, different text) is refused', () => {
      // 16 tag bytes leave 4 spare bits in the last base64url character.
      const tag = blob.split(':')[4];
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const last = alphabet.indexOf(tag[tag.length - 1]);
      const twin = `${tag.slice(0, -1)}${alphabet[last ^ 0x01]}`;
      expect(Buffer.from(twin, 'base64url').equals(Buffer.from(tag, 'base64url'))).toBe(true);
      expect(
        codeOf(() =>
          cipher.decrypt(
            withSegment(blob, 4, () => twin),
            'conn-1',
          ),
        ),
      ).toBe('token_blob_malformed');
    });

    it.each(['', 'plain-token', 'v1:a:b:c', `${blob}:extra`, 'v1::AAAAAAAAAAAAAAAA::AAAAAAAAAAAAAAAAAAAAAA'])(
      'malformed blob %j',
      (bad) => {
        expect(codeOf(() => cipher.decrypt(bad))).toBe('token_blob_malformed');
      },
    );

    it('every single-character change anywhere is refused', () => {
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_:';
      fc.assert(
        fc.property(fc.nat(blob.length - 1), fc.constantFrom(...alphabet), (position, char) => {
          fc.pre(blob[position] !== char);
          const tampered = `${blob.slice(0, position)}${char}${blob.slice(position + 1)}`;
          expect(codeOf(() => cipher.decrypt(tampered, 'conn-1'))).not.toBe('no_error');
        }),
      );
    });
  });

  describe('context (additional authenticated data)', () => {
    it('must match: a blob copied to another connection does not decrypt', () => {
      const blob = cipher.encrypt(TOKEN, 'conn-1');
      expect(cipher.decrypt(blob, 'conn-1')).toBe(TOKEN);
      expect(codeOf(() => cipher.decrypt(blob, 'conn-2'))).toBe('token_decrypt_failed');
      expect(codeOf(() => cipher.decrypt(blob))).toBe('token_decrypt_failed');
    });

    it('a blob made without context needs none (an empty context is the same)', () => {
      const blob = cipher.encrypt(TOKEN);
      expect(cipher.decrypt(blob)).toBe(TOKEN);
      expect(cipher.decrypt(blob, '')).toBe(TOKEN);
      expect(codeOf(() => cipher.decrypt(blob, 'conn-1'))).toBe('token_decrypt_failed');
    });
  });

  describe('rotation', () => {
    const oldOnly = TokenCipher.fromKeys(OLD_KEY);
    const rotated = TokenCipher.fromKeys(NEW_KEY, [OLD_KEY]);
    const newOnly = TokenCipher.fromKeys(NEW_KEY);
    const oldBlob = oldOnly.encrypt(TOKEN, 'conn-7');

    it('a previous key still decrypts what it encrypted', () => {
      expect(rotated.decrypt(oldBlob, 'conn-7')).toBe(TOKEN);
      expect(rotated.needsReencryption(oldBlob)).toBe(true);
    });

    it('reencrypt moves a blob under the current key', () => {
      const newBlob = rotated.reencrypt(oldBlob, 'conn-7');
      expect(newBlob.split(':')[1]).toBe(keyIdFor(NEW_KEY));
      expect(rotated.needsReencryption(newBlob)).toBe(false);
      expect(rotated.decrypt(newBlob, 'conn-7')).toBe(TOKEN);
      expect(newOnly.decrypt(newBlob, 'conn-7')).toBe(TOKEN);
      expect(codeOf(() => oldOnly.decrypt(newBlob, 'conn-7'))).toBe('token_key_unknown');
    });

    it('reencrypt keeps the context binding and refuses a wrong one', () => {
      expect(codeOf(() => rotated.reencrypt(oldBlob, 'conn-8'))).toBe('token_decrypt_failed');
    });

    it('once the old key is dropped, its blobs are unreadable (and flagged)', () => {
      expect(codeOf(() => newOnly.decrypt(oldBlob, 'conn-7'))).toBe('token_key_unknown');
      expect(newOnly.needsReencryption(oldBlob)).toBe(true);
    });

    it('explicit ids work as well as derived ones', () => {
      const a = new TokenCipher({
        current: { id: 'k2026', keyHex: NEW_KEY },
        previous: [{ id: 'k2025', keyHex: OLD_KEY }],
      });
      const old = new TokenCipher({ current: { id: 'k2025', keyHex: OLD_KEY } }).encrypt(TOKEN);
      expect(a.currentKeyId).toBe('k2026');
      expect(a.decrypt(old)).toBe(TOKEN);
      expect(a.encrypt(TOKEN).startsWith('v1:k2026:')).toBe(true);
    });

    it('needsReencryption refuses what is not a blob', () => {
      expect(codeOf(() => rotated.needsReencryption('plain-token'))).toBe('token_blob_malformed');
    });
  });

  describe('construction refuses bad keys', () => {
    it.each([
      ['too short', 'ab'.repeat(31)],
      ['too long', 'ab'.repeat(33)],
      ['not hex', 'zz'.repeat(32)],
      ['base64 instead of hex', Buffer.alloc(32, 7).toString('base64')],
      ['whitespace around', ` ${'ab'.repeat(32)}`],
      ['empty', ''],
    ])('current key %s', (_what, keyHex) => {
      expect(codeOf(() => new TokenCipher({ current: { id: 'k1', keyHex } }))).toBe('token_key_invalid');
      expect(codeOf(() => TokenCipher.fromKeys(keyHex))).toBe('token_key_invalid');
    });

    it('a bad previous key', () => {
      expect(codeOf(() => TokenCipher.fromKeys(NEW_KEY, ['12']))).toBe('token_key_invalid');
    });

    it.each(['', 'a:b', 'x'.repeat(33)])('key id %j', (id) => {
      expect(codeOf(() => new TokenCipher({ current: { id, keyHex: NEW_KEY } }))).toBe('token_key_invalid');
    });

    it('two different keys under one id', () => {
      const clash = { current: { id: 'k1', keyHex: NEW_KEY }, previous: [{ id: 'k1', keyHex: OLD_KEY }] };
      expect(codeOf(() => new TokenCipher(clash))).toBe('token_key_invalid');
    });

    it('never echoes the key in the error', () => {
      const secretish = `${'ab'.repeat(31)}zz`;
      try {
        TokenCipher.fromKeys(secretish);
      } catch (error) {
        expect(String(error)).not.toContain(secretish);
      }
      expect.assertions(1);
    });
  });

  it('keeps keys out of JSON and inspect output', () => {
    const shown = `${JSON.stringify(cipher)} ${inspect(cipher)}`;
    expect(shown).toContain(keyIdFor(NEW_KEY));
    expect(shown.toLowerCase()).not.toContain(NEW_KEY.toLowerCase());
  });

  it('generateKeyHex makes usable, distinct keys', () => {
    const key = TokenCipher.generateKeyHex();
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(key).not.toBe(TokenCipher.generateKeyHex());
    const fresh = TokenCipher.fromKeys(key);
    expect(fresh.decrypt(fresh.encrypt(TOKEN))).toBe(TOKEN);
  });
});
