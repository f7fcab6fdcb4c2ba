import { defineConfig } from 'vitest/config';

// Two projects: unit tests need nothing running; integration tests (*.int.test.ts) talk to the
// real local services that `make up` starts, and fail (never skip) when one is missing. The
// Makefile runs integration files one after another (--no-file-parallelism): they share the
// services, and on two cores parallel load would only distort their timing.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          globalSetup: ['jobs/test/build.ts'],
          include: ['jobs/**/*.test.ts'],
          exclude: ['jobs/**/*.int.test.ts', 'node_modules/**', 'dist/**'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          globalSetup: ['jobs/test/build.ts', 'jobs/test/test-topics.ts'],
          include: ['jobs/**/*.int.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
