import { Module } from '@nestjs/common';
import type { Logger } from 'pino';
import { MetaAdsModule } from '@realapp/meta-ads';
import { OrdersModule } from '@realapp/orders';
import { ROOT_LOGGER } from '@realapp/platform';
import { CodexWorkerConfig } from '../config';
import { BalanceNegativeConsumer } from './balance-negative.consumer';
import { CampaignReconciler } from './campaign-reconciler';
import { CampaignSweeper } from './campaign-sweeper';
import { OrderActionConsumer } from './order-action.consumer';
import { OrderQueuedConsumer } from './order-queued.consumer';
import { OrdersReevaluationConsumer } from './orders-reevaluation.consumer';
import { WaitingOrders } from './waiting-orders';

/** The worker's campaigns: launch, pause/resume/stop at Meta, insights, re-evaluation, recovery (SPEC §6, §8). */
@Module({
  imports: [
    OrdersModule,
    MetaAdsModule.forRootAsync({
      inject: [CodexWorkerConfig, ROOT_LOGGER],
      useFactory: (config: CodexWorkerConfig, root: Logger) => ({
        realAdsEnabled: config.REAL_ADS_ENABLED,
        baseUrl: config.META_GRAPH_BASE_URL,
        apiVersion: config.META_GRAPH_API_VERSION,
        accessToken: config.META_ACCESS_TOKEN,
        appSecret: config.META_APP_SECRET,
        timeoutMs: config.META_GRAPH_TIMEOUT_MS,
        maxRetryAfterMs: config.META_MAX_RETRY_AFTER_MS,
        logger: root.child({ component: 'meta-ads' }),
      }),
    }),
  ],
  controllers: [
    OrderQueuedConsumer,
    OrderActionConsumer,
    OrdersReevaluationConsumer,
    BalanceNegativeConsumer,
  ],
  providers: [CampaignReconciler, CampaignSweeper, WaitingOrders],
  exports: [WaitingOrders],
})
export class CampaignsModule {}
