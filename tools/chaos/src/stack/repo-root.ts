import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The repository root, found from this file whether it runs from the sources (jest), from
 * `dist/` (`npm run chaos`) or from a private build directory under /tmp (then via the cwd).
 */
export function repoRoot(): string {
  for (const start of [__dirname, process.cwd()]) {
    let dir = start;
    for (;;) {
      const manifest = join(dir, 'package.json');
      if (
        existsSync(manifest) &&
        (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'realapp-platform'
      )
        return dir;
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  throw new Error('cannot find the repository root (package.json of realapp-platform)');
}
