export * from './expect-eventually';
export * from './test-database';
export * from './test-env';
export * from './test-sandbox';
export * from './test-jwks';
