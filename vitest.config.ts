import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** The renderer's '@common/…' imports (renderer/tsconfig.json "paths"), for unit tests of its pure modules. */
const common = { find: /^@common\/(.+)\.js$/, replacement: `${fileURLToPath(new URL('./common/', import.meta.url))}$1.ts` };

/**
 * Four tiers. Integration and e2e tests start real components (MariaDB,
 * Chromium) themselves; packaging tests build the .deb and .run and install
 * them on a clean Debian system in a container. None skips: a missing
 * component fails with the command that installs it.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['tests/unit/**/*.test.ts'],
          environment: 'node',
        },
        resolve: { alias: [common] },
      },
      {
        test: {
          name: 'integration',
          include: ['tests/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 180_000,
          pool: 'forks',
          setupFiles: ['tests/support/temp-dir-cleanup.ts'],
        },
      },
      {
        test: {
          name: 'packaging',
          include: ['tests/packaging/**/*.test.ts'],
          environment: 'node',
          testTimeout: 300_000,
          hookTimeout: 900_000,
          pool: 'forks',
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['tests/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 180_000,
          pool: 'forks',
          setupFiles: ['tests/support/temp-dir-cleanup.ts'],
        },
      },
    ],
  },
});
