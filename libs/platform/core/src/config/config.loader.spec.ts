import { IsInt, IsString, Min } from 'class-validator';
import { Type } from 'class-transformer';
import { BaseConfig } from './base.config';
import { ConfigValidationError, loadConfig } from './config.loader';

class SampleConfig extends BaseConfig {
  @IsString()
  OPS_API_KEY!: string;

  @IsString()
  STRIPE_WEBHOOK_SECRET!: string;

  @Type(() => Number)
  @IsInt()
  @Min(1000)
  TOPUP_RECONCILIATION_INTERVAL_MS = 60000;
}

const SECRETS = ['OPS_API_KEY', 'STRIPE_WEBHOOK_SECRET'];

describe('loadConfig', () => {
  it('fills the SPEC §13 development values outside production and converts types', () => {
    const config = loadConfig('svc', SampleConfig, { TOPUP_RECONCILIATION_INTERVAL_MS: '5000' }, SECRETS);
    expect(config.OPS_API_KEY).toBe('dev-ops-api-key');
    expect(config.STRIPE_WEBHOOK_SECRET).toBe('whsec_dev_stripe_webhook_secret');
    expect(config.TOPUP_RECONCILIATION_INTERVAL_MS).toBe(5000);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('names every bad variable in one error', () => {
    try {
      loadConfig('svc', SampleConfig, { TOPUP_RECONCILIATION_INTERVAL_MS: 'soon', DATABASE_URL: 'mysql://x', PORT: '99999' }, SECRETS);
      throw new Error('expected a ConfigValidationError');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigValidationError);
      const problems = (error as ConfigValidationError).problems.join('\n');
      expect(problems).toMatch(/TOPUP_RECONCILIATION_INTERVAL_MS/);
      expect(problems).toMatch(/DATABASE_URL/);
      expect(problems).toMatch(/PORT/);
    }
  });

  it('refuses missing secrets, development values and placeholders in production', () => {
    expect(() => loadConfig('svc', SampleConfig, { NODE_ENV: 'production' }, SECRETS)).toThrow(/OPS_API_KEY.*STRIPE_WEBHOOK_SECRET/s);
    expect(() =>
      loadConfig('svc', SampleConfig, { NODE_ENV: 'production', OPS_API_KEY: 'dev-ops-api-key', STRIPE_WEBHOOK_SECRET: 'changeme' }, SECRETS),
    ).toThrow(/OPS_API_KEY: a development or placeholder value.*STRIPE_WEBHOOK_SECRET: a development or placeholder value/s);
    const config = loadConfig(
      'svc',
      SampleConfig,
      { NODE_ENV: 'production', OPS_API_KEY: 'k'.repeat(40), STRIPE_WEBHOOK_SECRET: 'whsec_0123456789abcdef0123' },
      SECRETS,
    );
    expect(config.OPS_API_KEY).toHaveLength(40);
  });

  it('does not pick up variables the config does not declare', () => {
    const config = loadConfig('svc', SampleConfig, { UNRELATED_SECRET: 'x' }, SECRETS) as unknown as Record<string, unknown>;
    expect(config.UNRELATED_SECRET).toBeUndefined();
  });
});
