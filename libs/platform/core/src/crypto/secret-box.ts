import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_HEX = /^[0-9a-fA-F]{64}$/;

export class SecretBoxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretBoxError';
  }
}

interface BoxKey {
  id: string;
  key: Buffer;
}

/**
 * A short, stable name for a key that reveals nothing useful about it: which key sealed a value
 * can be read from the value, so a rotation knows what still needs re-sealing.
 */
export function secretBoxKeyId(key: Buffer): string {
  return createHash('sha256').update('realapp/secret-box/key-id/v1').update(key).digest('hex').slice(0, 16);
}

/**
 * AES-256-GCM for secrets at rest (signing keys, provider tokens) under TOKEN_ENCRYPTION_KEY.
 * The setting is a comma-separated list of 64-hex-char keys: the first seals, all of them open,
 * so a key is rotated by putting the new one first, re-sealing, then dropping the old one.
 *
 * Sealed form: `v1.<keyId>.<iv>.<ciphertext>.<tag>` (base64url parts). The optional `context`
 * is authenticated but not stored: a value sealed for one row (say, signing key `k1`) does not
 * open as another row's, so ciphertexts cannot be swapped between rows in the database.
 */
export class SecretBox {
  private readonly keys: BoxKey[];

  constructor(keys: readonly Buffer[]) {
    if (keys.length === 0) throw new SecretBoxError('SecretBox needs at least one key');
    this.keys = keys.map((key) => {
      if (key.length !== 32) throw new SecretBoxError('SecretBox keys are 32 bytes (AES-256)');
      return { id: secretBoxKeyId(key), key: Buffer.from(key) };
    });
  }

  /** From the TOKEN_ENCRYPTION_KEY setting: `hex64[,hex64...]`, the sealing key first. */
  static fromConfig(value: string): SecretBox {
    const parts = value
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part.length > 0);
    if (parts.length === 0 || parts.some((part) => !KEY_HEX.test(part))) {
      throw new SecretBoxError(
        'TOKEN_ENCRYPTION_KEY must be 64 hex characters (comma-separated for rotation)',
      );
    }
    return new SecretBox(parts.map((part) => Buffer.from(part, 'hex')));
  }

  /** The id of the key that seals new values. */
  get currentKeyId(): string {
    return this.keys[0].id;
  }

  seal(plaintext: string | Buffer, context = ''): string {
    const { id, key } = this.keys[0];
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(id, context));
    const ciphertext = Buffer.concat([
      cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext),
      cipher.final(),
    ]);
    return [
      VERSION,
      id,
      iv.toString('base64url'),
      ciphertext.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
    ].join('.');
  }

  open(sealed: string, context = ''): Buffer {
    const parts = sealed.split('.');
    if (parts.length !== 5 || parts[0] !== VERSION) throw new SecretBoxError('not a sealed value');
    const [, keyId, ivText, ciphertextText, tagText] = parts;
    const box = this.keys.find((candidate) => candidate.id === keyId);
    if (!box) throw new SecretBoxError(`sealed with a key that is not configured (${keyId})`);
    const iv = Buffer.from(ivText, 'base64url');
    const tag = Buffer.from(tagText, 'base64url');
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new SecretBoxError('not a sealed value');
    const decipher = createDecipheriv('aes-256-gcm', box.key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad(keyId, context));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(Buffer.from(ciphertextText, 'base64url')), decipher.final()]);
    } catch {
      throw new SecretBoxError('the sealed value was altered, or belongs to another context');
    }
  }

  openText(sealed: string, context = ''): string {
    return this.open(sealed, context).toString('utf8');
  }

  /** The key id a sealed value names (without opening it). */
  static keyIdOf(sealed: string): string | null {
    const parts = sealed.split('.');
    return parts.length === 5 && parts[0] === VERSION ? parts[1] : null;
  }

  /** True when the value is not sealed with the current key (a rotation re-seals these). */
  needsReseal(sealed: string): boolean {
    return SecretBox.keyIdOf(sealed) !== this.currentKeyId;
  }

  /** Opens with whichever configured key sealed it and seals again with the current one. */
  reseal(sealed: string, context = ''): string {
    return this.needsReseal(sealed) ? this.seal(this.open(sealed, context), context) : sealed;
  }
}

function aad(keyId: string, context: string): Buffer {
  return Buffer.from(`${VERSION}|${keyId}|${context}`, 'utf8');
}
