import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    // oclif writes through process.stdout; without this vitest swallows it (oclif/test#655).
    disableConsoleIntercept: true,
    // One file at a time: the engine suites share one engine, and a forced clean in one file would judge another
    // file's fixtures (whose run dirs live in that file's MOAT_HOME) as dead runs.
    fileParallelism: false,
    globalSetup: ['test/engine/global-setup.ts'],
    hookTimeout: 120_000,
    include: ['test/**/*.test.ts'],
    // Child processes, not threads: the deletion walk uses process.chdir, which worker threads cannot call.
    pool: 'forks',
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    testTimeout: 120_000,
  },
})
