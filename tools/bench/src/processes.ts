import { getPriority, setPriority } from 'node:os';
import { ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export interface Service {
  name: string;
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** How much the bench raises its own priority, when it may (as root). */
const LOAD_GENERATOR_NICE = -10;

/**
 * Runs the bench itself, the load generator, ahead of everything it measures (reports read the
 * niceness it got with `getPriority()`: 0 when not permitted). On a machine whose two cores the services, PostgreSQL and
 * RabbitMQ keep busy, a load generator at the same priority waits for a core like them, and every
 * millisecond it waits before reading an answer counts as the server's latency. Real clients run on
 * machines of their own; this is the nearest this one machine comes to that. The services it starts
 * run at the usual priority (startService), and the generator's own CPU still comes out of the same
 * two cores.
 */
export function raiseOwnPriority(): void {
  try {
    setPriority(LOAD_GENERATOR_NICE);
  } catch {
    // Not permitted (not root): measured at the usual priority, and the report says so.
  }
}

/** How a report says at which priority the load generator ran. */
export function loadGeneratorPriorityText(nice: number): string {
  return nice < 0
    ? `The load generator (the bench process) ran at nice ${nice}, the services at 0 (tools/bench/src/processes.ts says why).`
    : 'The load generator ran at the same priority as the services (raising it was not permitted).';
}

/**
 * Starts `node <main>` with its output in `<logDir>/<name>.log` (the benchmark's own terminal
 * stays readable, and a service that dies leaves its reason behind), then waits until `readyPath`
 * answers 200.
 */
export async function startService(options: {
  name: string;
  root: string;
  main: string;
  env: Record<string, string>;
  port: number;
  logDir: string;
  readyPath: string;
  timeoutMs?: number;
  /** e.g. --cpu-prof, to see where a service spends its time under load. */
  nodeArgs?: string[];
}): Promise<Service> {
  mkdirSync(options.logDir, { recursive: true });
  const log = openSync(join(options.logDir, `${options.name}.log`), 'w');
  const args = [...(options.nodeArgs ?? []), join(options.root, options.main)];
  // Whatever priority the load generator runs at (raiseOwnPriority), the system under test runs at
  // the usual one, as PostgreSQL and RabbitMQ do: `nice -n` adds to the niceness it inherits.
  const ownNice = getPriority();
  const [command, argv] =
    ownNice === 0 ? [process.execPath, args] : ['nice', ['-n', String(-ownNice), process.execPath, ...args]];
  const child = spawn(command, argv, {
    cwd: options.root,
    env: { PATH: process.env.PATH ?? '', ...options.env, PORT: String(options.port) },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${options.port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + (options.timeoutMs ?? 60000);
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(
        `${options.name} exited with ${child.exitCode}; see ${options.logDir}/${options.name}.log`,
      );
    try {
      const response = await fetch(`${url}${options.readyPath}`, { signal: AbortSignal.timeout(2000) });
      if (response.status === 200) return { name: options.name, url, child, stop };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `${options.name} was not ready within ${options.timeoutMs ?? 60000} ms; see ${options.logDir}/${options.name}.log`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
