import { DynamicModule, Module } from '@nestjs/common';
import { Logger } from 'pino';
import { AuthGuardModule } from '@realapp/auth-guard';
import { PlatformModule } from '@realapp/platform';
import { IncidentsModule } from '@realapp/platform';
import { BrokerReadiness, MessagingModule } from '@realapp/messaging';
import { AccountsController } from './accounts/accounts.controller';
import { AccountsService } from './accounts/accounts.service';
import { AuthApiConfig } from './config';
import { HousekeepingService } from './credentials/housekeeping.service';
import { LoginThrottle } from './credentials/login-throttle.service';
import { PasswordHasher } from './credentials/password-hasher';
import { InviteService } from './invites/invite.service';
import { InvitesController } from './invites/invites.controller';
import { JwksController } from './signing-keys/jwks.controller';
import { SigningKeyService } from './signing-keys/signing-key.service';
import { SigningKeysModule } from './signing-keys/signing-keys.module';
import { SigningKeysOpsController } from './signing-keys/signing-keys-ops.controller';
import { SuperAdminController } from './tenants/super-admin.controller';
import { TenantService } from './tenants/tenant.service';
import { WhatsAppNumberService } from './tenants/whatsapp-number.service';
import { AccessTokenIssuer } from './tokens/access-token.issuer';
import { RefreshTokenService } from './tokens/refresh-token.service';

export const SERVICE = 'auth-api';

@Module({})
export class AuthApiModule {
  static forRoot(config: AuthApiConfig, logger: Logger): DynamicModule {
    return {
      module: AuthApiModule,
      imports: [
        PlatformModule.forRoot({
          service: SERVICE,
          ConfigClass: AuthApiConfig,
          config,
          logger,
          readiness: [BrokerReadiness],
        }),
        MessagingModule.forRoot({ service: SERVICE, config }),
        IncidentsModule.forRoot({ service: SERVICE }),
        SigningKeysModule,
        // auth-api verifies its own tokens from its key store, not over HTTP from itself.
        AuthGuardModule.forRootAsync({
          imports: [SigningKeysModule],
          inject: [SigningKeyService],
          useFactory: (keys: SigningKeyService) => ({
            issuer: config.JWT_ISSUER,
            audience: config.JWT_AUDIENCE,
            jwks: () => keys.publicJwks(),
            jwksMaxAgeMs: 60_000,
            jwksCooldownMs: 500,
          }),
        }),
      ],
      controllers: [
        AccountsController,
        InvitesController,
        SuperAdminController,
        JwksController,
        SigningKeysOpsController,
      ],
      providers: [
        PasswordHasher,
        LoginThrottle,
        HousekeepingService,
        AccessTokenIssuer,
        RefreshTokenService,
        AccountsService,
        InviteService,
        TenantService,
        WhatsAppNumberService,
      ],
    };
  }
}
