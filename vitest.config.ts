import { defineConfig } from 'vitest/config';

// Unit tests live beside the code; cross-process tests in test/.
export default defineConfig({
  test: {
    include: ['{lib,backend,proxy,master,bench,scripts}/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default'],
  },
});
