import { signMercadoPago } from '@realapp/payments';

export interface MercadoPagoNotification {
  /** Path and query, to append to the webhook-gateway's origin. */
  path: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * A payment notification exactly as Mercado Pago sends it (PROVIDERS.md): `data.id` and `type` in
 * the query string, `x-request-id`, and `x-signature: ts=…,v1=HMAC-SHA256("id:<data.id>;request-id:<x-request-id>;ts:<ts>;")`
 * signed with the payments lib's own `signMercadoPago`. Sending the same value twice is a provider
 * retry: same notification id, same request id.
 */
export function mercadoPagoPaymentNotification(input: {
  paymentId: string;
  notificationId: number;
  requestId: string;
  secret: string;
  ts?: number;
  now?: Date;
}): MercadoPagoNotification {
  const body = JSON.stringify({
    id: input.notificationId,
    live_mode: false,
    type: 'payment',
    date_created: (input.now ?? new Date()).toISOString(),
    user_id: 1,
    api_version: 'v1',
    action: 'payment.updated',
    data: { id: input.paymentId },
  });
  const signature = signMercadoPago({
    secret: input.secret,
    dataId: input.paymentId,
    xRequestId: input.requestId,
    ts: input.ts,
  });
  return {
    path: `/v1/webhooks/mercadopago?data.id=${encodeURIComponent(input.paymentId)}&type=payment`,
    headers: {
      'content-type': 'application/json',
      'x-request-id': input.requestId,
      'x-signature': signature,
    },
    body,
  };
}
