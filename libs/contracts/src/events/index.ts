import { EventRegistry } from '../registry';
import { OrderActionRequested, OrderQueued } from './ads.events';
import { WhatsAppNumberMapped } from './auth.events';
import {
  BalanceNegative,
  OrdersReevaluationRequested,
  SubscriptionActivated,
  TopupApproved,
} from './billing.events';
import { ProbeEvent } from './messaging-test.events';
import { TopupReconciliationRequested } from './topup-reconciliation.events';
import { MercadoPagoWebhookReceived, MetaWebhookReceived, StripeWebhookReceived } from './webhook.events';

export * from './ads.events';
export * from './auth.events';
export * from './billing.events';
export * from './messaging-test.events';
export * from './topup-reconciliation.events';
export * from './webhook.events';

/** Every event type of the platform, defined once (SPEC §8). Add new definitions here. */
export const EVENTS = new EventRegistry([
  MercadoPagoWebhookReceived,
  StripeWebhookReceived,
  MetaWebhookReceived,
  TopupApproved,
  SubscriptionActivated,
  BalanceNegative,
  OrdersReevaluationRequested,
  OrderQueued,
  OrderActionRequested,
  WhatsAppNumberMapped,
  ProbeEvent,
  TopupReconciliationRequested,
]);
