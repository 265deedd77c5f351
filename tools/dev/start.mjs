// `npm start`: the whole platform on one machine, with demo data, in one command.
// Checks PostgreSQL, RabbitMQ and Redis (starting them with Docker Compose when a Docker engine is
// there), builds, migrates, starts the provider sandbox and the four services on their SPEC
// ports with the SPEC §13 development values, seeds demo data, and prints the URLs once every
// readiness check passes. Ctrl-C stops everything.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { devEnv, SANDBOX_URL } from './dev-env.mjs';
import { startGateway } from './gateway.mjs';
import { seedDemo } from './seed-demo.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const started = Date.now();
const env = devEnv();
const COLORS = ['\x1b[36m', '\x1b[35m', '\x1b[33m', '\x1b[32m', '\x1b[34m', '\x1b[31m'];
const RESET = '\x1b[0m';
const children = [];
let stopping = false;

const log = (msg) => console.log(`\x1b[1m[start]\x1b[0m ${msg}`);

function reachable(url, fallbackPort) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port || fallbackPort), timeout: 1500 });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

async function ensureInfrastructure() {
  const needs = [
    ['postgres', env.DATABASE_URL, 5432, 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'],
    ['rabbitmq', env.AMQP_URL, 5672, 'rabbitmq-server -detached'],
    ['redis', env.REDIS_URL, 6379, 'redis-server --daemonize yes --port 6379 --save ""'],
  ];
  let missing = [];
  for (const [name, url, port, hint] of needs) if (!(await reachable(url, port))) missing.push([name, url, hint]);
  if (!missing.length) return;
  const docker = spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;
  if (docker) {
    log(`starting ${missing.map((m) => m[0]).join(', ')} with docker compose…`);
    spawnSync('docker', ['compose', 'up', '-d', ...missing.map((m) => m[0])], { cwd: root, stdio: 'inherit' });
    for (let i = 0; i < 60 && missing.length; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const still = [];
      for (const m of missing) if (!(await reachable(m[1], 0))) still.push(m);
      missing = still;
    }
    if (!missing.length) return;
  }
  console.error('\nThese services are not answering:');
  for (const [name, url, hint] of missing) console.error(`  - ${name} at ${url}\n      start it with: ${hint}`);
  console.error('(or run `docker compose up -d postgres rabbitmq redis` where a Docker engine is available)\n');
  process.exit(1);
}

function run(name, args, extraEnv, color) {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = `${color}${name.padEnd(16)}${RESET}│ `;
  const pipe = (stream, out) => {
    let buffer = '';
    stream.on('data', (chunk) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop();
      for (const line of lines) out.write(prefix + pretty(line) + '\n');
    });
  };
  pipe(child.stdout, process.stdout);
  pipe(child.stderr, process.stderr);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`${prefix}exited (${signal ?? code}); stopping everything`);
      shutdown(1);
    }
  });
  children.push(child);
  return child;
}

/** JSON log lines stay JSON in files; on a terminal they read as `level msg {context}`. */
function pretty(line) {
  if (!line.startsWith('{')) return line;
  try {
    const { level, msg, correlationId, ...rest } = JSON.parse(line);
    delete rest.time;
    delete rest.service;
    const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
    return `${String(level).padEnd(5)} ${msg ?? ''}${correlationId ? ` (${correlationId.slice(0, 8)})` : ''}${extra.length > 300 ? extra.slice(0, 300) + '…' : extra}`;
  } catch {
    return line;
  }
}

async function waitReady(name, url, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !stopping) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${name} not ready at ${url}`);
}

function shutdown(code = 0) {
  if (stopping) return;
  stopping = true;
  log('stopping…');
  for (const child of children) child.kill('SIGTERM');
  const force = setTimeout(() => {
    for (const child of children) child.kill('SIGKILL');
    process.exit(code);
  }, 8000);
  force.unref();
  Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once('exit', r))))).then(() => process.exit(code));
}

process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));

await ensureInfrastructure();
log('building (swc)…');
if (spawnSync(process.execPath, [join(root, 'tools/dev/build.mjs')], { cwd: root, stdio: 'inherit' }).status !== 0) process.exit(1);
log('migrating…');
if (spawnSync(process.execPath, [join(root, 'dist/tools/migrations/src/run.js')], { cwd: root, env: { ...process.env, ...env }, stdio: 'inherit' }).status !== 0) process.exit(1);

const services = [
  ['provider-sandbox', 'dist/tools/provider-sandbox/src/main.js', {}, `${SANDBOX_URL}/_sandbox/health`],
  ['auth-api', 'dist/apps/auth-api/src/main.js', { PORT: '3001' }, 'http://127.0.0.1:3001/health/readiness'],
  ['queue-api', 'dist/apps/queue-api/src/main.js', { PORT: '3002' }, 'http://127.0.0.1:3002/health/readiness'],
  ['webhook-gateway', 'dist/apps/webhook-gateway/src/main.js', { PORT: '3003' }, 'http://127.0.0.1:3003/health/readiness'],
  ['codex-worker', 'dist/apps/codex-worker/src/main.js', { PORT: '3004', WORKER_ID: 'codex-worker-local' }, 'http://127.0.0.1:3004/health/readiness'],
];
services.forEach(([name, script, extraEnv], i) => {
  if (existsSync(join(root, script))) run(name, [`--enable-source-maps`, script], extraEnv, COLORS[i % COLORS.length]);
});
try {
  await Promise.all(services.map(([name, , , url]) => waitReady(name, url)));
} catch (error) {
  console.error(String(error));
  shutdown(1);
}
const gateway = await startGateway(root, (name, args) => run(name, args, {}, COLORS[5]));
try {
  const demo = await seedDemo();
  log(`demo data: ${demo}`);
} catch (error) {
  log(`demo data not seeded: ${error instanceof Error ? error.message : String(error)}`);
}
const seconds = ((Date.now() - started) / 1000).toFixed(1);
log(`RealApp is ready in ${seconds}s:
    auth-api         http://127.0.0.1:3001   (docs: /docs)
    queue-api        http://127.0.0.1:3002   (docs: /docs, status page: /status)
    webhook-gateway  http://127.0.0.1:3003   (docs: /docs)
    codex-worker     http://127.0.0.1:3004   (health, docs, metrics)
    provider sandbox ${SANDBOX_URL}   (request log: /_sandbox/requests)
    API gateway      ${gateway}
  Ctrl-C stops everything.`);
