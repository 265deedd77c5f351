import { DynamicModule, Inject, Logger, Module, OnModuleDestroy } from '@nestjs/common';
import { AiReplyClient } from '../ai/ai-reply.client';
import { ConnectionsService } from '../connections/connections.service';
import { ConversationStateStore } from '../conversations/conversation-state.store';
import { ConversationsService } from '../conversations/conversations.service';
import { FlowsService } from '../flows/flows.service';
import { WhatsAppGraphClient } from '../graph/whatsapp-graph.client';
import { AI_REPLY_CLIENT, AiRepliesService } from '../inbound/ai-replies.service';
import { InboundService } from '../inbound/inbound.service';
import { NightlyCleanupService } from '../jobs/nightly-cleanup.service';
import { OnboardingService } from '../onboarding/onboarding.service';
import { TokenVault } from './token-vault';
import { WhatsAppAlerts } from './whatsapp-alerts';
import { WhatsAppRedis } from './whatsapp-redis';
import { WhatsAppMetrics } from './whatsapp.metrics';
import { WHATSAPP_OPTIONS, WhatsAppModuleOptions } from './whatsapp.options';

const SERVICES = [
  WhatsAppMetrics,
  WhatsAppAlerts,
  ConnectionsService,
  OnboardingService,
  FlowsService,
  ConversationsService,
  ConversationStateStore,
  AiRepliesService,
  InboundService,
  NightlyCleanupService,
];

/**
 * The WhatsApp channel's services for any app: queue-api serves the API with them, the worker
 * consumes Meta's events and runs the jobs. Needs the platform's database, metrics and
 * messaging modules (global in every app).
 */
@Module({})
export class WhatsAppModule implements OnModuleDestroy {
  constructor(@Inject(WhatsAppRedis) private readonly redis: WhatsAppRedis) {}

  static forRoot(options: WhatsAppModuleOptions): DynamicModule {
    // Failing at boot names the problem; failing at the first signup would not.
    const missing = (
      [
        ['META_APP_SECRET', options.meta.appSecret],
        ['META_APP_ACCESS_TOKEN', options.meta.appAccessToken],
        ['TOKEN_ENCRYPTION_KEY', options.tokenEncryptionKeys],
      ] as const
    ).filter(([, value]) => value.trim().length === 0);
    if (missing.length > 0) {
      throw new Error(`WhatsApp channel: ${missing.map(([name]) => name).join(', ')} must be set`);
    }
    return {
      module: WhatsAppModule,
      providers: [
        { provide: WHATSAPP_OPTIONS, useValue: options },
        { provide: TokenVault, useFactory: () => new TokenVault(options.tokenEncryptionKeys) },
        { provide: WhatsAppRedis, useFactory: () => new WhatsAppRedis(options.redisUrl) },
        {
          provide: WhatsAppGraphClient,
          useFactory: () =>
            new WhatsAppGraphClient({
              baseUrl: options.meta.graphBaseUrl,
              apiVersion: options.meta.graphApiVersion,
              appId: options.meta.appId,
              appSecret: options.meta.appSecret,
              appAccessToken: options.meta.appAccessToken,
              timeoutMs: options.meta.graphTimeoutMs,
              maxRetries: options.meta.graphMaxRetries,
              retryBaseDelayMs: options.meta.graphRetryBaseDelayMs,
            }),
        },
        {
          provide: AI_REPLY_CLIENT,
          useFactory: (): AiReplyClient | null => {
            const { apiKey, baseUrl, timeoutSeconds } = options.ai;
            if (apiKey === undefined) return null;
            const logger = new Logger('whatsapp-ai');
            return new AiReplyClient({
              apiKey,
              baseURL: baseUrl,
              timeoutSeconds,
              logger: { warn: (fields, message) => logger.warn(fields, message) },
            });
          },
        },
        ...SERVICES,
      ],
      exports: [WHATSAPP_OPTIONS, TokenVault, WhatsAppGraphClient, WhatsAppRedis, ...SERVICES],
    };
  }

  async onModuleDestroy(): Promise<void> {
    await this.redis.close();
  }
}
