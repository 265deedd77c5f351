import { DynamicModule, Module } from '@nestjs/common';
import { WhatsAppModule, whatsAppOptionsFromConfig } from '@realapp/whatsapp';
import { CodexWorkerConfig } from '../config';
import { PaymentsWorkerModule } from '../payments/payments-worker.module';
import { MetaWebhookConsumer } from './meta-webhook.consumer';
import { WhatsAppJobs } from './whatsapp-jobs';

/** SPEC §14 on the worker: Meta's WhatsApp webhooks, the replies and the channel's jobs. */
@Module({})
export class WhatsAppWorkerModule {
  static forRoot(config: CodexWorkerConfig): DynamicModule {
    return {
      module: WhatsAppWorkerModule,
      // PaymentsWorkerModule shares WebhookOutcomes (the stored event's processed/failed/dead record).
      imports: [WhatsAppModule.forRoot(whatsAppOptionsFromConfig(config)), PaymentsWorkerModule],
      controllers: [MetaWebhookConsumer],
      providers: [WhatsAppJobs],
    };
  }
}
