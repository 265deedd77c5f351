// Two jest projects: fast pure unit tests, and integration tests that talk to the real
// PostgreSQL, RabbitMQ, Redis and in-process HTTP services (see libs/platform/testing).
const { compilerOptions } = require('./tsconfig.base.json');

const moduleNameMapper = Object.fromEntries(
  Object.entries(compilerOptions.paths).map(([alias, [target]]) => [`^${alias}$`, `<rootDir>/${target}`]),
);

const transform = { '^.+\\.(t|j|mj|cj)s$': '<rootDir>/tools/jest/swc-esm-transformer.js' };

const common = {
  rootDir: __dirname,
  testEnvironment: 'node',
  moduleNameMapper,
  transform,
  // Everything goes through the transformer; it leaves CommonJS dependencies as they are.
  transformIgnorePatterns: [],
  setupFiles: ['reflect-metadata'],
  modulePathIgnorePatterns: ['<rootDir>/dist/'],
};

/** @type {import('jest').Config} */
module.exports = {
  // Per-project testTimeout is not honoured by jest 30 for hooks; integration suites start whole
  // services in beforeAll, so the generous limit is set here, for every project.
  testTimeout: 90000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/{apps,libs,tools}/**/*.spec.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/{apps,libs,tools}/**/*.int-spec.ts'],
      globalSetup: '<rootDir>/tools/migrations/src/testing/global-setup.ts',
      testTimeout: 90000,
      slowTestThreshold: 30,
    },
    {
      // Tests that stop and restart the shared broker or database: run alone, after the rest.
      ...common,
      displayName: 'fault',
      testMatch: ['<rootDir>/{apps,libs,tools}/**/*.fault-spec.ts'],
      globalSetup: '<rootDir>/tools/migrations/src/testing/global-setup.ts',
      testTimeout: 180000,
    },
  ],
};
