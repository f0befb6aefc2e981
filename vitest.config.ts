import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // s3rver and dynalite on 127.0.0.1, free ports, started and stopped by the suite itself.
    globalSetup: ['./test/setup/aws-servers.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // DuckDB sessions are heavy; two workers match the 2-core CI machine.
    pool: 'forks',
    maxWorkers: 2,
  },
});
