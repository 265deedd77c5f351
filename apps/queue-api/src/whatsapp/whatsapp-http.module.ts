import { DynamicModule, Module } from '@nestjs/common';
import { WhatsAppModule, whatsAppOptionsFromConfig } from '@realapp/whatsapp';
import { QueueApiConfig } from '../config';
import { ConnectionsController } from './connections.controller';
import { ConversationsController } from './conversations.controller';
import { FlowsController } from './flows.controller';
import { OnboardingController } from './onboarding.controller';
import { WhatsAppOpsController } from './whatsapp-ops.controller';

/** SPEC §14 on queue-api: every `/v1/whatsapp/*` endpoint and the WhatsApp ops endpoints. */
@Module({})
export class WhatsAppHttpModule {
  static forRoot(config: QueueApiConfig): DynamicModule {
    return {
      module: WhatsAppHttpModule,
      imports: [WhatsAppModule.forRoot(whatsAppOptionsFromConfig(config))],
      controllers: [OnboardingController, ConnectionsController, FlowsController, ConversationsController, WhatsAppOpsController],
    };
  }
}
