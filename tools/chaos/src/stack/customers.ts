import { randomBytes, randomUUID } from 'node:crypto';
import { call, waitFor } from './http';
import { PlatformStack } from './platform-stack';

/** A signed-up tenant as the Expo app sees it: a token and the address its phone calls from. */
export interface Customer {
  tenantId: string;
  token: string;
  ip: string;
}

let nextAddress = 1;
/** Each simulated customer calls from its own address (X-Forwarded-For), as real phones do. */
export function customerAddress(): string {
  const n = nextAddress++;
  return `10.77.${Math.floor(n / 250) % 250}.${(n % 250) + 1}`;
}

export async function signUp(stack: PlatformStack): Promise<Customer> {
  const ip = customerAddress();
  const suffix = randomBytes(5).toString('hex');
  const answer = await call<{ accessToken: string; tenant: { id: string } }>(
    stack.url('auth-api'),
    'POST',
    '/v1/auth/signup',
    {
      ip,
      body: {
        email: `chaos-${suffix}@example.com`,
        password: `Chaos-${suffix}-pass!`,
        name: 'Chaos Customer',
        tenantName: `Chaos ${suffix}`,
      },
    },
  );
  if (answer.status !== 201) throw new Error(`signup answered ${answer.status}: ${answer.text}`);
  return { tenantId: answer.body.tenant.id, token: answer.body.accessToken, ip };
}

/** Subscribes to the default plan and authorizes it at the (sandbox) Mercado Pago, then waits until it is active. */
export async function activatePlan(
  stack: PlatformStack,
  customer: Customer,
  queueApiIndex = 0,
): Promise<void> {
  const api = stack.url('queue-api', queueApiIndex);
  const started = await call<{ checkoutUrl: string }>(api, 'POST', '/v1/billing/subscription', {
    token: customer.token,
    ip: customer.ip,
    idempotencyKey: randomUUID(),
    body: {},
  });
  if (started.status !== 201) throw new Error(`subscribe answered ${started.status}: ${started.text}`);
  const preapprovalId = new URL(started.body.checkoutUrl).searchParams.get('preapproval_id');
  if (!preapprovalId) throw new Error(`no preapproval_id in ${started.body.checkoutUrl}`);
  const authorized = await call(
    stack.sandbox.url,
    'POST',
    `/_sandbox/mercadopago/preapproval/${preapprovalId}/status`,
    {
      body: { status: 'authorized', notify: true },
    },
  );
  if (authorized.status !== 200)
    throw new Error(`sandbox authorize answered ${authorized.status}: ${authorized.text}`);
  const active = await waitFor(async () => {
    const current = await call<{ status: string }>(api, 'GET', '/v1/billing/subscription', {
      token: customer.token,
      ip: customer.ip,
    });
    return current.body?.status === 'active' ? true : undefined;
  }, 30_000);
  if (!active) throw new Error(`the plan of ${customer.tenantId} did not become active`);
}

export interface PixTopup {
  id: string;
  paymentId: string;
  amountCents: number;
}

export async function createPixTopup(
  stack: PlatformStack,
  customer: Customer,
  amountCents: number,
  queueApiIndex = 0,
): Promise<PixTopup | null> {
  const answer = await call<{ id: string; providerPaymentId: string }>(
    stack.url('queue-api', queueApiIndex),
    'POST',
    '/v1/billing/topups/pix',
    {
      token: customer.token,
      ip: customer.ip,
      idempotencyKey: randomUUID(),
      body: { amountCents },
    },
  );
  if (answer.status !== 201) return null;
  return { id: answer.body.id, paymentId: answer.body.providerPaymentId, amountCents };
}

/**
 * Approves the payment at the sandbox and has it deliver the signed notification to the gateway
 * (`count` deliveries of one notification: a provider's duplicates). Answers the HTTP statuses
 * the gateway gave (0 when it was unreachable).
 */
export async function approveAndNotify(
  stack: PlatformStack,
  paymentId: string,
  count = 1,
): Promise<number[]> {
  const answer = await call<{ notified?: { statuses?: number[]; status: number } }>(
    stack.sandbox.url,
    'POST',
    `/_sandbox/mercadopago/payments/${paymentId}/status`,
    { body: { status: 'approved', notify: true, count }, timeoutMs: 60_000 },
  );
  return answer.body?.notified?.statuses ?? (answer.body?.notified ? [answer.body.notified.status] : [0]);
}

/** Delivers the payment's last notification again (what Mercado Pago does until it gets a 2xx). */
export async function redeliver(stack: PlatformStack, paymentId: string, count = 1): Promise<number[]> {
  const answer = await call<{ notified?: { statuses?: number[]; status: number } }>(
    stack.sandbox.url,
    'POST',
    `/_sandbox/mercadopago/payments/${paymentId}/notify`,
    { body: { count, fresh: false }, timeoutMs: 60_000 },
  );
  return answer.body?.notified?.statuses ?? (answer.body?.notified ? [answer.body.notified.status] : [0]);
}

export function anOrder(budgetCents: number): Record<string, unknown> {
  return {
    name: `chaos ${randomBytes(3).toString('hex')}`,
    objective: 'traffic',
    budgetCents,
    targeting: { countries: ['BR'], ageMin: 18, ageMax: 45 },
    creative: {
      headline: 'Apartamentos no centro',
      body: 'Agende uma visita hoje mesmo.',
      imageUrl: 'https://example.com/ad.png',
      linkUrl: 'https://example.com/imoveis',
    },
  };
}
