// `moat system clean-containers` as a user runs it: the built CLI (`npm test` builds first) against the real test
// engine, asserting exit codes, JSON and what is left on the engine. Races are tested at the library level
// (test/lib/run-containers.test.ts), where they can be injected between scan and removal.
import {afterEach, describe, expect, it} from 'vitest'

import {CLI_MIN_AGE, systemCommand, useEngineFixtures} from '../engine/shared-engine.js'
import {type FakeHandle, useFakeContainer} from '../fixtures/fake-container/state.js'
import {itemsByName, jsonOf, runCli} from '../helpers/cli.js'
import {containerExists, describeEngine, dockerOk, TEST_IMAGE} from '../helpers/engine.js'
import {createRunContainer, makeRunDir, newRunId, useMoatHome} from '../helpers/moat-fixtures.js'

describeEngine('moat system clean-containers', () => {
  const fixtures = useEngineFixtures()
  const {exited, made, tracked} = fixtures
  const {dockerProcesses, forced, run: cleanContainers} = systemCommand('clean-containers', fixtures)

  it('--force --json removes ended runs’ containers, keeps live and running ones, and says why', async () => {
    const [ended, neverStarted, live, up] = [tracked(), tracked(), tracked(), tracked()]
    const endedId = await exited(createRunContainer(ended))
    const createdId = await createRunContainer(neverStarted, {running: false})
    const liveId = await exited(createRunContainer(live))
    await makeRunDir(fixtures.moatHome, live, {state: 'stopped'})
    const upId = await createRunContainer(up)
    const lookAlike = await made(dockerOk(['create', '--name', `run_XYZ${ended.slice(4)}`, TEST_IMAGE, 'true']))
    try {
      const result = await forced([])
      expect(result.exitCode).toBe(0)
      expect(result.stderr).toBe('')
      expect(jsonOf(result)).toMatchObject({canceled: false, dryRun: false, minAge: CLI_MIN_AGE, target: 'containers', warnings: []})
      const items = itemsByName(result)
      expect(items[ended]).toMatchObject({decision: 'removed', id: endedId, outcome: 'removed', run: ended, runtime: 'docker', state: 'exited'})
      expect(items[neverStarted]).toMatchObject({decision: 'removed', id: createdId, state: 'created'})
      expect(items[live]).toMatchObject({decision: 'kept', reason: `run ${live} is alive: run dir exists (state stopped)`})
      expect(items[up]).toMatchObject({decision: 'kept', reason: 'running: pass --include-running', state: 'running'})
      expect(items[`run_XYZ${ended.slice(4)}`]).toBeUndefined()
      expect(await containerExists(endedId)).toBe(false)
      expect(await containerExists(createdId)).toBe(false)
      for (const id of [liveId, upId, lookAlike]) expect(await containerExists(id)).toBe(true)

      const again = await forced(['--include-running'])
      expect(again.exitCode).toBe(0)
      expect(itemsByName(again)[up]).toMatchObject({decision: 'removed', id: upId, outcome: 'stopped and removed'})
      expect(await containerExists(upId)).toBe(false)
      expect(await containerExists(liveId)).toBe(true)
    } finally {
      await dockerOk(['rm', '--force', lookAlike])
    }
  })

  it('--dry-run prints the plan, keeps young ones, and removes nothing', async () => {
    const [ended, up] = [tracked(), tracked()]
    const endedId = await exited(createRunContainer(ended))
    const upId = await createRunContainer(up)
    const result = cleanContainers(['--dry-run', '--min-age', '0s', '--include-running'])
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toMatch(new RegExp(`^${ended} +(\\d+s) +would remove +run ended; exited \\1 ago$`, 'm'))
    expect(result.stdout).toMatch(new RegExp(`^${up} +(\\d+s) +would stop, remove +run ended; created \\1 ago; running: will stop$`, 'm'))
    expect(result.stdout).toContain('Dry run: nothing was removed.')

    const young = jsonOf(cleanContainers(['--dry-run', '--json', '--min-age', '1h']))
    const item = young.items!.find((entry) => entry.name === ended)
    expect(item).toMatchObject({decision: 'kept', reason: expect.stringMatching(/^young: exited \d+s ago \(--min-age 1h\)$/)})
    for (const id of [endedId, upId]) expect(await containerExists(id)).toBe(true)
  })

  it('engine down: exit 1 with one clear line, and nothing is removed', async () => {
    const runId = tracked()
    const id = await exited(createRunContainer(runId))
    const result = cleanContainers(['--force', '--min-age', '0s', '--runtime', 'docker'], {DOCKER_HOST: 'unix:///nonexistent/moat-test/docker.sock'})
    expect(result.exitCode).toBe(1)
    expect(result.stdout).toBe('')
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^Error: --runtime docker: Docker engine unreachable: /)])
    expect(await containerExists(id)).toBe(true)
  })

  it('spawns no docker process through the Engine API, for 20 orphans as for 3, in --dry-run and with --force', async () => {
    const [few, many] = await dockerProcesses([3, 20], (runId) => createRunContainer(runId, {running: false}))
    expect(many).toEqual(few)
    expect(few).toEqual([0, 0])
  })

  it('through the docker CLI (MOAT_DOCKER_CLIENT=cli), spawns as many docker processes for 20 orphans as for 3', async () => {
    const [few, many] = await dockerProcesses([3, 20], (runId) => createRunContainer(runId, {running: false}), {MOAT_DOCKER_CLIENT: 'cli'})
    expect(many).toEqual(few)
    // ping, ps, inspect; then inspect and rm.
    expect(few).toEqual([3, 5])
  })
})

describe('moat system clean-containers --runtime apple, on the SIMULATED `container` CLI (the real one runs only on macOS)', () => {
  const home = useMoatHome()
  let fake: FakeHandle

  afterEach(() => {
    fake.restore()
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
    const result = runCli(['system', 'clean-containers', '--runtime', 'apple', '--force', '--json', '--moat-home', home.home], fake.env)
    expect(result.exitCode).toBe(0)
    const items = itemsByName(result)
    expect(items[ended]).toMatchObject({decision: 'removed', id: ended, runtime: 'apple'})
    expect(items[live]).toMatchObject({decision: 'kept'})
    expect(items[up]).toMatchObject({decision: 'kept', reason: 'running: pass --include-running'})
    expect(Object.keys(items)).toHaveLength(3)
    expect(fake.read().containers.map((container) => container.id)).toEqual([live, up, 'run_XYZ'])
  })
})
