import { DynamicModule, Module } from '@nestjs/common';
import { Logger } from 'pino';
import { PlatformModule } from '@realapp/platform';
import { IncidentsModule } from '@realapp/platform';
import { BrokerReadiness, MessagingModule } from '@realapp/messaging';
import { CodexWorkerConfig } from './config';
import { BillingEventsModule } from './billing-events/billing-events.consumer';
import { CampaignsModule } from './campaigns/campaigns.module';
import { PaymentsModule, paymentsOptionsFromConfig } from '@realapp/payments';
import { HeartbeatModule } from './heartbeat/heartbeat.module';
import { PaymentsWorkerModule } from './payments/payments-worker.module';
import { ReconciliationModule } from './reconciliation/reconciliation.module';
import { WhatsAppWorkerModule } from './whatsapp/whatsapp-worker.module';

export const SERVICE = 'codex-worker';

@Module({})
export class CodexWorkerModule {
  static forRoot(config: CodexWorkerConfig, logger: Logger): DynamicModule {
    return {
      module: CodexWorkerModule,
      imports: [
        PlatformModule.forRoot({ service: SERVICE, ConfigClass: CodexWorkerConfig, config, logger, readiness: [BrokerReadiness] }),
        MessagingModule.forRoot({ service: SERVICE, config }),
        IncidentsModule.forRoot({ service: SERVICE }),
        CampaignsModule,
        BillingEventsModule,
        PaymentsModule.forRoot(paymentsOptionsFromConfig(config)),
        HeartbeatModule,
        PaymentsWorkerModule,
        ReconciliationModule,
        WhatsAppWorkerModule.forRoot(config),
      ],
    };
  }
}
