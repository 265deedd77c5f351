import { BaseConfig, loadConfig } from '@realapp/platform';
import { IsOptional } from 'class-validator';
import {
  billingPlansProblems,
  defaultBillingPlans,
  IsBillingPlansJson,
  parseBillingPlans,
} from './billing-plans';
import { PaymentsError } from './payments.errors';
import {
  defaultPayerEmail,
  IsPublicUrl,
  paymentsOptionsFromConfig,
  PaymentsSettings,
} from './payments.options';
import { toHttpError } from './provider-failure';
import { assertTopupAmount } from './topup.service';

class SampleConfig extends BaseConfig {
  @IsPublicUrl()
  PUBLIC_APP_URL = 'http://127.0.0.1:8080';

  @IsOptional()
  @IsBillingPlansJson()
  BILLING_PLANS?: string;
}

const settings: PaymentsSettings = {
  MERCADO_PAGO_BASE_URL: 'http://127.0.0.1:3090',
  MERCADO_PAGO_ACCESS_TOKEN: 'TEST-token',
  MERCADO_PAGO_SUBSCRIPTION_PLAN_ID: 'plan_basic',
  STRIPE_SECRET_KEY: 'sk_test_x',
  PUBLIC_APP_URL: 'https://app.realapp.com.br',
};

describe('top-up amounts (SPEC §13)', () => {
  it.each([3000, 9000, 100_000_000])('accepts %d', (amount) => {
    expect(() => assertTopupAmount(amount)).not.toThrow();
  });

  it.each([1, 2999])('refuses %d with 422 amount_below_minimum', (amount) => {
    expect(() => assertTopupAmount(amount)).toThrow(
      expect.objectContaining({ code: 'amount_below_minimum', status: 422 }),
    );
  });

  it.each<unknown>([
    0,
    -1,
    3000.5,
    100_000_001,
    Number.MAX_SAFE_INTEGER + 2,
    Number.NaN,
    Infinity,
    '3000',
    null,
    undefined,
  ])('refuses %p with 400 validation_failed naming amountCents', (amount) => {
    expect(() => assertTopupAmount(amount)).toThrow(
      expect.objectContaining({
        code: 'validation_failed',
        status: 400,
        extra: { errors: [expect.objectContaining({ field: 'amountCents' })] },
      }),
    );
  });
});

describe('billing plans', () => {
  it('defaults to Basic (under MERCADO_PAGO_SUBSCRIPTION_PLAN_ID) and Pro', () => {
    expect(defaultBillingPlans('plan_x')).toEqual([
      { id: 'plan_x', name: 'Basic', priceCents: 9900, interval: 'month' },
      { id: 'plan_pro', name: 'Pro', priceCents: 19900, interval: 'month' },
    ]);
  });

  it('parses a BILLING_PLANS list and drops unknown keys', () => {
    expect(
      parseBillingPlans('[{"id":"a","name":"A","priceCents":5000,"interval":"month","extra":1}]'),
    ).toEqual([{ id: 'a', name: 'A', priceCents: 5000, interval: 'month' }]);
  });

  it.each([
    ['not json', 'is not JSON'],
    ['[]', 'non-empty'],
    ['{}', 'non-empty'],
    ['[{"id":"a b","name":"A","priceCents":5000,"interval":"month"}]', '[0].id'],
    ['[{"id":"a","name":"A","priceCents":50.5,"interval":"month"}]', '[0].priceCents'],
    ['[{"id":"a","name":"A","priceCents":5000,"interval":"week"}]', '[0].interval'],
    [
      '[{"id":"a","name":"A","priceCents":5000,"interval":"month"},{"id":"a","name":"B","priceCents":6000,"interval":"month"}]',
      'repeated',
    ],
  ])('refuses %s', (value, problem) => {
    expect(billingPlansProblems(value).join('; ')).toContain(problem);
    expect(() => parseBillingPlans(value)).toThrow(TypeError);
  });

  it('validates BILLING_PLANS and PUBLIC_APP_URL at boot, https only in production', () => {
    expect(loadConfig('svc', SampleConfig, {}).PUBLIC_APP_URL).toBe('http://127.0.0.1:8080');
    expect(() => loadConfig('svc', SampleConfig, { BILLING_PLANS: '[]' })).toThrow(/BILLING_PLANS/);
    expect(() => loadConfig('svc', SampleConfig, { PUBLIC_APP_URL: 'not a url' })).toThrow(/PUBLIC_APP_URL/);
    expect(() => loadConfig('svc', SampleConfig, { NODE_ENV: 'production' })).toThrow(/PUBLIC_APP_URL/);
    expect(
      loadConfig('svc', SampleConfig, {
        NODE_ENV: 'production',
        DATABASE_URL: 'postgres://realapp@db.internal:5432/realapp',
        AMQP_URL: 'amqps://mq.internal',
        REDIS_URL: 'rediss://cache.internal',
        JWT_ISSUER: 'https://auth.example.com',
        JWT_AUDIENCE: 'realapp-api',
        PUBLIC_APP_URL: 'https://app.example.com',
      }).PUBLIC_APP_URL,
    ).toBe('https://app.example.com');
  });

  it('builds the module options from config', () => {
    expect(paymentsOptionsFromConfig(settings)).toEqual({
      mercadoPago: { baseUrl: 'http://127.0.0.1:3090', accessToken: 'TEST-token' },
      stripe: { secretKey: 'sk_test_x' },
      publicAppUrl: 'https://app.realapp.com.br',
      plans: defaultBillingPlans('plan_basic'),
      defaultPlanId: 'plan_basic',
    });
    const full = paymentsOptionsFromConfig({
      ...settings,
      STRIPE_API_BASE_URL: 'http://127.0.0.1:3090',
      PUBLIC_WEBHOOK_BASE_URL: 'https://hooks.realapp.com.br',
      BILLING_PLANS: '[{"id":"solo","name":"Solo","priceCents":4900,"interval":"month"}]',
      PIX_EXPIRATION_MINUTES: 45,
    });
    expect(full).toMatchObject({
      stripe: { apiBaseUrl: 'http://127.0.0.1:3090' },
      publicWebhookBaseUrl: 'https://hooks.realapp.com.br',
      plans: [{ id: 'solo' }],
      defaultPlanId: 'solo',
      pixExpiresInMinutes: 45,
    });
  });

  it('gives Mercado Pago a per-tenant payer address on the app domain, never a person’s', () => {
    expect(defaultPayerEmail({ publicAppUrl: 'https://app.realapp.com.br/x' }, 'abc')).toBe(
      'billing+abc@app.realapp.com.br',
    );
  });
});

describe('provider failures as HTTP answers', () => {
  it('answers 503 with Retry-After when the provider is down', () => {
    const error = toHttpError(
      new PaymentsError('provider_unavailable', 'boom at http://10.0.0.1', { retryAfterMs: 2500 }),
    );
    expect(error).toMatchObject({
      code: 'provider_unavailable',
      status: 503,
      extra: { headers: { 'retry-after': '3' } },
    });
    expect(JSON.stringify(error)).not.toContain('10.0.0.1');
  });

  it.each(['provider_rejected', 'provider_not_found', 'provider_invalid_response'] as const)(
    'answers 502 provider_error for %s',
    (code) => {
      expect(toHttpError(new PaymentsError(code, 'detail with internals'))).toMatchObject({
        code: 'provider_error',
        status: 502,
      });
    },
  );

  it('passes other errors through', () => {
    const other = new Error('x');
    expect(toHttpError(other)).toBe(other);
  });
});
