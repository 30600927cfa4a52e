import {defineConfig} from 'vitest/config'

// Tests by tier, one project each (`npm run test:unit` etc. select one by folder; `npm test` runs them all):
// - unit:   pure, in memory: neither root nor an engine, seconds;
// - fs:     real directories, mounts and processes, and the fake Apple CLI;
// - engine: the real Docker engine (test/engine), the built binary against it (test/cli), and the injected faults of
//   test/reliability.
// Only the last one has the engine's globalSetup, and vitest runs a project's globalSetup only when one of its files
// is queued: the unit and fs tiers never start a Docker engine.
export default defineConfig({
  test: {
    // oclif writes through process.stdout; without this vitest swallows it (oclif/test#655).
    disableConsoleIntercept: true,
    // Never the machine's own engines: the tests name theirs (DOCKER_HOST, run dirs) and the engine set looks no
    // further; the suites that test the looking turn it back on in a private mount namespace (test/engine/engines.test.ts).
    env: {MOAT_SYSTEM_ENGINE_DISCOVERY: 'off'},
    // One file at a time: the engine suites share one engine, and a forced clean in one file would judge another
    // file's fixtures (whose run dirs live in that file's MOAT_HOME) as dead runs.
    fileParallelism: false,
    hookTimeout: 120_000,
    // Child processes, not threads: the deletion walk uses process.chdir, which worker threads cannot call.
    pool: 'forks',
    projects: [
      // One tier after another, fastest first (groupOrder; 0 would put a project in vitest's catch-all group), and one
      // file at a time within each (fileParallelism above): no file runs beside another.
      {extends: true, test: {include: ['test/unit/**/*.test.ts'], name: 'unit', sequence: {groupOrder: 1}}},
      {extends: true, test: {include: ['test/fs/**/*.test.ts'], name: 'fs', sequence: {groupOrder: 2}}},
      {
        extends: true,
        test: {
          globalSetup: ['test/engine/global-setup.ts'],
          // The CLI suites run against the same engine as the engine suites: one engine per run, not two.
          include: ['test/engine/**/*.test.ts', 'test/cli/**/*.test.ts', 'test/reliability/**/*.test.ts'],
          name: 'engine',
          sequence: {groupOrder: 3},
        },
      },
    ],
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    testTimeout: 120_000,
  },
})
