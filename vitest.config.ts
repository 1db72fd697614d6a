import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['libs/**/*.test.ts', 'services/**/*.test.ts', 'test/**/*.test.ts'],
    // One temporary directory per run, removed at its end.
    globalSetup: ['test/global-tmp.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests start servers and processes; two cores, so keep parallelism modest.
    pool: 'forks',
    maxWorkers: 2,
  },
});
