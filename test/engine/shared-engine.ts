// For suites that remove moat resources from the test engine, which every engine suite shares while they run in
// parallel: a removal here must only ever reach this suite's own fixtures.
import {mkdir} from 'node:fs/promises'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {beforeEach, expect} from 'vitest'

import {RUN_ID} from '../../src/lib/moat/run-id.js'
import {type PipelineHooks, type Report, runPipeline, type Target} from '../../src/lib/pipeline/pipeline.js'
import {type CliResult, jsonOf, runCli} from '../helpers/cli.js'
import {dockerShim} from '../helpers/docker-shim.js'
import {dockerOk, requireEngine} from '../helpers/engine.js'
import {fixtureChanged, lastFixtureChange} from '../helpers/fixture-clock.js'
import {trackRunIds, useMoatHome} from '../helpers/moat-fixtures.js'

/**
 * --min-age for runs that remove: networks other suites create after protectOtherRuns() are younger than this when
 * the scan lists them, so they are kept as young. Fixtures must be at least this old first (waitUntilOld).
 */
export const MIN_AGE_MS = 1000

/**
 * --min-age for CLI runs that remove: longer than the CLI takes to start and list, so networks other suites create
 * while it starts are still young when it judges them.
 */
export const CLI_MIN_AGE = '6s'
export const CLI_MIN_AGE_MS = 6000

/**
 * Gives every moat run on the engine that is not one of `mine` a run dir in this MOAT_HOME: alive, so its networks,
 * containers and volumes are kept. Runs are found by network, container and volume name and the moat.run-id label.
 */
export async function protectOtherRuns(moatHome: string, mine: readonly string[]): Promise<void> {
  const networks = await dockerOk(['network', 'ls', '--filter', 'label=moat.managed=true', '--format', '{{.Name}}'])
  const containers = await dockerOk(['ps', '--all', '--format', '{{.Names}} {{.Label "moat.run-id"}}'])
  const volumes = await dockerOk(['volume', 'ls', '--filter', 'label=moat=workspace', '--format', '{{.Name}}'])
  const runIds = new Set(`${networks}\n${containers}\n${volumes}`.match(/run_[0-9a-f]{12}/g))
  for (const runId of runIds) {
    if (RUN_ID.test(runId) && !mine.includes(runId)) await mkdir(join(moatHome, 'runs', runId), {recursive: true})
  }
}

/**
 * On top of an age: a pass reads ages on the engine's clock, which it takes from one /info reply placed at the middle
 * of that request's round trip, so the estimate may be off by half the round trip the pass saw. That is some 10 ms at
 * load 9 on this machine (curl to the test engine's /info); this covers a pass kept off the CPU for most of a second.
 */
export const AGE_MARGIN_MS = 500

/** Waits until fixtures made `since` (ms since the epoch) are older than minAgeMs on the engine's clock. */
export async function waitUntilOld(since: number, minAgeMs = MIN_AGE_MS): Promise<void> {
  const left = since + minAgeMs + AGE_MARGIN_MS - Date.now()
  if (left > 0) await sleep(left)
}

export interface CleanOptions {
  /** Runs after the fixtures are old enough, right before the pass reads its clock and scans. */
  beforeScan?: () => Promise<void>
  dryRun?: boolean
  hooks?: PipelineHooks
  /** MIN_AGE_MS unless given; with MIN_AGE_MS the run first waits until the fixtures are that old. */
  minAgeMs?: number
}

/** The item of that name in a one-target report, if there is one. */
export function itemNamed(report: Report, name: string) {
  return report.targets[0]!.items.find((item) => item.name === name)
}

/** One engine suite's fixtures, made afresh for each test. */
export interface EngineFixtures {
  /** A forced run of the pipeline with `target` over this suite's fixtures only; its notes go to `warnings`. */
  clean(target: Target, options?: CleanOptions): Promise<Report>
  /** Awaits a container just made and stops it at once, as an exit would: its age (FinishedAt) counts from now. */
  exited(container: Promise<string>): Promise<string>
  /**
   * Awaits a fixture and restarts the age clock: ages count from the last fixture made. docker() and makeRunDir()
   * restart it themselves (test/helpers/fixture-clock.ts); this is for fixtures made any other way.
   */
  made<T>(fixture: Promise<T>): Promise<T>
  /** This test's MOAT_HOME, with an empty runs/. */
  readonly moatHome: string
  /** protectOtherRuns() for this test's MOAT_HOME and run IDs. */
  protectOtherRuns(): Promise<void>
  /** A new run ID whose containers and network are removed from the engine after the test. */
  tracked(): string
  /** waitUntilOld() from the last fixture made in this test (created, started, stopped, attached), or its start. */
  waitUntilOld(minAgeMs?: number): Promise<void>
  /** What this test's clean() runs noted. */
  readonly warnings: readonly string[]
}

async function made<T>(fixture: Promise<T>): Promise<T> {
  const value = await fixture
  fixtureChanged()
  return value
}

/** The fixtures of an engine suite that removes them: call inside describeEngine (it adds beforeEach and afterEach). */
export function useEngineFixtures(): EngineFixtures {
  // In this order, so that after each test its runs are removed from the engine before its MOAT_HOME goes.
  const home = useMoatHome()
  const runIds = trackRunIds()
  let since: number
  let warnings: string[]

  beforeEach(() => {
    since = Date.now()
    warnings = []
  })

  const fixtures: EngineFixtures = {
    async clean(target, options = {}) {
      const minAgeMs = options.minAgeMs ?? MIN_AGE_MS
      if (minAgeMs === MIN_AGE_MS) await fixtures.waitUntilOld()
      await fixtures.protectOtherRuns()
      // Last, so that nothing slow (protectOtherRuns lists the engine) comes between it and the pass's clock.
      await options.beforeScan?.()
      return runPipeline([target], {
        confirm: async () => true,
        dryRun: options.dryRun ?? false,
        hooks: options.hooks,
        minAgeMs,
        warn: (message) => warnings.push(message),
      })
    },
    async exited(container) {
      const id = await container
      await made(dockerOk(['stop', '--time', '0', id]))
      return id
    },
    made,
    get moatHome() {
      return home.home
    },
    protectOtherRuns: () => protectOtherRuns(home.home, runIds.ids),
    tracked: () => runIds.next(),
    waitUntilOld: (minAgeMs) => waitUntilOld(Math.max(since, lastFixtureChange()), minAgeMs),
    get warnings() {
      return warnings
    },
  }
  return fixtures
}

/** `moat system <name>` as a user runs it, against the test engine and over an engine suite's fixtures. */
export interface SystemCommand {
  /**
   * For each count, makes that many new orphans with makeOrphan and counts the docker processes the command starts
   * over them: [in --dry-run, with --force]. Checks that the first run saw them all and the second removed them all.
   */
  dockerProcesses(counts: number[], makeOrphan: (runId: string) => Promise<unknown>, env?: NodeJS.ProcessEnv): Promise<number[][]>
  /** A removing run over this suite's fixtures only: they are old enough, every other run counts as alive. */
  forced(args: string[], env?: NodeJS.ProcessEnv): Promise<CliResult>
  /** The command with these arguments, with this test's MOAT_HOME. */
  run(args: string[], env?: NodeJS.ProcessEnv): CliResult
}

export function systemCommand(name: string, fixtures: EngineFixtures): SystemCommand {
  const run = (args: string[], env: NodeJS.ProcessEnv = {}): CliResult =>
    runCli(['system', name, ...args], {DOCKER_HOST: requireEngine(), MOAT_HOME: fixtures.moatHome, ...env})

  return {
    async dockerProcesses(counts, makeOrphan, env = {}) {
      const shim = dockerShim()
      try {
        const perCount: number[][] = []
        for (const orphans of counts) {
          for (let i = 0; i < orphans; i++) await fixtures.made(makeOrphan(fixtures.tracked()))
          await fixtures.waitUntilOld(CLI_MIN_AGE_MS)
          await fixtures.protectOtherRuns()
          shim.reset()
          const plan = run(['--dry-run', '--json', '--min-age', CLI_MIN_AGE], {...env, ...shim.env})
          expect(jsonOf(plan).totals).toMatchObject({orphans})
          const dryRun = shim.count()
          shim.reset()
          const result = run(['--force', '--json', '--min-age', CLI_MIN_AGE], {...env, ...shim.env})
          expect(jsonOf(result).totals).toMatchObject({failed: 0, removed: orphans})
          perCount.push([dryRun, shim.count()])
        }

        return perCount
      } finally {
        shim.remove()
      }
    },
    async forced(args, env = {}) {
      await fixtures.waitUntilOld(CLI_MIN_AGE_MS)
      await fixtures.protectOtherRuns()
      return run(['--force', '--json', '--min-age', CLI_MIN_AGE, ...args], env)
    },
    run,
  }
}
