import { DynamicModule, Module } from '@nestjs/common';
import { Logger } from 'pino';
import { PlatformModule } from '@realapp/platform';
import { IncidentsModule } from '@realapp/platform';
import { BrokerReadiness, MessagingModule } from '@realapp/messaging';
import { WebhookGatewayConfig } from './config';
import { GatewayWebhooksModule } from './gateway-webhooks.module';

export const SERVICE = 'webhook-gateway';

@Module({})
export class WebhookGatewayModule {
  static forRoot(config: WebhookGatewayConfig, logger: Logger): DynamicModule {
    return {
      module: WebhookGatewayModule,
      imports: [
        PlatformModule.forRoot({ service: SERVICE, ConfigClass: WebhookGatewayConfig, config, logger, readiness: [BrokerReadiness] }),
        MessagingModule.forRoot({ service: SERVICE, config }),
        IncidentsModule.forRoot({ service: SERVICE }),
        GatewayWebhooksModule,
      ],
    };
  }
}
