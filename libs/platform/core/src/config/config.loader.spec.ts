import { IsInt, IsString, Min } from 'class-validator';
import { Type } from 'class-transformer';
import { BaseConfig } from './base.config';
import { ConfigValidationError, loadConfig, ProductionDefault, productionRequired, RequiredInProduction } from './config.loader';

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

/** What every production deployment must name itself (BaseConfig's @RequiredInProduction). */
const PRODUCTION_BASICS = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://realapp@db.internal:5432/realapp',
  AMQP_URL: 'amqps://realapp:s3cret@mq.internal:5671',
  REDIS_URL: 'rediss://cache.internal:6380',
  JWT_ISSUER: 'https://auth.realapp.com.br',
  JWT_AUDIENCE: 'realapp-api',
};

class ProductionRulesConfig extends BaseConfig {
  @IsString()
  @RequiredInProduction()
  PLAN_ID = 'plan_basic';

  @IsString()
  @ProductionDefault('on')
  MODE = 'off';
}

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
      { ...PRODUCTION_BASICS, OPS_API_KEY: 'k'.repeat(40), STRIPE_WEBHOOK_SECRET: 'whsec_0123456789abcdef0123' },
      SECRETS,
    );
    expect(config.OPS_API_KEY).toHaveLength(40);
  });

  it('refuses, in production, a default meant for local development: the URLs, the JWT names, the ones marked', () => {
    try {
      loadConfig('svc', ProductionRulesConfig, { NODE_ENV: 'production' });
      throw new Error('expected a ConfigValidationError');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigValidationError);
      const problems = (error as ConfigValidationError).problems;
      for (const name of ['DATABASE_URL', 'AMQP_URL', 'REDIS_URL', 'JWT_ISSUER', 'JWT_AUDIENCE', 'PLAN_ID']) {
        expect(problems).toContain(`${name}: must be set in production (its default is for local development)`);
      }
      expect(problems.join('\n')).not.toMatch(/MODE|LOG_LEVEL|PORT/);
    }
    // An empty value is unset, as it is everywhere else in the loader.
    expect(() => loadConfig('svc', ProductionRulesConfig, { ...PRODUCTION_BASICS, PLAN_ID: '' })).toThrow(/PLAN_ID: must be set/);
    const config = loadConfig('svc', ProductionRulesConfig, { ...PRODUCTION_BASICS, PLAN_ID: 'plan_pro' });
    expect(config.DATABASE_URL).toBe(PRODUCTION_BASICS.DATABASE_URL);
    expect(config.PLAN_ID).toBe('plan_pro');
  });

  it('takes the production default in production only, and an explicit value over it', () => {
    expect(loadConfig('svc', ProductionRulesConfig, {}).MODE).toBe('off');
    expect(loadConfig('svc', ProductionRulesConfig, { ...PRODUCTION_BASICS, PLAN_ID: 'p' }).MODE).toBe('on');
    expect(loadConfig('svc', ProductionRulesConfig, { ...PRODUCTION_BASICS, PLAN_ID: 'p', MODE: 'off' }).MODE).toBe('off');
    expect(productionRequired(ProductionRulesConfig)).toEqual([
      'AMQP_URL',
      'DATABASE_URL',
      'JWT_AUDIENCE',
      'JWT_ISSUER',
      'PLAN_ID',
      'REDIS_URL',
    ]);
  });

  it('does not pick up variables the config does not declare', () => {
    const config = loadConfig('svc', SampleConfig, { UNRELATED_SECRET: 'x' }, SECRETS) as unknown as Record<string, unknown>;
    expect(config.UNRELATED_SECRET).toBeUndefined();
  });
});
