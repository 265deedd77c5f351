// Prints the environment table of every service from its config class (the code is the source
// of truth): `node tools/dev/env-table.mjs > docs/environment.md` after `node tools/dev/build.mjs`.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);
require('reflect-metadata');
const { getMetadataStorage } = require('class-validator');
const { DEVELOPMENT_VALUES, productionDefaultsOf, productionRequired } = require(join(root, 'dist/libs/platform/core/src/config/config.loader.js'));

const services = [
  ['auth-api', 'apps/auth-api/src/config.js', 'AuthApiConfig', 'AUTH_API_SECRETS'],
  ['queue-api', 'apps/queue-api/src/config.js', 'QueueApiConfig', 'QUEUE_API_SECRETS'],
  ['webhook-gateway', 'apps/webhook-gateway/src/config.js', 'WebhookGatewayConfig', 'WEBHOOK_GATEWAY_SECRETS'],
  ['codex-worker', 'apps/codex-worker/src/config.js', 'CodexWorkerConfig', 'CODEX_WORKER_SECRETS'],
];

const out = ['# Environment', '', 'Generated from the config classes by `node tools/dev/env-table.mjs`. Every service validates its', 'environment at boot and exits naming every bad variable; `NODE_ENV=production` refuses development values,', 'and the variables marked *required* in the production column must be set there.', ''];
for (const [service, file, className, secretsName] of services) {
  const mod = require(join(root, 'dist', file));
  const Config = mod[className];
  const secrets = new Set(mod[secretsName] ?? []);
  const defaults = new Config();
  const rules = new Map();
  for (const meta of getMetadataStorage().getTargetValidationMetadatas(Config, '', true, false)) {
    const list = rules.get(meta.propertyName) ?? [];
    if (meta.name) list.push(meta.name);
    else if (meta.type === 'conditionalValidation') list.push('optional');
    rules.set(meta.propertyName, list);
  }
  const keys = [...new Set([...Object.keys(defaults), ...rules.keys()])].sort();
  const required = new Set(productionRequired(Config));
  const productionValues = productionDefaultsOf(Config);
  out.push(`## ${service}`, '', '| variable | default | development value | production | secret | rules |', '|---|---|---|---|---|---|');
  for (const key of keys) {
    const value = defaults[key];
    const shown = value === undefined ? '—' : key === 'WORKER_ID' ? '`<hostname>-<pid>`' : `\`${String(value)}\``;
    const dev = DEVELOPMENT_VALUES[key] ? `\`${DEVELOPMENT_VALUES[key]}\`` : '';
    const production = required.has(key) ? '*required*' : productionValues.has(key) ? `\`${productionValues.get(key)}\`` : '';
    out.push(`| \`${key}\` | ${shown} | ${dev} | ${production} | ${secrets.has(key) ? 'yes' : ''} | ${[...new Set(rules.get(key) ?? [])].join(', ')} |`);
  }
  out.push('');
}
process.stdout.write(out.join('\n') + '\n');
