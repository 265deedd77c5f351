import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * The client runs in React Native / Expo: no Node built-ins, no Buffer, no process, and no package but
 * openapi-fetch (and its type helpers). Specs may use Node; the shipped sources may not.
 */
function shippedSources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return shippedSources(path);
    return path.endsWith('.ts') && !path.endsWith('.spec.ts') ? [path] : [];
  });
}

const ALLOWED_PACKAGES = new Set(['openapi-fetch', 'openapi-typescript-helpers']);

describe('@realapp/client portability', () => {
  const files = shippedSources(__dirname);

  it('has sources to check', () => {
    expect(files.map((file) => relative(__dirname, file))).toEqual(
      expect.arrayContaining(['index.ts', 'realapp-client.ts']),
    );
  });

  it.each(files.map((file) => [relative(__dirname, file), file]))(
    '%s uses no Node-only API',
    (_name, file) => {
      const source = readFileSync(file, 'utf8');
      const imports = [...source.matchAll(/(?:from|import|require\()\s*['"]([^'"]+)['"]/g)].map(
        (match) => match[1],
      );
      const packages = imports.filter((specifier) => !specifier.startsWith('.'));
      expect(packages.filter((specifier) => !ALLOWED_PACKAGES.has(specifier))).toEqual([]);
      expect(source).not.toMatch(/\bBuffer\b/);
      expect(source).not.toMatch(/\bprocess\./);
      expect(source).not.toMatch(/\b__dirname\b|\brequire\(/);
    },
  );
});
