import 'reflect-metadata';
import { buildArtifacts, staleArtifacts, writeArtifacts } from './artifacts';

/**
 * `npm run openapi`: regenerates openapi/*.json and the typed client from the services' code.
 * `npm run openapi:check` (`--check`): writes nothing, exits 1 naming every stale file.
 */
async function main(): Promise<number> {
  const check = process.argv.includes('--check');
  const files = await buildArtifacts();
  if (check) {
    const stale = staleArtifacts(files);
    if (stale.length === 0) {
      console.log(`openapi: ${files.length} generated files are up to date`);
      return 0;
    }
    console.error(
      `openapi: out of date with the services' code:\n${stale.map((path) => `  - ${path}`).join('\n')}`,
    );
    console.error('regenerate with `npm run openapi` and commit the result');
    return 1;
  }
  const changed = writeArtifacts(files);
  console.log(
    changed.length
      ? `openapi: wrote ${changed.join(', ')}`
      : `openapi: ${files.length} generated files were already up to date`,
  );
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
