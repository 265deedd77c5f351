import { IsIn, IsUUID } from 'class-validator';
import { defineEvent } from '../registry';

export class OrderQueuedData {
  @IsUUID()
  orderId: string;

  @IsUUID()
  tenantId: string;
}
/** The budget is held: the worker creates the campaign at Meta. */
export const OrderQueued = defineEvent('ads.order.queued', 1, OrderQueuedData);

export const ORDER_ACTIONS = ['pause', 'resume', 'stop'] as const;
export type OrderAction = (typeof ORDER_ACTIONS)[number];

export class OrderActionRequestedData {
  @IsUUID()
  orderId: string;

  @IsUUID()
  tenantId: string;

  @IsIn(ORDER_ACTIONS)
  action: OrderAction;
}
/** A customer asked to pause, resume or stop: the worker carries it out at Meta. */
export const OrderActionRequested = defineEvent('ads.order.action_requested', 1, OrderActionRequestedData);
