/**
 * What every project's jest config shares (each one names this file as its `preset`): the specs
 * are the `.spec.ts` files under the project's src/, compiled by SWC for Node without a type check
 * (tsc checks types). A project's jest.config.js adds its name and its timeout.
 */
module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' } }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
};
