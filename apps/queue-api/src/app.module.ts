import { DynamicModule, Module } from '@nestjs/common';
import { Logger } from 'pino';
import { PlatformModule } from '@realapp/platform';
import { IncidentsModule } from '@realapp/platform';
import { BrokerReadiness, MessagingModule } from '@realapp/messaging';
import { AuthGuardModule } from '@realapp/auth-guard';
import { PaymentsModule, paymentsOptionsFromConfig } from '@realapp/payments';
import { BillingHttpModule } from './billing/billing-http.module';
import { JobsModule } from './jobs/jobs.module';
import { QueueApiConfig } from './config';
import { OpsModule } from './ops/ops.module';
import { StatusModule } from './status/status.module';
import { AdsModule } from './ads/ads.module';
import { ReconciliationHttpModule } from './reconciliation/reconciliation.module';
import { WhatsAppHttpModule } from './whatsapp/whatsapp-http.module';

export const SERVICE = 'queue-api';

@Module({})
export class QueueApiModule {
  static forRoot(config: QueueApiConfig, logger: Logger): DynamicModule {
    return {
      module: QueueApiModule,
      imports: [
        PlatformModule.forRoot({ service: SERVICE, ConfigClass: QueueApiConfig, config, logger, readiness: [BrokerReadiness] }),
        MessagingModule.forRoot({ service: SERVICE, config }),
        IncidentsModule.forRoot({ service: SERVICE }),
        OpsModule,
        StatusModule,
        AuthGuardModule.forRoot({
          jwksUrl: config.JWKS_URL,
          issuer: config.JWT_ISSUER,
          audience: config.JWT_AUDIENCE,
        }),
        PaymentsModule.forRoot(paymentsOptionsFromConfig(config)),
        BillingHttpModule,
        JobsModule,
        AdsModule,
        ReconciliationHttpModule,
        WhatsAppHttpModule.forRoot(config),
      ],
    };
  }
}
