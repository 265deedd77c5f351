import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LedgerModule } from '@realapp/ledger';
import { OrderLifecycleService } from './order-lifecycle.service';
import { OrderStore } from './order-store';
import { OrderTransitionEntity } from './order-transition.entity';
import { OrderEntity } from './order.entity';
import { OrderMetrics } from './orders.metrics';
import { OrdersService } from './orders.service';

/**
 * Ads orders for queue-api (OrdersService) and codex-worker (OrderLifecycleService). Needs the
 * platform (database, metrics), MessagingModule (outbox) and the global PaymentsModule of the
 * app (SubscriptionService: the plan check).
 */
@Module({
  imports: [TypeOrmModule.forFeature([OrderEntity, OrderTransitionEntity]), LedgerModule],
  providers: [OrderStore, OrderMetrics, OrdersService, OrderLifecycleService],
  exports: [OrdersService, OrderLifecycleService, OrderMetrics],
})
export class OrdersModule {}
