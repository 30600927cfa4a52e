// `moat system clean-sidecars` as a user runs it: the built CLI (`npm test` builds first) against the real test
// engine, asserting exit codes, JSON and what is left on the engine. Races are tested at the library level
// (test/lib/sidecars.test.ts), where they can be injected between scan and removal.
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {CLI_MIN_AGE, systemCommand, useEngineFixtures} from '../engine/shared-engine.js'
import {type FakeHandle, useFakeContainer} from '../fixtures/fake-container/state.js'
import {itemsByName, jsonOf, runCli} from '../helpers/cli.js'
import {containerExists, containerState, describeEngine, dockerOk, TEST_IMAGE} from '../helpers/engine.js'
import {createRunContainer, createSidecar, makeRunDir, newRunId, useMoatHome} from '../helpers/moat-fixtures.js'

describeEngine('moat system clean-sidecars', () => {
  const fixtures = useEngineFixtures()
  const {exited, made, tracked} = fixtures
  const {dockerProcesses, forced, run: cleanSidecars} = systemCommand('clean-sidecars', fixtures)

  it('--force --json removes ended and stopped runs’ sidecars (stopping a running one), keeps the rest', async () => {
    const [ended, endedUp, live, stopped] = [tracked(), tracked(), tracked(), tracked()]
    const endedId = await exited(createSidecar(ended, {role: 'buildkit-sidecar'}))
    const upId = await createSidecar(endedUp, {role: 'buildkit-sidecar'})
    const liveId = await exited(createSidecar(live, {role: 'service', service: 'postgres'}))
    await makeRunDir(fixtures.moatHome, live, {state: 'running'})
    const mainId = await exited(createRunContainer(stopped))
    // eslint-disable-next-line camelcase
    const stoppedDir = await makeRunDir(fixtures.moatHome, stopped, {container_id: mainId, state: 'stopped'})
    const stoppedId = await exited(createSidecar(stopped, {role: 'service', service: 'redis'}))
    // Named like a service of a dead run but unlabelled, and labelled but without a valid run ID: never candidates.
    const unlabelled = `moat-postgres-${tracked()}`
    const invalid = `moat-buildkit-x${ended.slice(5)}`
    const lookAlikes = [
      await dockerOk(['create', '--name', unlabelled, TEST_IMAGE, 'true']),
      await made(dockerOk(['create', '--name', invalid, '--label', `moat.run-id=${invalid.slice(14)}`, '--label', 'moat.role=buildkit-sidecar', TEST_IMAGE, 'true'])),
    ]
    try {
      const result = await forced([])
      expect(result.exitCode).toBe(0)
      expect(result.stderr).toBe('')
      expect(jsonOf(result)).toMatchObject({canceled: false, dryRun: false, minAge: CLI_MIN_AGE, target: 'sidecars', warnings: []})
      const items = itemsByName(result)
      expect(items[`moat-buildkit-${ended}`]).toMatchObject({
        decision: 'removed',
        id: endedId,
        role: 'buildkit-sidecar',
        run: ended,
        runtime: 'docker',
        state: 'exited',
      })
      expect(items[`moat-buildkit-${endedUp}`]).toMatchObject({decision: 'removed', id: upId, outcome: 'stopped and removed', running: 'will stop'})
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
      new RegExp(`^moat-postgres-${runId} +(\\d+s) +would stop, remove +run ended; created \\1 ago; running: will stop$`, 'm'),
    )
    expect(cleanSidecars(['--dry-run', '--min-age', '0s', '--verbose']).stdout).toMatch(
      new RegExp(
        `^moat-postgres-${runId} .*\\n    role service, service postgres, run ${runId}, runtime docker, state running, running will stop\\n` +
          `    run: no run dir ${join(fixtures.moatHome, 'runs', runId)}; no moat daemon running\\n` +
          String.raw`    age: created \d+s ago by the engine's clock \(--min-age 0s\)\n` +
          '    state: running: stopped first, then removed$',
        'm',
      ),
    )
    expect(result.stdout).toContain('Dry run: nothing was removed.')

    const young = itemsByName(cleanSidecars(['--dry-run', '--json', '--min-age', '1h']))
    expect(young[`moat-postgres-${runId}`]).toMatchObject({decision: 'kept', reason: expect.stringMatching(/^young: created \d+s ago \(--min-age 1h\)$/)})
    expect(await containerState(upId)).toBe('running')
  })

  it('spawns no docker process through the Engine API, for 20 orphans as for 3, in --dry-run and with --force', async () => {
    const [few, many] = await dockerProcesses([3, 20], (runId) => createSidecar(runId, {role: 'buildkit-sidecar', running: false}))
    expect(many).toEqual(few)
    expect(few).toEqual([0, 0])
  })

  it('through the docker CLI (MOAT_DOCKER_CLIENT=cli), spawns as many docker processes for 20 orphans as for 3', async () => {
    const [few, many] = await dockerProcesses([3, 20], (runId) => createSidecar(runId, {role: 'buildkit-sidecar', running: false}), {MOAT_DOCKER_CLIENT: 'cli'})
    expect(many).toEqual(few)
    // ping, ps, inspect; then inspect and rm.
    expect(few).toEqual([3, 5])
  })
})

describe('moat system clean-sidecars --runtime apple, on the SIMULATED `container` CLI (the real one runs only on macOS)', () => {
  const home = useMoatHome()
  let fake: FakeHandle

  afterEach(() => {
    fake.restore()
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
    const result = runCli(['system', 'clean-sidecars', '--runtime', 'apple', '--force', '--json', '--moat-home', home.home], fake.env)
    expect(result.exitCode).toBe(0)
    const items = itemsByName(result)
    expect(items[`moat-postgres-${ended}`]).toMatchObject({decision: 'removed', id: `moat-postgres-${ended}`, runtime: 'apple'})
    expect(items[`moat-redis-${ended}`]).toMatchObject({decision: 'removed', outcome: 'stopped and removed'})
    expect(items[`moat-redis-${live}`]).toMatchObject({decision: 'kept'})
    expect(Object.keys(items)).toHaveLength(3)
    expect(fake.read().containers.map((container) => container.id)).toEqual([`moat-redis-${live}`, 'buildkit', 'moat-buildkit-x'])
  })
})
