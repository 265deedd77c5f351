import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './repo-root';

/**
 * Compiles the services with SWC into a private directory (never `dist/`, which `npm start` or
 * another run may be using) and answers it. About two seconds.
 */
export function buildPrivately(): string {
  const root = repoRoot();
  const outDir = mkdtempSync(join(tmpdir(), 'realapp-chaos-build-'));
  const result = spawnSync(
    join(root, 'node_modules/.bin/swc'),
    ['apps', 'libs', 'tools', '-d', outDir, '--config-file', '.swcrc', '--extensions', '.ts', '--quiet'],
    { cwd: root, encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`swc failed: ${result.stderr || result.stdout}`);
  return outDir;
}

export function removeBuild(outDir: string): void {
  rmSync(outDir, { recursive: true, force: true });
}
