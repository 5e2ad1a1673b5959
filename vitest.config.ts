import { defineConfig } from 'vitest/config';

// Tests run against the TypeScript sources of sibling packages (the
// "@coxswain/source" export condition), so no build is needed before a unit run.
// No "module" condition: it selects bundler-only ESM builds (OpenTelemetry's
// build/esm has extensionless imports) that Node itself cannot load.
const conditions = ['@coxswain/source', 'node', 'development|production'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: [
            'packages/*/test/**/*.test.ts',
            'chaos/test/**/*.test.ts',
            'bench/test/**/*.test.ts',
          ],
          testTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          // Real nats-server and dockerd processes: one file at a time, as temporal's packages/test does.
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
