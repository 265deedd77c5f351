export * from './order-state';
export { desiredMetaStatus, orderReferences, planSpendCapture } from './order-money';
export type { OrderMoney, SpendCapture } from './order-money';
export { launchPending, metaSyncPending, orderNeedsWorker, settlementPending } from './order-work';
export type { OrderWorkState } from './order-work';
export { OrderEntity } from './order.entity';
export { OrderTransitionEntity } from './order-transition.entity';
export { toOrderView } from './order-view';
export { OrdersError } from './orders.errors';
export type { OrdersErrorCode } from './orders.errors';
export { GENDERS, WAITING_REASONS } from './orders.types';
export type {
  CreateOrderInput,
  Gender,
  OrderCreative,
  OrderHistoryItem,
  OrderTargeting,
  OrderTransitionRecord,
  OrderView,
  WaitingReason,
} from './orders.types';
export { OrderMetrics } from './orders.metrics';
export { checkSchedule, checkTargeting, OrdersService } from './orders.service';
export { OrderLifecycleService } from './order-lifecycle.service';
export type { LaunchRecord, LeaseResult } from './order-lifecycle.service';
export { OrdersModule } from './orders.module';
