import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../../../..');
export const MERGED_OPENAPI = join(ROOT, 'openapi/merged.json');

const NGINX_PATHS = [
  '/usr/sbin/nginx',
  '/usr/local/sbin/nginx',
  '/usr/local/bin/nginx',
  '/opt/homebrew/bin/nginx',
];
const PLACEHOLDER = /\$\{(GATEWAY_[A-Z0-9_]+)\}/g;

/** The nginx binary; the e2e suites need it (CI installs the Debian package), so its absence is an error. */
export function nginxBinary(): string {
  for (const path of NGINX_PATHS) if (existsSync(path)) return path;
  if (spawnSync('nginx', ['-v'], { stdio: 'ignore' }).status === 0) return 'nginx';
  throw new Error(
    'nginx is not installed: the API gateway tests need it (Debian/Ubuntu: apt-get install nginx)',
  );
}

/** A port nothing listens on right now (a closed upstream, or one to start something on). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

/** Same rule as tools/dev/gateway.mjs: every ${GATEWAY_*} needs a value. */
export function renderTemplate(template: string, values: Record<string, string>): string {
  return template.replace(PLACEHOLDER, (_, name: string) => {
    const value = values[name];
    if (!value) throw new Error(`gateway template: no value for ${name}`);
    return value;
  });
}

export interface Upstreams {
  /** host:port of each service. */
  authApi: string;
  queueApi: string;
  webhookGateway: string;
}

export interface NginxGateway {
  url: string;
  port: number;
  /** What nginx wrote to stderr (its error log), for failure messages. */
  errors: string[];
  /** The JSON access log lines so far. */
  accessLog(): Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

/**
 * deploy/gateway rendered for these upstreams and run as an unprivileged foreground nginx, as `npm start`
 * runs it, on `port` (a free one by default). Resolves once /docs-json answers.
 */
export async function startNginxGateway(
  upstreams: Upstreams,
  options: { port?: number; proxyTimeout?: string; openapiFile?: string } = {},
): Promise<NginxGateway> {
  const nginx = nginxBinary();
  const port = options.port ?? (await freePort());
  const prefix = mkdtempSync(join(tmpdir(), 'realapp-gateway-'));
  mkdirSync(prefix, { recursive: true });
  const values: Record<string, string> = {
    GATEWAY_PREFIX: prefix,
    GATEWAY_LISTEN: `127.0.0.1:${port}`,
    GATEWAY_AUTH_API: upstreams.authApi,
    GATEWAY_QUEUE_API: upstreams.queueApi,
    GATEWAY_WEBHOOK_GATEWAY: upstreams.webhookGateway,
    GATEWAY_OPENAPI_FILE: options.openapiFile ?? MERGED_OPENAPI,
    GATEWAY_PROXY_TIMEOUT: options.proxyTimeout ?? '30s',
    GATEWAY_ACCESS_LOG: `${join(prefix, 'access.log')} realapp_gateway`,
  };
  const template = (name: string): string => readFileSync(join(ROOT, 'deploy/gateway', name), 'utf8');
  writeFileSync(join(prefix, 'gateway.conf'), renderTemplate(template('gateway.conf.template'), values));
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, renderTemplate(template('nginx.conf.template'), values));

  const child: ChildProcess = spawn(nginx, ['-p', prefix, '-c', conf, '-e', 'stderr', '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const errors: string[] = [];
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => errors.push(...chunk.split('\n').filter(Boolean)));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const url = `http://127.0.0.1:${port}`;

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGQUIT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(prefix, { recursive: true, force: true });
  };

  const deadline = Date.now() + 10000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`nginx exited (${child.exitCode}) at start:\n${errors.join('\n')}`);
    }
    try {
      const response = await fetch(`${url}/docs-json`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`nginx did not answer on ${url}:\n${errors.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  return {
    url,
    port,
    errors,
    accessLog: () => {
      const file = join(prefix, 'access.log');
      if (!existsSync(file)) return [];
      return readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    stop,
  };
}
