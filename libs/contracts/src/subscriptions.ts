/**
 * Which service consumes which event types. Producers declare these queues too, so an event
 * published before its consumer ever started waits in a durable queue instead of being dropped.
 * A consumer may only handle types listed here for it (checked when it starts).
 */
export const SUBSCRIPTIONS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  'codex-worker': [
    'webhook.mercadopago.received',
    'webhook.stripe.received',
    'webhook.meta.received',
    'billing.topup.approved',
    'billing.subscription.activated',
    'billing.balance.negative',
    'ads.orders.reevaluation_requested',
    'ads.order.queued',
    'ads.order.action_requested',
    'billing.reconciliation_requested',
  ],
  'webhook-gateway': ['auth.whatsapp_number.mapped'],
});
