import { ChildProcess, spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from './repo-root';

const KEEP_LINES = 400;

/**
 * One service of the platform as a real process (`node <build>/apps/<app>/src/main.js`) on a port
 * fixed for its lifetime, so it can be killed and started again at the same address.
 */
export class ServiceProcess {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  /** Recent output lines (stdout and stderr), for failure messages. */
  readonly output: string[] = [];
  starts = 0;

  constructor(
    readonly name: string,
    private readonly main: string,
    private readonly env: Record<string, string>,
    readonly port: number,
    private readonly logFile?: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process and resolves once it announces that it listens. */
  start(timeoutMs = 60_000): Promise<void> {
    if (this.running) return Promise.resolve();
    const root = repoRoot();
    const child = spawn(process.execPath, ['--enable-source-maps', this.main], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        NODE_PATH: join(root, 'node_modules'),
        ...this.env,
        PORT: String(this.port),
        HOST: '127.0.0.1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.starts += 1;
    this.exited = new Promise<void>((done) => child.once('exit', () => done()));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${this.name} did not start within ${timeoutMs} ms:\n${this.tail()}`));
      }, timeoutMs);
      const onLine = (line: string): void => {
        this.record(line);
        if (line.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      };
      for (const stream of [child.stdout, child.stderr]) {
        let buffer = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => {
          buffer += chunk;
          const lines = buffer.split('\n');
          buffer = lines.pop() ?? '';
          lines.forEach(onLine);
        });
      }
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${signal ?? code}) before listening:\n${this.tail()}`));
      });
    });
  }

  /** Sends `signal` and waits for the process to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.running) this.child?.kill(signal);
    await this.exited;
  }

  /** SIGTERM (a graceful shutdown), SIGKILL if it takes longer than `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    await this.kill('SIGTERM');
    clearTimeout(timer);
  }

  /** Resident set size of the process now, from /proc (Linux). */
  async rssBytes(): Promise<number | null> {
    const pid = this.pid;
    if (!pid) return null;
    try {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
      return kb ? Number(kb) * 1024 : null;
    } catch {
      return null;
    }
  }

  tail(lines = 40): string {
    return this.output.slice(-lines).join('\n');
  }

  private record(line: string): void {
    this.output.push(line);
    if (this.output.length > KEEP_LINES) this.output.shift();
    if (this.logFile) appendFileSync(this.logFile, `${line}\n`);
  }
}
