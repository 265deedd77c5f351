// The nginx API gateway of SPEC §15, started beside the services when nginx is installed: one origin
// (http://127.0.0.1:8080) for the Expo app in front of auth-api, queue-api and webhook-gateway. The config is
// rendered from deploy/gateway/*.template into tmp/gateway/ and nginx runs unprivileged in the foreground
// under a small node wrapper (this file, with --foreground), so `npm start` prefixes its logs and stops it
// with everything else.
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const NGINX_PATHS = [
  '/usr/sbin/nginx',
  '/usr/local/sbin/nginx',
  '/usr/local/bin/nginx',
  '/opt/homebrew/bin/nginx',
];
const PLACEHOLDER = /\$\{(GATEWAY_[A-Z0-9_]+)\}/g;

/** The nginx binary (NGINX_BIN when set), or null when it is not installed. */
export function findNginx() {
  if (process.env.NGINX_BIN) return existsSync(process.env.NGINX_BIN) ? process.env.NGINX_BIN : null;
  for (const path of NGINX_PATHS) if (existsSync(path)) return path;
  const probe = spawnSync('nginx', ['-v'], { stdio: 'ignore' });
  return probe.status === 0 ? 'nginx' : null;
}

/** Fills ${GATEWAY_*} placeholders; a placeholder without a value is an error, never an empty string. */
export function renderTemplate(template, values) {
  return template.replace(PLACEHOLDER, (_, name) => {
    if (values[name] === undefined || values[name] === '')
      throw new Error(`gateway template: no value for ${name}`);
    return values[name];
  });
}

/** Writes nginx.conf + gateway.conf under `prefix` (temp paths and pid file too); returns the nginx.conf path. */
export function writeGatewayConfig(root, prefix, values) {
  mkdirSync(prefix, { recursive: true });
  const all = { ...values, GATEWAY_PREFIX: prefix };
  const template = (name) => readFileSync(join(root, 'deploy/gateway', name), 'utf8');
  writeFileSync(join(prefix, 'gateway.conf'), renderTemplate(template('gateway.conf.template'), all));
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, renderTemplate(template('nginx.conf.template'), all));
  return conf;
}

export function nginxArgs(prefix, conf) {
  return ['-p', prefix, '-c', conf, '-e', 'stderr', '-g', 'daemon off;'];
}

function portFree(port, host) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

async function waitForGateway(url, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/**
 * Called by tools/dev/start.mjs once the services are ready. `run(name, args)` starts a node process with
 * prefixed logs that is stopped with the others. Returns the line start.mjs prints.
 */
export async function startGateway(root, run) {
  const nginx = findNginx();
  if (!nginx) {
    return 'NOT STARTED: nginx is not installed (Debian/Ubuntu: apt-get install nginx; macOS: brew install nginx); use the service ports directly';
  }
  const port = Number(process.env.GATEWAY_PORT ?? 8080);
  const host = process.env.GATEWAY_HOST ?? '0.0.0.0';
  if (!(await portFree(port, host))) return `NOT STARTED: port ${port} is already in use (set GATEWAY_PORT)`;
  const openapiFile = join(root, 'openapi/merged.json');
  if (!existsSync(openapiFile)) return 'NOT STARTED: openapi/merged.json is missing (run `npm run openapi`)';
  const prefix = join(root, 'tmp/gateway');
  const values = {
    GATEWAY_LISTEN: `${host}:${port}`,
    GATEWAY_AUTH_API: '127.0.0.1:3001',
    GATEWAY_QUEUE_API: '127.0.0.1:3002',
    GATEWAY_WEBHOOK_GATEWAY: '127.0.0.1:3003',
    GATEWAY_OPENAPI_FILE: openapiFile,
    GATEWAY_PROXY_TIMEOUT: '30s',
  };
  const conf = writeGatewayConfig(root, prefix, { ...values, GATEWAY_ACCESS_LOG: 'off' });
  const check = spawnSync(nginx, ['-t', '-q', ...nginxArgs(prefix, conf)], { encoding: 'utf8' });
  if (check.status !== 0) return `NOT STARTED: nginx refused ${conf}:\n${check.stderr}`;
  run('api-gateway', [
    fileURLToPath(import.meta.url),
    '--foreground',
    root,
    nginx,
    prefix,
    JSON.stringify(values),
  ]);
  const url = `http://127.0.0.1:${port}`;
  if (!(await waitForGateway(`${url}/docs-json`)))
    return `${url}   (nginx started but does not answer yet; see the api-gateway lines)`;
  return `${url}   (one origin for the app: /v1/auth, /v1/billing, /v1/ads, … ; merged OpenAPI: /docs-json)`;
}

/**
 * `node tools/dev/gateway.mjs --foreground <root> <nginx> <prefix> <values>`: nginx in the foreground, its
 * errors on stderr and its JSON access lines on stdout, stopped when this process is.
 */
async function runForeground([root, nginx, prefix, valuesJson]) {
  // nginx cannot open /dev/stdout when it is a socket (how node connects a child's stdio), so access lines
  // come over syslog on a loopback UDP port and are printed here, one JSON object per line.
  const syslog = dgram.createSocket('udp4');
  syslog.on('message', (message) => {
    const line = message.toString('utf8');
    const json = line.indexOf('{');
    if (json >= 0) process.stdout.write(`${line.slice(json).trimEnd()}\n`);
  });
  await new Promise((resolve) => syslog.bind(0, '127.0.0.1', resolve));
  const conf = writeGatewayConfig(root, prefix, {
    ...JSON.parse(valuesJson),
    GATEWAY_ACCESS_LOG: `syslog:server=127.0.0.1:${syslog.address().port},nohostname,tag=api_gateway realapp_gateway`,
  });
  const child = spawn(nginx, nginxArgs(prefix, conf), { stdio: ['ignore', 'inherit', 'inherit'] });
  let stopping = false;
  const stop = () => {
    stopping = true;
    // SIGQUIT is nginx's graceful shutdown (in-flight requests finish); SIGTERM if that takes too long.
    child.kill('SIGQUIT');
    setTimeout(() => child.kill('SIGTERM'), 5000).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  child.on('exit', (code) => {
    syslog.close();
    process.exit(code ?? (stopping ? 0 : 1));
  });
}

if (process.argv[2] === '--foreground' && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runForeground(process.argv.slice(3));
}
