import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**', '.git/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Tests spawn bin/attested-pack, which runs the compiled JavaScript: build it first.
    globalSetup: ['./test/compile-setup.ts'],
    // The pinned AWS SDK supports Node 20; its notice about future releases is in the README.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
