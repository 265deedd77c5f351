import { Injectable } from '@nestjs/common';
import { SignJWT } from 'jose';
import { randomUUID } from 'node:crypto';
import { ACCESS_TOKEN_ALG, ACCESS_TOKEN_TYPE, AuthContext } from '@realapp/auth-guard';
import { AuthApiConfig } from '../config';
import { SigningKeyService } from '../signing-keys/signing-key.service';

export interface IssuedAccessToken {
  accessToken: string;
  expiresIn: number;
}

/** Signs access tokens: ES256, `typ: at+jwt`, `kid` header, claims of SPEC §4. */
@Injectable()
export class AccessTokenIssuer {
  constructor(
    private readonly keys: SigningKeyService,
    private readonly config: AuthApiConfig,
  ) {}

  async issue(subject: AuthContext): Promise<IssuedAccessToken> {
    const { kid, key } = await this.keys.activeKey();
    const ttl = this.config.ACCESS_TOKEN_TTL_SECONDS;
    const iat = Math.floor(Date.now() / 1000);
    const accessToken = await new SignJWT({ tid: subject.tenantId, role: subject.role })
      .setProtectedHeader({ alg: ACCESS_TOKEN_ALG, typ: ACCESS_TOKEN_TYPE, kid })
      .setIssuer(this.config.JWT_ISSUER)
      .setAudience(this.config.JWT_AUDIENCE)
      .setSubject(subject.userId)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttl)
      .setJti(randomUUID())
      .sign(key);
    return { accessToken, expiresIn: ttl };
  }
}
