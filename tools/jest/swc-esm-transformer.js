// Jest transformer: our TypeScript through SWC, and node_modules files only when they are ES
// modules (NestJS 12, jose, parts of fastify's tree ship ESM only; jest on Node 20 cannot
// require() ESM). CommonJS dependencies pass through untouched.
const { createTransformer } = require('@swc/jest');

const swcOptions = {
  swcrc: false,
  sourceMaps: 'inline',
  module: { type: 'commonjs', ignoreDynamic: false },
  jsc: {
    target: 'es2022',
    parser: { syntax: 'typescript', decorators: true, dynamicImport: true },
    transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
    keepClassNames: true,
  },
};

const swc = createTransformer(swcOptions);
const swcJs = createTransformer({ ...swcOptions, sourceMaps: false, jsc: { ...swcOptions.jsc, parser: { syntax: 'ecmascript', dynamicImport: true } } });
const ESM_SYNTAX = /^\s*(import\s*[\w{*'"]|export\s+[\w{*])/m;
const IMPORT_META_URL = /import\.meta\.url/g;
// `const require = createRequire(import.meta.url)` shadows the module's own require once the
// file is CommonJS; the real one does the same job.
const LOCAL_REQUIRE = /^\s*const require = createRequire\([^)]*\);?\s*$/m;

module.exports = {
  canInstrument: false,
  getCacheKey(source, path, options) {
    return swc.getCacheKey(source, path, options) + (path.includes('/node_modules/') ? ':nm3' : '');
  },
  process(source, path, options) {
    if (!path.includes('/node_modules/')) return swc.process(source, path, options);
    if (!ESM_SYNTAX.test(source)) return { code: source };
    // CommonJS has no import.meta; __filename gives createRequire() the same anchor.
    const patched = source.replace(LOCAL_REQUIRE, '').replace(IMPORT_META_URL, 'require("url").pathToFileURL(__filename).href');
    return swcJs.process(patched, path, options);
  },
};
