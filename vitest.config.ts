import { defineConfig } from 'vitest/config';

// Two projects: Node (origin, wasm loader, cross-part tests) and workerd (the edge, and the wasm module inside it).
export default defineConfig({
  test: {
    projects: ['./vitest.node.config.ts', './vitest.workers.config.ts'],
  },
});
