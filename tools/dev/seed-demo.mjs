// Demo data for `npm start`, created through the platform's own API (and the provider sandbox's
// control API, standing in for the customer paying), so it is always valid data: a demo tenant
// with an active plan and R$ 90 in its wallet. Idempotent: a second start reuses it.
import { SANDBOX_URL } from './dev-env.mjs';

const AUTH = 'http://127.0.0.1:3001';
const QUEUE = 'http://127.0.0.1:3002';
export const DEMO_EMAIL = 'demo@realapp.dev';
export const DEMO_PASSWORD = 'demo-password-2026';

async function call(method, url, { token, body, key } = {}) {
  const res = await fetch(url, {
    method,
    headers: {
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(key ? { 'idempotency-key': key } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(15000),
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  return { status: res.status, json };
}

async function waitFor(probe, what, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function seedDemo() {
  let session = await call('POST', `${AUTH}/v1/auth/signup`, {
    body: { email: DEMO_EMAIL, password: DEMO_PASSWORD, name: 'Demo Owner', tenantName: 'Demo Imobiliária' },
  });
  if (session.status === 409) session = await call('POST', `${AUTH}/v1/auth/login`, { body: { email: DEMO_EMAIL, password: DEMO_PASSWORD } });
  if (session.status >= 300) throw new Error(`sign-up/login answered ${session.status}`);
  const token = session.json.accessToken;

  const subscription = await call('GET', `${QUEUE}/v1/billing/subscription`, { token });
  if (subscription.json?.status !== 'active') {
    const config = await call('GET', `${QUEUE}/v1/billing/config`, { token });
    const planId = config.json.plans[0].id;
    const created = await call('POST', `${QUEUE}/v1/billing/subscription`, { token, key: 'demo-seed-subscription', body: { planId } });
    const preapprovalId = new URL(created.json.checkoutUrl).searchParams.get('preapproval_id');
    await call('POST', `${SANDBOX_URL}/_sandbox/mercadopago/preapproval/${preapprovalId}/status`, { body: { status: 'authorized', notify: true } });
    await waitFor(async () => (await call('GET', `${QUEUE}/v1/billing/subscription`, { token })).json?.status === 'active', 'the plan');
  }

  const wallet = await call('GET', `${QUEUE}/v1/billing/wallet`, { token });
  if (wallet.json.balanceCents === 0) {
    const topup = await call('POST', `${QUEUE}/v1/billing/topups/pix`, { token, key: 'demo-seed-topup', body: { amountCents: 9000 } });
    await call('POST', `${SANDBOX_URL}/_sandbox/mercadopago/payments/${topup.json.providerPaymentId}/status`, {
      body: { status: 'approved', notify: true },
    });
    await waitFor(async () => (await call('GET', `${QUEUE}/v1/billing/wallet`, { token })).json?.balanceCents > 0, 'the credit');
  }
  const after = await call('GET', `${QUEUE}/v1/billing/wallet`, { token });
  return `tenant "Demo Imobiliária", login ${DEMO_EMAIL} / ${DEMO_PASSWORD}, plan active, wallet R$ ${(after.json.balanceCents / 100).toFixed(2)}`;
}
