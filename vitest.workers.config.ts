import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [cloudflareTest({ wrangler: { configPath: './wrangler.toml' } })],
  test: {
    name: 'workerd',
    include: ['workers/**/*.test.ts', '**/*.workerd.test.ts'],
    exclude: ['**/node_modules/**'],
    testTimeout: 60_000,
  },
});
