import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port';

const run = promisify(execFile);
const LONG = { timeout: 120_000 };

/**
 * The PostgreSQL and RabbitMQ a run uses, and the levers to restart them.
 *
 * `private` (the default) creates a PostgreSQL cluster and a RabbitMQ node of the run's own on
 * free loopback ports (about 10 s) and removes them afterwards, so restarting them disturbs
 * nothing else on the machine: other test suites and `npm start` keep their broker and database.
 * `shared` uses the machine's own (cluster `main`, node `rabbit@localhost`) and restarts those:
 * only when nothing else runs.
 */
export interface Infrastructure {
  kind: 'private' | 'shared';
  /** postgres:// URL of the admin database (`postgres`) of the cluster. */
  adminDatabaseUrl: string;
  amqpUrl: string;
  restartPostgres(): Promise<void>;
  stopRabbitMqApp(): Promise<void>;
  startRabbitMqApp(): Promise<void>;
  close(): Promise<void>;
}

const postgresVersion = (): string => readdirSync('/etc/postgresql')[0];

export function sharedInfrastructure(databaseUrl: string, amqpUrl: string): Infrastructure {
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  return {
    kind: 'shared',
    adminDatabaseUrl: admin.toString(),
    amqpUrl,
    restartPostgres: async () => {
      await run(
        'pg_ctlcluster',
        ['--skip-systemctl-redirect', postgresVersion(), 'main', 'restart', '-m', 'fast'],
        LONG,
      );
    },
    stopRabbitMqApp: async () => {
      await run('rabbitmqctl', ['stop_app'], LONG);
    },
    startRabbitMqApp: async () => {
      await run('rabbitmqctl', ['start_app'], LONG);
    },
    close: () => Promise.resolve(),
  };
}

export async function startPrivateInfrastructure(id: string): Promise<Infrastructure> {
  const version = postgresVersion();
  const cluster = `chaos_${id}`;
  const pgPort = await freePort();
  await run(
    'pg_createcluster',
    [version, cluster, '--port', String(pgPort), '--', '--auth-local=trust', '--auth-host=trust'],
    LONG,
  );
  const dropCluster = (): Promise<unknown> =>
    run('pg_dropcluster', ['--stop', version, cluster], LONG).catch(() => undefined);
  try {
    await run('pg_ctlcluster', ['--skip-systemctl-redirect', version, cluster, 'start'], LONG);
  } catch (error) {
    await dropCluster();
    throw error;
  }

  const node = `chaos${id}@localhost`;
  const [amqpPort, distPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'realapp-chaos-rabbitmq-'));
  writeFileSync(join(dir, 'rabbitmq.conf'), `listeners.tcp.local = 127.0.0.1:${amqpPort}\n`);
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  // The server drops to the rabbitmq user when started as root.
  try {
    chownRecursive(dir, 'rabbitmq');
  } catch {
    // not root: the files are already ours
  }
  const rabbitEnv = {
    ...process.env,
    RABBITMQ_NODENAME: node,
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_PID_FILE: join(dir, 'pid'),
    RABBITMQ_DIST_PORT: String(distPort),
  };
  const ctl = (...args: string[]): Promise<unknown> => run('rabbitmqctl', ['-n', node, ...args], LONG);
  const stopNode = async (): Promise<void> => {
    await ctl('stop').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await run('rabbitmq-server', ['-detached'], { ...LONG, env: rabbitEnv });
    // `wait` follows the pid file until the node has booted (await_startup fails before it registers).
    await ctl('wait', join(dir, 'pid'), '--timeout', '90');
  } catch (error) {
    await stopNode();
    await dropCluster();
    throw error;
  }

  return {
    kind: 'private',
    adminDatabaseUrl: `postgres://postgres@127.0.0.1:${pgPort}/postgres`,
    amqpUrl: `amqp://guest:guest@127.0.0.1:${amqpPort}`,
    restartPostgres: async () => {
      await run(
        'pg_ctlcluster',
        ['--skip-systemctl-redirect', version, cluster, 'restart', '-m', 'fast'],
        LONG,
      );
    },
    stopRabbitMqApp: async () => {
      await ctl('stop_app');
    },
    startRabbitMqApp: async () => {
      await ctl('start_app');
    },
    close: async () => {
      await stopNode();
      await dropCluster();
    },
  };
}

function chownRecursive(path: string, user: string): void {
  const { uid, gid } = userIds(user);
  const walk = (p: string): void => {
    chownSync(p, uid, gid);
    for (const entry of readdirSync(p, { withFileTypes: true })) {
      const child = join(p, entry.name);
      if (entry.isDirectory()) walk(child);
      else chownSync(child, uid, gid);
    }
  };
  walk(path);
}

function userIds(user: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`no user ${user}`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}
