const { availableParallelism } = require('node:os');

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  testTimeout: 120000,
  // Jest's default (cores − 1) runs one worker on a 2-core machine, which left a core idle most of the
  // run (load average 1.3; 1349 s on 2 cores). Two workers at least; the suites that saturate the CPU on
  // purpose (test/fault) hold their guarantees under the extra load.
  maxWorkers: Math.max(2, availableParallelism() - 1),
};
