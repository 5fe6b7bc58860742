import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: './wrangler.toml' },
      // Test-only values for the worker's secrets (production sets them with `wrangler secret put`).
      miniflare: { bindings: { KEY_ENCRYPTION_SECRET: 'test-only key encryption secret, not for deployment' } },
    }),
  ],
  test: {
    name: 'workerd',
    include: ['workers/**/*.test.ts', '**/*.workerd.test.ts'],
    exclude: ['**/node_modules/**'],
    testTimeout: 60_000,
  },
});
