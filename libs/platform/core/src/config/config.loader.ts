import { plainToInstance } from 'class-transformer';
import { getMetadataStorage, validateSync, ValidationError } from 'class-validator';

/** Values that are fine on a laptop and fatal in production (SPEC §13). */
export const DEVELOPMENT_VALUES: Readonly<Record<string, string>> = Object.freeze({
  OPS_API_KEY: 'dev-ops-api-key',
  SUPER_ADMIN_API_KEY: 'dev-super-admin-api-key',
  WORKER_API_KEY: 'dev-worker-api-key',
  MERCADO_PAGO_WEBHOOK_SECRET: 'dev-mercadopago-webhook-secret',
  STRIPE_WEBHOOK_SECRET: 'whsec_dev_stripe_webhook_secret',
  META_APP_SECRET: 'dev-meta-app-secret',
  META_WEBHOOK_VERIFY_TOKEN: 'dev-meta-verify-token',
  MERCADO_PAGO_ACCESS_TOKEN: 'TEST-dev-mercadopago-access-token',
  STRIPE_SECRET_KEY: 'sk_test_dev_stripe_secret_key',
  META_ACCESS_TOKEN: 'dev-meta-access-token',
  META_APP_ACCESS_TOKEN: 'dev-meta-app-access-token',
  TOKEN_ENCRYPTION_KEY: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
});

const requiredInProduction = new WeakMap<object, Set<string>>();
const productionDefaults = new WeakMap<object, Map<string, string>>();

/**
 * The default is for a laptop (a local address, a sandbox id): production must say what it means
 * (SPEC §10, "production refuses defaults").
 */
export function RequiredInProduction(): PropertyDecorator {
  return (target, property) => {
    const names = requiredInProduction.get(target) ?? new Set<string>();
    names.add(String(property));
    requiredInProduction.set(target, names);
  };
}

/** What an unset variable means in production, where it differs from the class's own default. */
export function ProductionDefault(value: string): PropertyDecorator {
  return (target, property) => {
    const values = productionDefaults.get(target) ?? new Map<string, string>();
    values.set(String(property), value);
    productionDefaults.set(target, values);
  };
}

/** Decorations of the class and of every class it extends. */
function inherited<T>(ConfigClass: new () => object, table: WeakMap<object, T>): T[] {
  const found: T[] = [];
  for (
    let proto: object | null = ConfigClass.prototype as object;
    proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto) as object | null
  ) {
    const entry = table.get(proto);
    if (entry !== undefined) found.push(entry);
  }
  return found;
}

/** The variables a production deployment must set itself. */
export function productionRequired(ConfigClass: new () => object): string[] {
  return [...new Set(inherited(ConfigClass, requiredInProduction).flatMap((names) => [...names]))].sort();
}

/** What unset variables mean in production where that differs from their defaults. */
export function productionDefaultsOf(ConfigClass: new () => object): Map<string, string> {
  // The nearest class's production default wins, as its own default does.
  return new Map(
    inherited(ConfigClass, productionDefaults)
      .reverse()
      .flatMap((values) => [...values]),
  );
}

const PLACEHOLDER =
  /^(changeme|change-me|placeholder|secret|password|todo|xxx+|test|example|dev-.*|.*_dev_.*)$/i;

export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigValidationError extends Error {
  constructor(
    readonly service: string,
    readonly problems: string[],
  ) {
    super(`${service}: invalid configuration — ${problems.join('; ')}`);
    this.name = 'ConfigValidationError';
  }
}

function describe(errors: ValidationError[], out: string[] = []): string[] {
  for (const error of errors) {
    const reasons = Object.values(error.constraints ?? {});
    if (reasons.length) out.push(`${error.property}: ${reasons.join(', ')}`);
    if (error.children?.length) describe(error.children, out);
  }
  return out;
}

/**
 * Reads and validates a service's configuration once, at boot. Every problem is collected so
 * that on-call sees the whole list in one message instead of fixing variables one restart at a time.
 * Development values (SPEC §13) fill the gaps outside production and are refused inside it.
 */
export function loadConfig<T extends object>(
  service: string,
  ConfigClass: new () => T,
  env: Env,
  secretNames: readonly string[] = [],
): Readonly<T> {
  const production = env.NODE_ENV === 'production';
  const merged: Record<string, string | undefined> = {};
  // Unset (or empty) is filled by the development value outside production, by the production
  // default inside it; a variable marked @RequiredInProduction has no fill there.
  const fill: Readonly<Record<string, string>> = production
    ? Object.fromEntries(productionDefaultsOf(ConfigClass))
    : DEVELOPMENT_VALUES;
  const required = production ? productionRequired(ConfigClass) : [];
  for (const key of configKeys(ConfigClass)) {
    const value = env[key] === '' ? undefined : env[key];
    merged[key] = value ?? (Object.hasOwn(fill, key) ? fill[key] : undefined);
  }
  const unset = required.filter((key) => merged[key] === undefined);
  for (const key of Object.keys(merged)) if (merged[key] === undefined) delete merged[key];

  const instance = plainToInstance(ConfigClass, merged, { exposeDefaultValues: true });
  const problems = describe(validateSync(instance, { whitelist: false }));
  for (const key of unset)
    problems.push(`${key}: must be set in production (its default is for local development)`);
  if (production) {
    for (const name of secretNames) {
      const value = (instance as Record<string, unknown>)[name];
      if (typeof value !== 'string' || value.length === 0) continue;
      const values = value.split(',').map((v) => v.trim());
      if (values.some((v) => Object.values(DEVELOPMENT_VALUES).includes(v) || PLACEHOLDER.test(v))) {
        problems.push(`${name}: a development or placeholder value is refused in production`);
      } else if (values.some((v) => v.length < 16)) {
        problems.push(`${name}: must be at least 16 characters in production`);
      }
    }
  }
  if (problems.length) throw new ConfigValidationError(service, problems);
  return Object.freeze(instance);
}

/** Every variable a config class knows: its defaults plus its validated (possibly default-less) fields. */
function configKeys(ConfigClass: new () => object): string[] {
  const keys = new Set(Object.keys(new ConfigClass()));
  for (const meta of getMetadataStorage().getTargetValidationMetadatas(ConfigClass, '', true, false))
    keys.add(meta.propertyName);
  return [...keys];
}

/** Comma-separated lists (several live secrets during a rotation, CORS origins). */
export function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}
