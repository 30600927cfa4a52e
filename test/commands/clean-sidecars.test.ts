// `moat system clean-sidecars` as a user runs it: the built CLI (`npm test` builds first) against the real test
// engine, asserting exit codes, JSON and what is left on the engine. Races are tested at the library level
// (test/lib/sidecars.test.ts), where they can be injected between scan and removal.
import {existsSync} from 'node:fs'
import {delimiter, join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {FAKE_CONTAINER_DIR, type FakeHandle, useFakeContainer} from '../fixtures/fake-container/state.js'
import {type CliResult, jsonOf, runCli} from '../helpers/cli.js'
import {dockerShim} from '../helpers/docker-shim.js'
import {describeEngine, docker, dockerOk, requireEngine, TEST_IMAGE} from '../helpers/engine.js'
import {
  createRunContainer,
  createSidecar,
  makeMoatHome,
  makeRunDir,
  type MoatHome,
  newRunId,
  removeAllForRun,
} from '../helpers/moat-fixtures.js'
import {protectOtherRuns} from '../lib/runtime/shared-engine.js'

/** --min-age for runs that remove: longer than the CLI takes to start and list (see clean-networks.test.ts). */
const MIN_AGE = '3s'
const MIN_AGE_MS = 3000

async function containerExists(id: string): Promise<boolean> {
  return (await docker(['container', 'inspect', id])).exitCode === 0
}

function itemsByName(result: CliResult): Record<string, Record<string, unknown>> {
  return Object.fromEntries((jsonOf(result).items ?? []).map((item) => [item.name as string, item]))
}

describeEngine('moat system clean-sidecars', () => {
  const runIds: string[] = []
  let home: MoatHome
  let fixturesSince: number

  const tracked = (): string => {
    const runId = newRunId()
    runIds.push(runId)
    return runId
  }

  /** Stops a container as an exit would, its age counted from now. */
  async function exited(id: Promise<string>): Promise<string> {
    const container = await id
    await dockerOk(['stop', '--time', '0', container])
    fixturesSince = Date.now()
    return container
  }

  const cleanSidecars = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runCli(['system', 'clean-sidecars', ...args], {DOCKER_HOST: requireEngine(), MOAT_HOME: home.home, ...env})

  /** A removing run over this suite's fixtures only: they are old enough, every other run counts as alive. */
  async function forced(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    const left = fixturesSince + MIN_AGE_MS + 300 - Date.now()
    if (left > 0) await sleep(left)
    await protectOtherRuns(home.home, runIds)
    return cleanSidecars(['--force', '--json', '--min-age', MIN_AGE, ...args], env)
  }

  beforeEach(async () => {
    home = await makeMoatHome()
    fixturesSince = Date.now()
  })

  afterEach(async () => {
    for (const runId of runIds.splice(0)) await removeAllForRun(runId)
    await home.cleanup()
  })

  it('--force --json removes ended and stopped runs’ sidecars (stopping a running one), keeps the rest', async () => {
    const [ended, endedUp, live, stopped] = [tracked(), tracked(), tracked(), tracked()]
    const endedId = await exited(createSidecar(ended, {role: 'buildkit-sidecar'}))
    const upId = await createSidecar(endedUp, {role: 'buildkit-sidecar'})
    const liveId = await exited(createSidecar(live, {role: 'service', service: 'postgres'}))
    await makeRunDir(home.home, live, {state: 'running'})
    const mainId = await exited(createRunContainer(stopped))
    // eslint-disable-next-line camelcase
    const stoppedDir = await makeRunDir(home.home, stopped, {container_id: mainId, state: 'stopped'})
    const stoppedId = await exited(createSidecar(stopped, {role: 'service', service: 'redis'}))
    // Named like a service of a dead run but unlabelled, and labelled but without a valid run ID: never candidates.
    const unlabelled = `moat-postgres-${tracked()}`
    const invalid = `moat-buildkit-x${ended.slice(5)}`
    const lookAlikes = [
      await dockerOk(['create', '--name', unlabelled, TEST_IMAGE, 'true']),
      await dockerOk(['create', '--name', invalid, '--label', `moat.run-id=${invalid.slice(14)}`, '--label', 'moat.role=buildkit-sidecar', TEST_IMAGE, 'true']),
    ]
    fixturesSince = Date.now()
    try {
      const result = await forced([])
      expect(result.exitCode).toBe(0)
      expect(result.stderr).toBe('')
      expect(jsonOf(result)).toMatchObject({canceled: false, dryRun: false, minAge: MIN_AGE, target: 'sidecars', warnings: []})
      const items = itemsByName(result)
      expect(items[`moat-buildkit-${ended}`]).toMatchObject({
        decision: 'removed',
        id: endedId,
        role: 'buildkit-sidecar',
        run: ended,
        runtime: 'docker',
        state: 'exited',
      })
      expect(items[`moat-buildkit-${endedUp}`]).toMatchObject({decision: 'removed', id: upId, reason: 'stopped and removed', running: 'will stop'})
      expect(items[`moat-postgres-${live}`]).toMatchObject({decision: 'kept', reason: `run ${live} is alive: run dir exists (state running)`})
      expect(items[`moat-redis-${stopped}`]).toMatchObject({decision: 'removed', id: stoppedId, role: 'service', service: 'redis'})
      expect(items[unlabelled]).toBeUndefined()
      expect(items[invalid]).toBeUndefined()

      for (const id of [endedId, upId, stoppedId]) expect(await containerExists(id)).toBe(false)
      for (const id of [liveId, mainId, ...lookAlikes]) expect(await containerExists(id)).toBe(true)
      // The stopped run keeps its run dir and its own container: only the sidecar went.
      expect(existsSync(join(stoppedDir, 'metadata.json'))).toBe(true)
    } finally {
      await dockerOk(['rm', '--force', lookAlikes[1]!])
    }
  })

  it('--dry-run says a running orphan will be stopped, keeps young ones, and removes nothing', async () => {
    const runId = tracked()
    const upId = await createSidecar(runId, {role: 'service', service: 'postgres'})
    const result = cleanSidecars(['--dry-run', '--min-age', '0s'])
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toMatch(
      new RegExp(
        `  moat-postgres-${runId}\\n      role service, service postgres, run ${runId}, runtime docker, state running, running will stop, age \\d+s\\n      would remove: run ${runId} has ended: no run dir, not listed by the moat daemon`,
      ),
    )
    expect(result.stdout).toContain('Dry run: nothing was removed.')

    const young = itemsByName(cleanSidecars(['--dry-run', '--json', '--min-age', '1h']))
    expect(young[`moat-postgres-${runId}`]).toMatchObject({decision: 'kept', reason: expect.stringMatching(/^young: created \d+s ago \(--min-age 1h\)$/)})
    expect(await dockerOk(['container', 'inspect', '--format', '{{.State.Status}}', upId])).toBe('running')
  })

  it('spawns as many docker processes for 20 orphans as for 3, in --dry-run and with --force', async () => {
    const shim = dockerShim()
    const countsFor = async (sidecars: number): Promise<number[]> => {
      for (let i = 0; i < sidecars; i++) await createSidecar(tracked(), {role: 'buildkit-sidecar', running: false})
      fixturesSince = Date.now()
      const left = fixturesSince + MIN_AGE_MS + 300 - Date.now()
      if (left > 0) await sleep(left)
      await protectOtherRuns(home.home, runIds)
      shim.reset()
      const plan = cleanSidecars(['--dry-run', '--json', '--min-age', MIN_AGE], shim.env)
      expect(jsonOf(plan).totals).toMatchObject({orphans: sidecars})
      const dryRun = shim.count()
      shim.reset()
      const result = cleanSidecars(['--force', '--json', '--min-age', MIN_AGE], shim.env)
      expect(jsonOf(result).totals).toMatchObject({failed: 0, removed: sidecars})
      return [dryRun, shim.count()]
    }

    try {
      const few = await countsFor(3)
      const many = await countsFor(20)
      expect(many).toEqual(few)
      // ping, ps, inspect; then inspect and rm.
      expect(few).toEqual([3, 5])
    } finally {
      shim.remove()
    }
  })
})

describe('moat system clean-sidecars --runtime apple, on the SIMULATED `container` CLI (the real one runs only on macOS)', () => {
  let fake: FakeHandle
  let home: MoatHome

  beforeEach(async () => {
    home = await makeMoatHome()
  })

  afterEach(async () => {
    fake.restore()
    await home.cleanup()
  })

  it('removes an ended run’s services (stopping a running one), keeps a live one, never touches `buildkit`', async () => {
    const [ended, live] = [newRunId(), newRunId()]
    await makeRunDir(home.home, live, {runtime: 'apple'})
    const old = '2026-01-02T03:04:05Z'
    fake = useFakeContainer({
      containers: [
        {created: old, id: `moat-postgres-${ended}`, image: 'postgres:16', state: 'stopped'},
        {created: old, id: `moat-redis-${ended}`, image: 'redis:7', state: 'running'},
        {created: old, id: `moat-redis-${live}`, image: 'redis:7', state: 'running'},
        {created: old, id: 'buildkit', image: 'builder', state: 'running'},
        {created: old, id: 'moat-buildkit-x', image: 'x', state: 'stopped'},
      ],
      networks: [],
      schema: 'legacy',
    })
    const result = runCli(['system', 'clean-sidecars', '--runtime', 'apple', '--force', '--json', '--moat-home', home.home], {
      FAKE_CONTAINER_STATE: process.env.FAKE_CONTAINER_STATE,
      PATH: `${FAKE_CONTAINER_DIR}${delimiter}${process.env.PATH}`,
    })
    expect(result.exitCode).toBe(0)
    const items = itemsByName(result)
    expect(items[`moat-postgres-${ended}`]).toMatchObject({decision: 'removed', id: `moat-postgres-${ended}`, runtime: 'apple'})
    expect(items[`moat-redis-${ended}`]).toMatchObject({decision: 'removed', reason: 'stopped and removed'})
    expect(items[`moat-redis-${live}`]).toMatchObject({decision: 'kept'})
    expect(Object.keys(items)).toHaveLength(3)
    expect(fake.read().containers.map((container) => container.id)).toEqual([`moat-redis-${live}`, 'buildkit', 'moat-buildkit-x'])
  })
})
