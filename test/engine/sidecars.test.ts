// SidecarTarget through the shared pipeline, against the real test engine (and, at the end, the SIMULATED Apple
// `container` CLI, since the real one runs only on macOS).
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {type PipelineHooks, runPipeline} from '../../src/lib/pipeline/pipeline.js'
import {AppleCli} from '../../src/lib/runtime/apple.js'
import {SidecarTarget} from '../../src/lib/targets/sidecars.js'
import {type FakeHandle, useFakeContainer} from '../fixtures/fake-container/state.js'
import {type FakeDaemon, startFakeDaemon} from '../fixtures/fake-daemon.js'
import {containerExists, containerState, describeEngine, dockerOk, TEST_IMAGE, useEngineInProcessEnv} from '../helpers/engine.js'
import {createRunContainer, createSidecar, makeRunDir, useMoatHome} from '../helpers/moat-fixtures.js'
import {type CleanOptions, itemNamed, useEngineFixtures} from './shared-engine.js'

describeEngine('SidecarTarget on the real engine', () => {
  useEngineInProcessEnv()
  const fixtures = useEngineFixtures()
  const {exited, made, tracked} = fixtures
  let daemon: FakeDaemon | undefined

  /** A forced run of the pipeline over this suite's fixtures only (see shared-engine.ts). */
  const clean = (options: CleanOptions = {}) =>
    fixtures.clean(new SidecarTarget({daemonTimeoutMs: 500, moatHome: fixtures.moatHome, runtime: 'docker'}), options)

  afterEach(async () => {
    await daemon?.close()
    daemon = undefined
  })

  it('removes the BuildKit sidecar and the service container of a run that has ended, by ID', async () => {
    const runId = tracked()
    const buildkit = await exited(createSidecar(runId, {role: 'buildkit-sidecar'}))
    const postgres = await made(createSidecar(runId, {role: 'service', running: false, service: 'postgres'}))
    const report = await clean()
    expect(itemNamed(report, `moat-buildkit-${runId}`)).toMatchObject({
      decision: 'removed',
      details: {role: 'buildkit-sidecar', run: runId, runtime: 'docker', state: 'exited'},
      id: buildkit,
      outcome: 'removed',
    })
    expect(itemNamed(report, `moat-postgres-${runId}`)).toMatchObject({
      decision: 'removed',
      details: {role: 'service', run: runId, service: 'postgres', state: 'created'},
      id: postgres,
    })
    expect(await containerExists(buildkit)).toBe(false)
    expect(await containerExists(postgres)).toBe(false)
    expect(fixtures.warnings).toEqual([])
  })

  it('keeps the sidecars of live runs: run dir running, run dir without metadata.json, listed by the daemon', async () => {
    const [running, bare, listed] = [tracked(), tracked(), tracked()]
    const ids = [
      await exited(createSidecar(running, {role: 'buildkit-sidecar'})),
      await exited(createSidecar(bare, {role: 'service', service: 'redis'})),
      await exited(createSidecar(listed, {role: 'service', service: 'mysql'})),
    ]
    await makeRunDir(fixtures.moatHome, running, {state: 'running'})
    await makeRunDir(fixtures.moatHome, bare, null)
    daemon = await startFakeDaemon(fixtures.moatHome, [listed])
    const report = await clean()
    expect(itemNamed(report, `moat-buildkit-${running}`)).toMatchObject({
      decision: 'kept',
      reason: `run ${running} is alive: run dir exists (state running)`,
    })
    expect(itemNamed(report, `moat-redis-${bare}`)).toMatchObject({
      decision: 'kept',
      reason: expect.stringMatching(new RegExp(`^run ${bare} is alive: run dir exists without metadata\\.json`)),
    })
    expect(itemNamed(report, `moat-mysql-${listed}`)).toMatchObject({
      decision: 'kept',
      reason: `run ${listed} is alive: the moat daemon lists it`,
    })
    for (const id of ids) expect(await containerExists(id)).toBe(true)
  })

  it('removes the sidecar of a stopped or failed run whose container is not running, and leaves the run dir', async () => {
    const [stopped, failed, stillUp] = [tracked(), tracked(), tracked()]
    const stoppedMain = await exited(createRunContainer(stopped))
    /* eslint-disable camelcase -- moat's field names */
    const stoppedDir = await makeRunDir(fixtures.moatHome, stopped, {container_id: stoppedMain, state: 'stopped'})
    const stoppedSidecar = await exited(createSidecar(stopped, {role: 'buildkit-sidecar'}))
    // A failed run whose main container is gone entirely.
    await makeRunDir(fixtures.moatHome, failed, {container_id: 'f'.repeat(64), state: 'failed'})
    const failedService = await made(createSidecar(failed, {role: 'service', running: false, service: 'redis'}))
    // metadata.json says stopped, but the container is up again: the run is not over.
    const upMain = await made(createRunContainer(stillUp))
    await makeRunDir(fixtures.moatHome, stillUp, {container_id: upMain, state: 'stopped'})
    /* eslint-enable camelcase */
    const upSidecar = await exited(createSidecar(stillUp, {role: 'service', service: 'postgres'}))

    const report = await clean()
    expect(itemNamed(report, `moat-buildkit-${stopped}`)).toMatchObject({
      decision: 'removed',
      evidence: {run: `its metadata.json says stopped; its container ${stoppedMain} is not running; no moat daemon running`},
      id: stoppedSidecar,
      reason: expect.stringMatching(/^run stopped, its container not running; exited \d+s ago$/),
    })
    expect(itemNamed(report, `moat-redis-${failed}`)).toMatchObject({
      decision: 'removed',
      evidence: {run: `its metadata.json says failed; its container ${'f'.repeat(64)} is not running; no moat daemon running`},
      id: failedService,
      reason: expect.stringMatching(/^run failed, its container not running; created \d+s ago$/),
    })
    expect(itemNamed(report, `moat-postgres-${stillUp}`)).toMatchObject({
      decision: 'kept',
      reason: `run ${stillUp} is stopped but its container ${stillUp} is running`,
    })
    expect(await containerExists(stoppedSidecar)).toBe(false)
    expect(await containerExists(failedService)).toBe(false)
    expect(await containerExists(upSidecar)).toBe(true)
    // Only the sidecar: the run's own container and dir are moat's (or clean-containers') business.
    expect(await containerExists(stoppedMain)).toBe(true)
    expect(await containerState(stoppedMain)).toBe('exited')
    expect(existsSync(join(stoppedDir, 'metadata.json'))).toBe(true)
  })

  it('plans to stop a running orphan sidecar ("running: will stop"), then stops and removes it', async () => {
    const runId = tracked()
    const id = await made(createSidecar(runId, {role: 'buildkit-sidecar'}))
    const plan = await clean({dryRun: true})
    expect(itemNamed(plan, `moat-buildkit-${runId}`)).toMatchObject({
      decision: 'orphan',
      details: {running: 'will stop', state: 'running'},
      evidence: {
        age: expect.stringMatching(/^created \d+s ago by the engine's clock \(--min-age 1s\)$/),
        run: `no run dir ${join(fixtures.moatHome, 'runs', runId)}; no moat daemon running`,
        state: 'running: stopped first, then removed',
      },
      reason: expect.stringMatching(/^run ended; created \d+s ago; running: will stop$/),
    })
    expect(await containerExists(id)).toBe(true)

    const report = await clean()
    expect(itemNamed(report, `moat-buildkit-${runId}`)).toMatchObject({decision: 'removed', id, outcome: 'stopped and removed'})
    expect(await containerExists(id)).toBe(false)
  })

  it('keeps sidecars younger than --min-age on the engine clock: exited by FinishedAt, never started by Created', async () => {
    const runId = tracked()
    const ids = [
      await exited(createSidecar(runId, {role: 'buildkit-sidecar'})),
      await made(createSidecar(runId, {role: 'service', running: false, service: 'postgres'})),
    ]
    const report = await clean({minAgeMs: 3_600_000})
    expect(itemNamed(report, `moat-buildkit-${runId}`)).toMatchObject({
      decision: 'kept',
      reason: expect.stringMatching(/^young: exited \d+s ago \(--min-age 1h\)$/),
    })
    expect(itemNamed(report, `moat-postgres-${runId}`)).toMatchObject({
      decision: 'kept',
      reason: expect.stringMatching(/^young: created \d+s ago \(--min-age 1h\)$/),
    })
    for (const id of ids) expect(await containerExists(id)).toBe(true)
  })

  it('never takes look-alikes as candidates: unlabelled, invalid run ID, other role, `buildkit`', async () => {
    const runId = tracked()
    const hex = runId.slice(4)
    const names = [`moat-postgres-${runId}`, `moat-buildkit-x${hex}`, `moat-helper-${runId}`, `buildkit-${hex}`]
    const ids = [
      // Named like a service, but without moat's labels.
      await made(dockerOk(['create', '--name', names[0]!, TEST_IMAGE, 'true'])),
      // moat's labels, but not a valid run ID.
      await made(
        dockerOk(['create', '--name', names[1]!, '--label', `moat.run-id=x${hex}`, '--label', 'moat.role=buildkit-sidecar', TEST_IMAGE, 'true']),
      ),
      // A valid run ID, but not a sidecar role.
      await made(dockerOk(['create', '--name', names[2]!, '--label', `moat.run-id=${runId}`, '--label', 'moat.role=helper', TEST_IMAGE, 'true'])),
      // Like Apple's own builder.
      await made(dockerOk(['create', '--name', names[3]!, TEST_IMAGE, 'true'])),
    ]
    try {
      const report = await clean()
      const listed = report.targets[0]!.items.map((item) => item.name)
      for (const name of names) expect(listed).not.toContain(name)
      for (const id of ids) expect(await containerExists(id)).toBe(true)
    } finally {
      await dockerOk(['rm', '--force', ...ids])
    }
  })

  it('skips on drift when the sidecar is started between scan and removal', async () => {
    const runId = tracked()
    const id = await exited(createSidecar(runId, {role: 'service', service: 'postgres'}))
    const report = await clean({
      hooks: {
        async beforeRemove() {
          await dockerOk(['start', id])
        },
      },
    })
    expect(itemNamed(report, `moat-postgres-${runId}`)).toMatchObject({
      decision: 'skipped',
      outcome: 'drift: started since the scan (now running)',
    })
    expect(await containerState(id)).toBe('running')
  })

  it('skips on drift when the run dir is re-created between scan and removal (also before a stop)', async () => {
    const [stoppedOne, runningOne] = [tracked(), tracked()]
    const ids = [
      await exited(createSidecar(stoppedOne, {role: 'buildkit-sidecar'})),
      await made(createSidecar(runningOne, {role: 'buildkit-sidecar'})),
    ]
    const report = await clean({
      hooks: {
        async beforeRemove() {
          await makeRunDir(fixtures.moatHome, stoppedOne, null)
          await makeRunDir(fixtures.moatHome, runningOne, null)
        },
      },
    })
    for (const runId of [stoppedOne, runningOne]) {
      expect(itemNamed(report, `moat-buildkit-${runId}`)).toMatchObject({
        decision: 'skipped',
        outcome: 'drift: run dir re-created since the scan',
      })
    }

    expect(await containerExists(ids[0]!)).toBe(true)
    expect(await containerState(ids[1]!)).toBe('running')
  })

  it('skips on drift when the sidecar is replaced by a new one of the same name, and removes neither', async () => {
    const runId = tracked()
    const old = await exited(createSidecar(runId, {role: 'buildkit-sidecar'}))
    let replacement = ''
    const report = await clean({
      hooks: {
        async beforeRemove() {
          await dockerOk(['rm', '--force', old])
          replacement = await createSidecar(runId, {role: 'buildkit-sidecar', running: false})
        },
      },
    })
    expect(itemNamed(report, `moat-buildkit-${runId}`)).toMatchObject({
      decision: 'skipped',
      id: old,
      outcome: `drift: replaced by a new container of the same name (${replacement.slice(0, 12)})`,
    })
    expect(await containerExists(replacement)).toBe(true)
  })
})

describe('SidecarTarget on the SIMULATED Apple `container` CLI (the real one runs only on macOS)', () => {
  const OLD = '2026-01-02T03:04:05Z'
  const [ended, endedUp, live, stopped, young] = ['a', 'b', 'c', 'd', 'e'].map((c) => `run_${c.repeat(12)}`)
  const home = useMoatHome()
  let fake: FakeHandle

  beforeEach(async () => {
    await makeRunDir(home.home, live!, {runtime: 'apple', state: 'running'})
    // eslint-disable-next-line camelcase
    await makeRunDir(home.home, stopped!, {container_id: stopped, runtime: 'apple', state: 'stopped'})
    fake = useFakeContainer({
      containers: [
        {created: OLD, id: `moat-postgres-${ended}`, image: 'postgres:16', state: 'stopped'},
        {created: OLD, id: `moat-ollama-${endedUp}`, image: 'ollama/ollama', state: 'running'},
        {created: OLD, id: `moat-redis-${live}`, image: 'redis:7', state: 'stopped'},
        {created: OLD, id: stopped!, image: 'moat/run:1', state: 'stopped'},
        {created: OLD, id: `moat-redis-${stopped}`, image: 'redis:7', state: 'stopped'},
        {created: new Date().toISOString(), id: `moat-mysql-${young}`, image: 'mysql:8', state: 'stopped'},
        // Apple's own builder (moat-resources.md §3.1, §10.8) and look-alikes: never candidates.
        {created: OLD, id: 'buildkit', image: 'builder', state: 'running'},
        {created: OLD, id: 'moat-x-run_XYZ', image: 'x', state: 'stopped'},
        {created: OLD, id: `moat-${ended}`, image: 'x', state: 'stopped'},
      ],
      networks: [{name: 'default', subnet: '192.168.64.0/24'}],
      schema: '1.0.0',
    })
  })

  afterEach(() => {
    fake.restore()
  })

  const clean = (hooks?: PipelineHooks) =>
    runPipeline([new SidecarTarget({moatHome: home.home, runtime: 'apple', runtimes: [new AppleCli()]})], {
      confirm: async () => true,
      dryRun: false,
      hooks,
      minAgeMs: 3_600_000,
    })

  it('makes the same decisions by name: removes ended and stopped runs’ services (stopping a running one)', async () => {
    const report = await clean()
    const decisions = Object.fromEntries(report.targets[0]!.items.map((item) => [item.name, [item.decision, item.outcome ?? item.reason]]))
    expect(decisions).toEqual({
      [`moat-mysql-${young}`]: ['kept', expect.stringMatching(/^young: created \d+s ago \(--min-age 1h\)$/)],
      [`moat-ollama-${endedUp}`]: ['removed', 'stopped and removed'],
      [`moat-postgres-${ended}`]: ['removed', 'removed'],
      [`moat-redis-${live}`]: ['kept', `run ${live} is alive: run dir exists (state running)`],
      [`moat-redis-${stopped}`]: ['removed', 'removed'],
    })
    expect(itemNamed(report, `moat-postgres-${ended}`)!.details).toMatchObject({role: 'service', runtime: 'apple', service: 'postgres'})
    expect(fake.read().containers.map((container) => container.id)).toEqual([
      `moat-redis-${live}`,
      stopped,
      `moat-mysql-${young}`,
      'buildkit',
      'moat-x-run_XYZ',
      `moat-${ended}`,
    ])
    // One list, one inspect before the stop, one stop, one inspect before the removal, one rm (plus ping).
    const calls = fake.calls().map((argv) => argv[0])
    expect(calls.filter((call) => call === 'stop')).toHaveLength(1)
    expect(calls.filter((call) => call === 'rm')).toHaveLength(1)
  })

  it('skips a service replaced by a new container of the same name (same ID on Apple, new creation time)', async () => {
    const report = await clean({
      beforeRemove() {
        const state = fake.read()
        state.containers.find((container) => container.id === `moat-postgres-${ended}`)!.created = new Date().toISOString()
        fake.write(state)
      },
    })
    expect(itemNamed(report, `moat-postgres-${ended}`)).toMatchObject({
      decision: 'skipped',
      outcome: 'drift: replaced by a new container of the same name',
    })
    expect(fake.read().containers.map((container) => container.id)).toContain(`moat-postgres-${ended}`)
  })
})
