import { Module } from '@nestjs/common';
import { SecretBox } from '@realapp/platform';
import { AuthApiConfig } from '../config';
import { SigningKeyService } from './signing-key.service';

/**
 * The signing keys on their own, because two places need them: the token issuer, and the bearer
 * guard through which auth-api verifies its own tokens (AuthGuardModule.forRootAsync).
 */
@Module({
  providers: [
    {
      provide: SecretBox,
      useFactory: (config: AuthApiConfig) => SecretBox.fromConfig(config.TOKEN_ENCRYPTION_KEY),
      inject: [AuthApiConfig],
    },
    SigningKeyService,
  ],
  exports: [SecretBox, SigningKeyService],
})
export class SigningKeysModule {}
