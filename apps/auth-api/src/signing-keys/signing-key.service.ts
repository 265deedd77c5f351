import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import {
  calculateJwkThumbprint,
  exportJWK,
  exportPKCS8,
  generateKeyPair,
  importPKCS8,
  JSONWebKeySet,
  JWK,
} from 'jose';
import { DataSource } from 'typeorm';
import { ACCESS_TOKEN_ALG } from '@realapp/auth-guard';
import { lockInTransaction, SecretBox, Tx } from '@realapp/platform';
import { AuthApiConfig } from '../config';

type SigningKey = Awaited<ReturnType<typeof importPKCS8>>;

export interface ActiveSigningKey {
  kid: string;
  key: SigningKey;
}

interface PublicKeyRow {
  public_jwk: JWK;
}

const LOCK = 'auth:signing-keys';
const sealContext = (kid: string): string => `auth.signing_keys:${kid}`;

/**
 * The ES256 keys that sign access tokens. The private half is stored sealed with the
 * TOKEN_ENCRYPTION_KEY box and only while the key is active; the public half stays published
 * until the last token the key signed has expired. Every replica reads the active key at each
 * signature (one indexed row), so a rotation takes effect everywhere at once.
 */
@Injectable()
export class SigningKeyService implements OnApplicationBootstrap {
  private readonly logger = new Logger(SigningKeyService.name);
  /** Imported private keys by kid: unsealing and importing costs more than the row read. */
  private readonly imported = new Map<string, SigningKey>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly box: SecretBox,
    private readonly config: AuthApiConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.ensureActiveKey();
  }

  /** Creates the first key unless one exists; replicas starting together create exactly one. */
  async ensureActiveKey(): Promise<string> {
    return this.dataSource.transaction(async (tx) => {
      await lockInTransaction(tx, LOCK);
      const rows = (await tx.query(`SELECT kid FROM auth.signing_keys WHERE status = 'active'`)) as Array<{
        kid: string;
      }>;
      if (rows[0]) return rows[0].kid;
      const kid = await this.insertNewKey(tx);
      this.logger.log({ kid }, 'created the first access-token signing key');
      return kid;
    });
  }

  /** Ops rotation: a new key signs from now on; the old one keeps verifying until its tokens expire. */
  async rotate(): Promise<string> {
    const kid = await this.dataSource.transaction(async (tx) => {
      await lockInTransaction(tx, LOCK);
      await tx.query(
        `UPDATE auth.signing_keys
            SET status = 'retired', private_key_sealed = NULL, retired_at = now(),
                verify_until = now() + make_interval(secs => $1)
          WHERE status = 'active'`,
        [this.config.ACCESS_TOKEN_TTL_SECONDS + this.config.SIGNING_KEY_RETIRE_GRACE_SECONDS],
      );
      return this.insertNewKey(tx);
    });
    this.logger.log({ kid }, 'rotated the access-token signing key');
    return kid;
  }

  async activeKey(): Promise<ActiveSigningKey> {
    const rows = (await this.dataSource.query(
      `SELECT kid, private_key_sealed FROM auth.signing_keys WHERE status = 'active'`,
    )) as Array<{ kid: string; private_key_sealed: string }>;
    const row = rows[0];
    if (!row) {
      await this.ensureActiveKey();
      return this.activeKey();
    }
    let key = this.imported.get(row.kid);
    if (!key) {
      const pkcs8 = this.box.openText(row.private_key_sealed, sealContext(row.kid));
      key = await importPKCS8(pkcs8, ACCESS_TOKEN_ALG);
      this.imported.set(row.kid, key);
    }
    return { kid: row.kid, key };
  }

  /** The JWKS: the active key and every retired key whose tokens may still be alive. */
  async publicJwks(): Promise<JSONWebKeySet> {
    const rows = (await this.dataSource.query(
      `SELECT public_jwk FROM auth.signing_keys
        WHERE status = 'active' OR verify_until > now()
        ORDER BY created_at DESC, kid`,
    )) as PublicKeyRow[];
    return { keys: rows.map((row) => row.public_jwk) };
  }

  private async insertNewKey(tx: Tx): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(ACCESS_TOKEN_ALG, { extractable: true });
    const exported = await exportJWK(publicKey);
    // The RFC 7638 thumbprint: a kid derived from the key itself, unique without coordination.
    const kid = await calculateJwkThumbprint(exported, 'sha256');
    const publicJwk = {
      kty: exported.kty,
      crv: exported.crv,
      x: exported.x,
      y: exported.y,
      kid,
      alg: ACCESS_TOKEN_ALG,
      use: 'sig',
    };
    const sealed = this.box.seal(await exportPKCS8(privateKey), sealContext(kid));
    await tx.query(
      `INSERT INTO auth.signing_keys (kid, alg, public_jwk, private_key_sealed, status) VALUES ($1, $2, $3::jsonb, $4, 'active')`,
      [kid, ACCESS_TOKEN_ALG, JSON.stringify(publicJwk), sealed],
    );
    return kid;
  }
}
