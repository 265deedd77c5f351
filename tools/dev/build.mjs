// Compiles every project with SWC into dist/ (about a second): the services, the tools and the
// migrations all run from there. Nx's per-project `build` target does the same per project.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
rmSync(join(root, 'dist'), { recursive: true, force: true });
const result = spawnSync(
  join(root, 'node_modules/.bin/swc'),
  ['apps', 'libs', 'tools', '-d', 'dist', '--config-file', '.swcrc', '--extensions', '.ts', '--quiet'],
  { cwd: root, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
