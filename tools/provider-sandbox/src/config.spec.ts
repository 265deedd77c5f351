import { SANDBOX_DEFAULTS, SandboxConfigError, loadSandboxConfig } from './config';

describe('loadSandboxConfig', () => {
  it('uses the development defaults', () => {
    expect(loadSandboxConfig({})).toEqual({
      port: 3090,
      host: '127.0.0.1',
      publicUrl: undefined,
      webhookBaseUrl: 'http://127.0.0.1:3003',
      mercadoPagoWebhookSecret: 'dev-mercadopago-webhook-secret',
      stripeWebhookSecret: 'whsec_dev_stripe_webhook_secret',
      metaAppSecret: 'dev-meta-app-secret',
    });
    expect(SANDBOX_DEFAULTS.port).toBe(3090);
  });

  it('reads every variable', () => {
    const config = loadSandboxConfig({
      SANDBOX_PORT: '4000',
      SANDBOX_WEBHOOK_BASE_URL: 'http://gateway:3003/',
      MERCADO_PAGO_WEBHOOK_SECRET: 'mp',
      STRIPE_WEBHOOK_SECRET: 'whsec_s',
      META_APP_SECRET: 'meta',
      SANDBOX_HOST: '0.0.0.0',
      SANDBOX_PUBLIC_URL: 'http://sandbox:4000',
    });
    expect(config).toEqual({
      port: 4000,
      host: '0.0.0.0',
      publicUrl: 'http://sandbox:4000',
      webhookBaseUrl: 'http://gateway:3003',
      mercadoPagoWebhookSecret: 'mp',
      stripeWebhookSecret: 'whsec_s',
      metaAppSecret: 'meta',
    });
  });

  it('names every malformed variable at once', () => {
    expect(() => loadSandboxConfig({ SANDBOX_PORT: 'abc', SANDBOX_WEBHOOK_BASE_URL: 'ftp://x' })).toThrow(
      SandboxConfigError,
    );
    expect(() => loadSandboxConfig({ SANDBOX_PORT: 'abc', SANDBOX_WEBHOOK_BASE_URL: 'ftp://x' })).toThrow(
      /SANDBOX_PORT.*SANDBOX_WEBHOOK_BASE_URL/,
    );
  });
});
