import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/*
 * Another app of the monorepo as a real process. Apps cannot import each other (module boundaries),
 * so an end-to-end suite compiles the sources it needs with SWC into a private directory (never
 * dist/, which other runs may be using) and starts the service's own main.js.
 */

export const ROOT = resolve(__dirname, '../../../..');

export interface ServiceProcess {
  url: string;
  child: ChildProcess;
  /** Lines the service printed (stdout and stderr), for failure messages. */
  output: string[];
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Preloaded into every child: it exits when the test process that started it is gone, so a jest
 * run that is killed (timeout, Ctrl-C) leaves no service behind.
 */
const WATCH_PARENT = `const parent = process.ppid;
setInterval(() => { try { process.kill(parent, 0); } catch { process.exit(1); } }, 1000).unref();
`;

function watchParentScript(): string {
  const path = join(tmpdir(), 'realapp-watch-parent.js');
  writeFileSync(path, WATCH_PARENT);
  return path;
}

/** Compiles `sources` (paths under the repository root) to a fresh directory; returns it. */
export function compileForTest(sources: string[]): string {
  const outDir = mkdtempSync(join(tmpdir(), 'realapp-build-'));
  const result = spawnSync(
    join(ROOT, 'node_modules/.bin/swc'),
    [...sources, '-d', outDir, '--config-file', '.swcrc', '--extensions', '.ts', '--quiet'],
    { cwd: ROOT, encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`swc failed: ${result.stderr || result.stdout}`);
  return outDir;
}

export function removeBuild(outDir: string): void {
  rmSync(outDir, { recursive: true, force: true });
}

/** Starts `node <main>` and resolves with the URL its runService line announces. */
export function startServiceProcess(main: string, env: Record<string, string>, timeoutMs = 30000): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--require', watchParentScript(), main], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', NODE_PATH: join(ROOT, 'node_modules'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The test process may exit without waiting for the child (it dies with it, see WATCH_PARENT).
  child.unref();
  const output: string[] = [];
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return new Promise((resolveStart, rejectStart) => {
    const timer = setTimeout(() => {
      void stop('SIGKILL');
      rejectStart(new Error(`${main} did not start within ${timeoutMs} ms:\n${output.join('\n')}`));
    }, timeoutMs);
    const onLine = (line: string): void => {
      output.push(line);
      if (output.length > 500) output.shift();
      if (!line.includes('listening on')) return;
      try {
        const parsed = JSON.parse(line) as { url?: string };
        if (parsed.url) {
          clearTimeout(timer);
          resolveStart({ url: parsed.url.replace('[::1]', '127.0.0.1'), child, output, stop });
        }
      } catch {
        // not the announcement line
      }
    };
    for (const stream of [child.stdout, child.stderr]) {
      let buffer = '';
      stream.setEncoding('utf8');
      (stream as NodeJS.ReadableStream & { unref?: () => void }).unref?.();
      stream.on('data', (chunk: string) => {
        buffer += chunk;
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        lines.forEach(onLine);
      });
    }
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      rejectStart(new Error(`${main} exited (${signal ?? code}) before listening:\n${output.join('\n')}`));
    });
  });
}
