import { TokenCipher } from '../crypto/token-cipher';

/**
 * The business tokens at rest: TokenCipher under TOKEN_ENCRYPTION_KEY, where the first key of the
 * comma list seals and every key opens (rotation: put the new key first, re-encrypt, drop the old).
 * Each blob is bound to its connection id (AAD), so a blob copied onto another row does not open.
 */
export class TokenVault {
  private readonly cipher: TokenCipher;

  constructor(keyList: string) {
    const keys = keyList
      .split(',')
      .map((key) => key.trim())
      .filter((key) => key.length > 0);
    const [current, ...previous] = keys;
    this.cipher = TokenCipher.fromKeys(current ?? '', previous);
  }

  get currentKeyId(): string {
    return this.cipher.currentKeyId;
  }

  seal(token: string, connectionId: string): { ciphertext: string; keyId: string } {
    const ciphertext = this.cipher.encrypt(token, connectionId);
    return { ciphertext, keyId: this.cipher.currentKeyId };
  }

  open(ciphertext: string, connectionId: string): string {
    return this.cipher.decrypt(ciphertext, connectionId);
  }

  /** Opens with whichever configured key sealed it and seals again under the current key. */
  reseal(ciphertext: string, connectionId: string): { ciphertext: string; keyId: string } {
    return { ciphertext: this.cipher.reencrypt(ciphertext, connectionId), keyId: this.cipher.currentKeyId };
  }

  /** Keys must not reach a log through an accidental serialisation. */
  toJSON(): Record<string, unknown> {
    return { currentKeyId: this.cipher.currentKeyId };
  }
}
