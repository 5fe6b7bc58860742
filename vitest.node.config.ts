import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'node',
    include: ['origin/**/*.test.ts', 'wasm/src/**/*.test.ts', 'test/**/*.test.ts', 'bin/**/*.test.ts'],
    exclude: ['**/*.workerd.test.ts', '**/node_modules/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
