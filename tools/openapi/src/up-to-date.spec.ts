import { buildArtifacts, staleArtifacts } from './artifacts';

/**
 * The CI check of the typed client: openapi/*.json and libs/client/src/generated/* must be what the
 * services' code generates now. When this fails, run `npm run openapi` and commit the result.
 */
describe('generated OpenAPI documents and typed client', () => {
  it('are up to date with the services’ code (fix: npm run openapi)', async () => {
    const files = await buildArtifacts();
    expect(files.map((file) => file.path)).toEqual(
      expect.arrayContaining([
        'openapi/merged.json',
        'openapi/auth-api.json',
        'libs/client/src/generated/api.ts',
      ]),
    );
    expect(staleArtifacts(files)).toEqual([]);
  }, 60000);
});
