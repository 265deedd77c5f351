import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { WhatsAppError } from '../whatsapp.errors';

export interface TokenKey {
  /** Written into every blob so a rotated key can still be found; `keyIdFor(keyHex)` by default. */
  id: string;
  /** 64 hex characters (32 bytes), e.g. `TOKEN_ENCRYPTION_KEY`. */
  keyHex: string;
}

export interface TokenCipherOptions {
  /** New tokens are encrypted under this key. */
  current: TokenKey;
  /** Retired keys that can still decrypt what they encrypted, until everything is re-encrypted. */
  previous?: readonly TokenKey[];
}

const VERSION = 'v1';
const ALGORITHM = 'aes-256-gcm';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_HEX = /^[0-9a-fA-F]{64}$/;
/** No ":" (the blob separator) and short enough to stay readable in a database column. */
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** A key's id derived from the key itself, so configuration only has to carry the key. */
export function keyIdFor(keyHex: string): string {
  return createHash('sha256').update(parseKey(keyHex, 'key')).digest('hex').slice(0, 8);
}

/**
 * AES-256-GCM for the business tokens stored at rest (SPEC §14). A blob reads
 * `v1:<keyId>:<nonce>:<ciphertext>:<tag>` (base64url segments, a fresh random 12-byte nonce per
 * value), so it names the key that opens it and keys can rotate without a flag day: configure
 * the new key as `current`, keep the old ones in `previous`, re-encrypt in the background.
 *
 * The optional `context` (for instance the connection id) is bound in as additional
 * authenticated data: a blob copied onto another row no longer decrypts. The version and key id
 * are bound too. An absent context and an empty one are the same.
 *
 * Every failure is a `WhatsAppError`; decrypt never returns unauthenticated bytes.
 */
export class TokenCipher {
  readonly #current: { id: string; key: Buffer };
  readonly #keys = new Map<string, Buffer>();

  constructor(options: TokenCipherOptions) {
    const all = [options.current, ...(options.previous ?? [])];
    for (const { id, keyHex } of all) {
      if (typeof id !== 'string' || !KEY_ID.test(id)) {
        throw new WhatsAppError('token_key_invalid', 'A token key id must be 1 to 32 of [A-Za-z0-9_-].');
      }
      const key = parseKey(keyHex, `key ${id}`);
      const known = this.#keys.get(id);
      if (known !== undefined && !known.equals(key)) {
        throw new WhatsAppError('token_key_invalid', `Two different token keys share the id ${id}.`);
      }
      this.#keys.set(id, key);
    }
    this.#current = { id: options.current.id, key: parseKey(options.current.keyHex, 'current key') };
  }

  /** The usual construction: ids derived with `keyIdFor`. */
  static fromKeys(currentKeyHex: string, previousKeyHexes: readonly string[] = []): TokenCipher {
    const toKey = (keyHex: string): TokenKey => ({ id: keyIdFor(keyHex), keyHex });
    return new TokenCipher({ current: toKey(currentKeyHex), previous: previousKeyHexes.map(toKey) });
  }

  /** A fresh random key in the format the constructor takes (for operators and tests). */
  static generateKeyHex(): string {
    return randomBytes(32).toString('hex');
  }

  get currentKeyId(): string {
    return this.#current.id;
  }

  encrypt(plaintext: string, context?: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.#current.key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(this.#current.id, context));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, this.#current.id, b64url(nonce), b64url(ciphertext), b64url(tag)].join(':');
  }

  decrypt(blob: string, context?: string): string {
    const parsed = parseBlob(blob);
    const key = this.#keys.get(parsed.keyId);
    if (key === undefined) {
      throw new WhatsAppError('token_key_unknown', `No token key with id ${parsed.keyId} is configured.`);
    }
    try {
      const decipher = createDecipheriv(ALGORITHM, key, parsed.nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(aad(parsed.keyId, context));
      decipher.setAuthTag(parsed.tag);
      return Buffer.concat([decipher.update(parsed.ciphertext), decipher.final()]).toString('utf8');
    } catch {
      throw new WhatsAppError(
        'token_decrypt_failed',
        'The token could not be authenticated with its key and context.',
      );
    }
  }

  /** True when the blob is readable only through a previous key (or is under an unknown one). */
  needsReencryption(blob: string): boolean {
    return parseBlob(blob).keyId !== this.#current.id;
  }

  /** Decrypts with whichever key the blob names and encrypts again under the current key. */
  reencrypt(blob: string, context?: string): string {
    return this.encrypt(this.decrypt(blob, context), context);
  }

  /** Keys must not reach logs through an accidental `JSON.stringify` or `console.log`. */
  toJSON(): Record<string, unknown> {
    return { currentKeyId: this.#current.id, keyIds: [...this.#keys.keys()] };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `TokenCipher { currentKeyId: '${this.#current.id}', keyIds: [${[...this.#keys.keys()].join(', ')}] }`;
  }
}

function parseKey(keyHex: unknown, what: string): Buffer {
  if (typeof keyHex !== 'string' || !KEY_HEX.test(keyHex)) {
    throw new WhatsAppError('token_key_invalid', `The token ${what} must be 64 hex characters (32 bytes).`);
  }
  return Buffer.from(keyHex, 'hex');
}

function aad(keyId: string, context: string | undefined): Buffer {
  return Buffer.from(`${VERSION}:${keyId}:${context ?? ''}`, 'utf8');
}

function b64url(bytes: Buffer): string {
  return bytes.toString('base64url');
}

interface ParsedBlob {
  keyId: string;
  nonce: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

function parseBlob(blob: unknown): ParsedBlob {
  const malformed = (why: string): WhatsAppError =>
    new WhatsAppError('token_blob_malformed', `The stored token is malformed: ${why}.`);
  if (typeof blob !== 'string') throw malformed('not a string');
  const parts = blob.split(':');
  if (parts.length !== 5) throw malformed('expected 5 segments');
  const [version, keyId, nonce, ciphertext, tag] = parts;
  if (version !== VERSION) throw malformed('unknown version');
  if (!KEY_ID.test(keyId)) throw malformed('bad key id');
  return {
    keyId,
    nonce: strictBase64url(nonce, NONCE_BYTES, () => malformed('bad nonce')),
    ciphertext: strictBase64url(ciphertext, undefined, () => malformed('bad ciphertext')),
    tag: strictBase64url(tag, TAG_BYTES, () => malformed('bad tag')),
  };
}

/**
 * Node's decoder skips junk and ignores the spare bits of the last character, so two different
 * strings can decode to the same bytes. Only the canonical spelling is accepted: every change to
 * a blob is then an error, never a silent equivalent.
 */
function strictBase64url(segment: string, length: number | undefined, fail: () => WhatsAppError): Buffer {
  if (!BASE64URL.test(segment)) throw fail();
  const bytes = Buffer.from(segment, 'base64url');
  if (bytes.toString('base64url') !== segment) throw fail();
  if (length !== undefined && bytes.length !== length) throw fail();
  return bytes;
}
