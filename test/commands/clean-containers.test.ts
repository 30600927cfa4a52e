// `moat system clean-containers` as a user runs it: the built CLI (`npm test` builds first) against the real test
// engine, asserting exit codes, JSON and what is left on the engine. Races are tested at the library level
// (test/lib/run-containers.test.ts), where they can be injected between scan and removal.
import {delimiter} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {FAKE_CONTAINER_DIR, type FakeHandle, useFakeContainer} from '../fixtures/fake-container/state.js'
import {type CliResult, jsonOf, runCli} from '../helpers/cli.js'
import {dockerShim} from '../helpers/docker-shim.js'
import {describeEngine, docker, dockerOk, requireEngine, TEST_IMAGE} from '../helpers/engine.js'
import {createRunContainer, makeMoatHome, makeRunDir, type MoatHome, newRunId, removeAllForRun} from '../helpers/moat-fixtures.js'
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

describeEngine('moat system clean-containers', () => {
  const runIds: string[] = []
  let home: MoatHome
  let fixturesSince: number

  const tracked = (): string => {
    const runId = newRunId()
    runIds.push(runId)
    return runId
  }

  /** An exited run container, its age counted from now. */
  async function exited(runId: string): Promise<string> {
    const id = await createRunContainer(runId)
    await dockerOk(['stop', '--time', '0', id])
    fixturesSince = Date.now()
    return id
  }

  const cleanContainers = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runCli(['system', 'clean-containers', ...args], {DOCKER_HOST: requireEngine(), MOAT_HOME: home.home, ...env})

  /** A removing run over this suite's fixtures only: they are old enough, every other run counts as alive. */
  async function forced(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    const left = fixturesSince + MIN_AGE_MS + 300 - Date.now()
    if (left > 0) await sleep(left)
    await protectOtherRuns(home.home, runIds)
    return cleanContainers(['--force', '--json', '--min-age', MIN_AGE, ...args], env)
  }

  beforeEach(async () => {
    home = await makeMoatHome()
    fixturesSince = Date.now()
  })

  afterEach(async () => {
    for (const runId of runIds.splice(0)) await removeAllForRun(runId)
    await home.cleanup()
  })

  it('--force --json removes ended runs’ containers, keeps live and running ones, and says why', async () => {
    const [ended, neverStarted, live, up] = [tracked(), tracked(), tracked(), tracked()]
    const endedId = await exited(ended)
    const createdId = await createRunContainer(neverStarted, {running: false})
    const liveId = await exited(live)
    await makeRunDir(home.home, live, {state: 'stopped'})
    const upId = await createRunContainer(up)
    const lookAlike = await dockerOk(['create', '--name', `run_XYZ${ended.slice(4)}`, TEST_IMAGE, 'true'])
    fixturesSince = Date.now()
    try {
      const result = await forced([])
      expect(result.exitCode).toBe(0)
      expect(result.stderr).toBe('')
      expect(jsonOf(result)).toMatchObject({canceled: false, dryRun: false, minAge: MIN_AGE, target: 'containers', warnings: []})
      const items = itemsByName(result)
      expect(items[ended]).toMatchObject({decision: 'removed', id: endedId, reason: 'removed', run: ended, runtime: 'docker', state: 'exited'})
      expect(items[neverStarted]).toMatchObject({decision: 'removed', id: createdId, state: 'created'})
      expect(items[live]).toMatchObject({decision: 'kept', reason: `run ${live} is alive: run dir exists (state stopped)`})
      expect(items[up]).toMatchObject({decision: 'kept', reason: 'running: pass --include-running', state: 'running'})
      expect(items[`run_XYZ${ended.slice(4)}`]).toBeUndefined()
      expect(await containerExists(endedId)).toBe(false)
      expect(await containerExists(createdId)).toBe(false)
      for (const id of [liveId, upId, lookAlike]) expect(await containerExists(id)).toBe(true)

      const again = await forced(['--include-running'])
      expect(again.exitCode).toBe(0)
      expect(itemsByName(again)[up]).toMatchObject({decision: 'removed', id: upId, reason: 'stopped and removed'})
      expect(await containerExists(upId)).toBe(false)
      expect(await containerExists(liveId)).toBe(true)
    } finally {
      await dockerOk(['rm', '--force', lookAlike])
    }
  })

  it('--dry-run prints the plan, keeps young ones, and removes nothing', async () => {
    const [ended, up] = [tracked(), tracked()]
    const endedId = await exited(ended)
    const upId = await createRunContainer(up)
    const result = cleanContainers(['--dry-run', '--min-age', '0s', '--include-running'])
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toContain(`would remove: run ${ended} has ended: no run dir, not listed by the moat daemon`)
    expect(result.stdout).toMatch(new RegExp(`  ${up}\\n      run ${up}, runtime docker, state running, running will stop, age \\d+s\\n      would remove`))
    expect(result.stdout).toContain('Dry run: nothing was removed.')

    const young = jsonOf(cleanContainers(['--dry-run', '--json', '--min-age', '1h']))
    const item = young.items!.find((entry) => entry.name === ended)
    expect(item).toMatchObject({decision: 'kept', reason: expect.stringMatching(/^young: exited \d+s ago \(--min-age 1h\)$/)})
    for (const id of [endedId, upId]) expect(await containerExists(id)).toBe(true)
  })

  it('engine down: exit 1 with one clear line, and nothing is removed', async () => {
    const runId = tracked()
    const id = await exited(runId)
    const result = cleanContainers(['--force', '--min-age', '0s', '--runtime', 'docker'], {DOCKER_HOST: 'unix:///nonexistent/moat-test/docker.sock'})
    expect(result.exitCode).toBe(1)
    expect(result.stdout).toBe('')
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^Error: --runtime docker: Docker engine unreachable: /)])
    expect(await containerExists(id)).toBe(true)
  })

  it('spawns as many docker processes for 20 orphans as for 3, in --dry-run and with --force', async () => {
    const shim = dockerShim()
    const countsFor = async (containers: number): Promise<number[]> => {
      for (let i = 0; i < containers; i++) await createRunContainer(tracked(), {running: false})
      fixturesSince = Date.now()
      const left = fixturesSince + MIN_AGE_MS + 300 - Date.now()
      if (left > 0) await sleep(left)
      await protectOtherRuns(home.home, runIds)
      shim.reset()
      const plan = cleanContainers(['--dry-run', '--json', '--min-age', MIN_AGE], shim.env)
      expect(jsonOf(plan).totals).toMatchObject({orphans: containers})
      const dryRun = shim.count()
      shim.reset()
      const result = cleanContainers(['--force', '--json', '--min-age', MIN_AGE], shim.env)
      expect(jsonOf(result).totals).toMatchObject({failed: 0, removed: containers})
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

describe('moat system clean-containers --runtime apple, on the SIMULATED `container` CLI (the real one runs only on macOS)', () => {
  let fake: FakeHandle
  let home: MoatHome

  beforeEach(async () => {
    home = await makeMoatHome()
  })

  afterEach(async () => {
    fake.restore()
    await home.cleanup()
  })

  it('removes the container of an ended run, keeps a live and a running one, ignores look-alikes', async () => {
    const [ended, live, up] = [newRunId(), newRunId(), newRunId()]
    await makeRunDir(home.home, live, {runtime: 'apple'})
    const old = '2026-01-02T03:04:05Z'
    fake = useFakeContainer({
      containers: [
        {created: old, id: ended, image: 'moat/run:1', state: 'stopped'},
        {created: old, id: live, image: 'moat/run:1', state: 'stopped'},
        {created: old, id: up, image: 'moat/run:1', state: 'running'},
        {created: old, id: 'run_XYZ', image: 'x', state: 'stopped'},
      ],
      networks: [],
      schema: '1.0.0',
    })
    const result = runCli(['system', 'clean-containers', '--runtime', 'apple', '--force', '--json', '--moat-home', home.home], {
      FAKE_CONTAINER_STATE: process.env.FAKE_CONTAINER_STATE,
      PATH: `${FAKE_CONTAINER_DIR}${delimiter}${process.env.PATH}`,
    })
    expect(result.exitCode).toBe(0)
    const items = itemsByName(result)
    expect(items[ended]).toMatchObject({decision: 'removed', id: ended, runtime: 'apple'})
    expect(items[live]).toMatchObject({decision: 'kept'})
    expect(items[up]).toMatchObject({decision: 'kept', reason: 'running: pass --include-running'})
    expect(Object.keys(items)).toHaveLength(3)
    expect(fake.read().containers.map((container) => container.id)).toEqual([live, up, 'run_XYZ'])
  })
})
