import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { generateClientFiles, GeneratedFile } from './client-codegen';
import { PUBLIC_SERVICES, PublicService } from './gateway-routes';
import { mergeDocuments } from './merge';
import { buildServiceDocument, SERVICES } from './service-documents';

/** The workspace root, whether this runs from source (jest) or compiled into dist/. */
function findRepositoryRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no nx.json above ${start}`);
  }
}

export const REPOSITORY_ROOT = findRepositoryRoot(__dirname);

/**
 * Committed JSON is formatted the way `prettier --check` wants it. Prettier runs as its CLI: its API loads
 * ES modules dynamically, which jest (where the up-to-date check runs) cannot.
 */
function formatJson(value: unknown, path: string): string {
  const result = spawnSync(
    process.execPath,
    [require.resolve('prettier/bin/prettier.cjs'), '--stdin-filepath', path],
    {
      cwd: REPOSITORY_ROOT,
      input: JSON.stringify(value),
      encoding: 'utf8',
    },
  );
  if (result.status !== 0)
    throw new Error(`prettier failed on ${path}: ${result.stderr || result.error?.message}`);
  return result.stdout;
}

/**
 * Everything generated from the services' code: `openapi/<service>.json` for each service,
 * `openapi/merged.json` (the public services, as the gateway routes them) and the typed client's generated
 * sources. `npm run openapi` writes them; the check compares them with what is committed.
 */
export async function buildArtifacts(): Promise<GeneratedFile[]> {
  const files: GeneratedFile[] = [];
  const documents = new Map<string, Awaited<ReturnType<typeof buildServiceDocument>>>();
  for (const service of SERVICES) {
    const document = await buildServiceDocument(service);
    documents.set(service, document);
    const path = `openapi/${service}.json`;
    files.push({ path, content: formatJson(document, path) });
  }
  const merged = mergeDocuments(
    PUBLIC_SERVICES.map((service: PublicService) => {
      const document = documents.get(service);
      if (!document) throw new Error(`no document for ${service}`);
      return { service, document };
    }),
  );
  files.push({ path: 'openapi/merged.json', content: formatJson(merged, 'openapi/merged.json') });
  files.push(...(await generateClientFiles(merged)));
  return files;
}

export function writeArtifacts(files: GeneratedFile[], root = REPOSITORY_ROOT): string[] {
  const changed: string[] = [];
  for (const file of files) {
    const target = join(root, file.path);
    if (existsSync(target) && readFileSync(target, 'utf8') === file.content) continue;
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, file.content);
    changed.push(file.path);
  }
  return changed;
}

/** The generated files whose committed content differs from what the code generates now. */
export function staleArtifacts(files: GeneratedFile[], root = REPOSITORY_ROOT): string[] {
  return files
    .filter((file) => {
      const target = join(root, file.path);
      return !existsSync(target) || readFileSync(target, 'utf8') !== file.content;
    })
    .map((file) => file.path);
}
