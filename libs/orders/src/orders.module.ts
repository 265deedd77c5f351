import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LedgerModule } from '@realapp/ledger';
import { CREDIT_FOLLOW_UP } from '@realapp/payments';
import { CreditReevaluation } from './credit-reevaluation';
import { OrderLifecycleService } from './order-lifecycle.service';
import { OrderStore } from './order-store';
import { OrderTransitionEntity } from './order-transition.entity';
import { OrderEntity } from './order.entity';
import { OrderMetrics } from './orders.metrics';
import { OrdersService } from './orders.service';

/**
 * Ads orders for queue-api (OrdersService) and codex-worker (OrderLifecycleService). Needs the
 * platform (database, metrics), MessagingModule (outbox) and the global PaymentsModule of the
 * app (SubscriptionService: the plan check), which in turn finds this module's CREDIT_FOLLOW_UP:
 * a credit's re-evaluation of the tenant's waiting orders.
 */
@Module({
  imports: [TypeOrmModule.forFeature([OrderEntity, OrderTransitionEntity]), LedgerModule],
  providers: [
    OrderStore,
    OrderMetrics,
    OrdersService,
    OrderLifecycleService,
    CreditReevaluation,
    { provide: CREDIT_FOLLOW_UP, useExisting: CreditReevaluation },
  ],
  exports: [OrdersService, OrderLifecycleService, OrderMetrics, CREDIT_FOLLOW_UP],
})
export class OrdersModule {}
