// RunContainerTarget through the shared pipeline, against the real test engine (and, at the end, the SIMULATED
// Apple `container` CLI, since the real one runs only on macOS).
import {utimes} from 'node:fs/promises'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {runPipeline} from '../../src/lib/pipeline/pipeline.js'
import {AppleCli} from '../../src/lib/runtime/apple.js'
import {RunContainerTarget} from '../../src/lib/targets/run-containers.js'
import {type FakeHandle, useFakeContainer} from '../fixtures/fake-container/state.js'
import {type FakeDaemon, startFakeDaemon} from '../fixtures/fake-daemon.js'
import {containerExists, containerState, describeEngine, dockerOk, TEST_IMAGE, useEngineInProcessEnv} from '../helpers/engine.js'
import {createRunContainer, createSidecar, makeRunDir, useMoatHome} from '../helpers/moat-fixtures.js'
import {type CleanOptions, itemNamed, useEngineFixtures} from './shared-engine.js'

describeEngine('RunContainerTarget on the real engine', () => {
  useEngineInProcessEnv()
  const fixtures = useEngineFixtures()
  const {exited, made, tracked} = fixtures
  let daemon: FakeDaemon | undefined

  /** A forced run of the pipeline over this suite's fixtures only (see shared-engine.ts). */
  const clean = (options: CleanOptions & {includeRunning?: boolean} = {}) =>
    fixtures.clean(
      new RunContainerTarget({daemonTimeoutMs: 500, includeRunning: options.includeRunning, moatHome: fixtures.moatHome, runtime: 'docker'}),
      options,
    )

  afterEach(async () => {
    await daemon?.close()
    daemon = undefined
  })

  it('removes the exited and the never-started run containers of runs that have ended, by ID', async () => {
    const [ranOnce, neverStarted] = [tracked(), tracked()]
    const ids = [await exited(createRunContainer(ranOnce)), await made(createRunContainer(neverStarted, {running: false}))]
    const report = await clean()
    expect(itemNamed(report, ranOnce)).toMatchObject({
      decision: 'removed',
      details: {run: ranOnce, runtime: 'docker', state: 'exited'},
      id: ids[0],
      outcome: 'removed',
    })
    expect(itemNamed(report, neverStarted)).toMatchObject({decision: 'removed', details: {state: 'created'}, id: ids[1]})
    for (const id of ids) expect(await containerExists(id)).toBe(false)
    expect(fixtures.warnings).toEqual([])
  })

  it('keeps the run containers of live runs: run dir with metadata.json, listed by the daemon', async () => {
    const [stopped, listed] = [tracked(), tracked()]
    const ids = [await exited(createRunContainer(stopped)), await exited(createRunContainer(listed))]
    // A stopped run still has its run dir: `moat destroy` or `moat clean` owns it, not this target.
    await makeRunDir(fixtures.moatHome, stopped, {state: 'stopped'})
    daemon = await startFakeDaemon(fixtures.moatHome, [listed])
    const report = await clean()
    expect(itemNamed(report, stopped)).toMatchObject({decision: 'kept', reason: `run ${stopped} is alive: run dir exists (state stopped)`})
    expect(itemNamed(report, listed)).toMatchObject({decision: 'kept', reason: `run ${listed} is alive: the moat daemon lists it`})
    for (const id of ids) expect(await containerExists(id)).toBe(true)
  })

  it('removes the container of a run that crashed before saving metadata.json once its run dir is older than --min-age', async () => {
    const [crashed, starting] = [tracked(), tracked()]
    const ids = [await exited(createRunContainer(crashed)), await exited(createRunContainer(starting))]
    const crashedDir = await makeRunDir(fixtures.moatHome, crashed, null)
    const longAgo = new Date(Date.now() - 7_200_000)
    await utimes(crashedDir, longAgo, longAgo)
    const startingDir = await makeRunDir(fixtures.moatHome, starting, null)
    // Touched right before each scan: a run being created.
    const beforeScan = () => utimes(startingDir, new Date(), new Date())
    const plan = await clean({beforeScan, dryRun: true})
    expect(itemNamed(plan, crashed)).toMatchObject({
      decision: 'orphan',
      evidence: {
        age: expect.stringMatching(/^exited \d+s ago by the engine's clock \(--min-age 1s\)$/),
        run: `run dir ${crashedDir} has no metadata.json and is unchanged for 2.0h (--min-age 1s): moat crashed before saving it; no moat daemon running`,
        state: 'exited: not running',
      },
      reason: expect.stringMatching(/^run crashed before saving metadata\.json; exited \d+s ago$/),
    })
    expect(itemNamed(plan, starting)).toMatchObject({
      decision: 'kept',
      reason: expect.stringMatching(new RegExp(`^run ${starting} may still be starting: run dir without metadata\\.json, modified \\d+s ago \\(--min-age 1s\\)$`)),
    })
    const report = await clean({beforeScan})
    expect(itemNamed(report, crashed)).toMatchObject({decision: 'removed', id: ids[0]})
    expect(itemNamed(report, starting)).toMatchObject({decision: 'kept'})
    expect(await containerExists(ids[0]!)).toBe(false)
    expect(await containerExists(ids[1]!)).toBe(true)
  })

  it('keeps a running orphan ("running: pass --include-running"), and stops and removes it with includeRunning', async () => {
    const runId = tracked()
    const id = await made(createRunContainer(runId))
    const kept = await clean()
    expect(itemNamed(kept, runId)).toMatchObject({decision: 'kept', details: {state: 'running'}, reason: 'running: pass --include-running'})
    expect(await containerState(id)).toBe('running')

    const plan = await clean({dryRun: true, includeRunning: true})
    expect(itemNamed(plan, runId)).toMatchObject({decision: 'orphan', details: {running: 'will stop'}})
    const report = await clean({includeRunning: true})
    expect(itemNamed(report, runId)).toMatchObject({decision: 'removed', id, outcome: 'stopped and removed'})
    expect(await containerExists(id)).toBe(false)
  })

  it('keeps run containers younger than --min-age on the engine clock: exited by FinishedAt, never started by Created', async () => {
    const [ranOnce, neverStarted] = [tracked(), tracked()]
    const ids = [await exited(createRunContainer(ranOnce)), await made(createRunContainer(neverStarted, {running: false}))]
    const report = await clean({minAgeMs: 3_600_000})
    expect(itemNamed(report, ranOnce)).toMatchObject({decision: 'kept', reason: expect.stringMatching(/^young: exited \d+s ago \(--min-age 1h\)$/)})
    expect(itemNamed(report, neverStarted)).toMatchObject({
      decision: 'kept',
      reason: expect.stringMatching(/^young: created \d+s ago \(--min-age 1h\)$/),
    })
    for (const id of ids) expect(await containerExists(id)).toBe(true)
  })

  it('never takes look-alikes as candidates: run_XYZ, a longer run_ name, a sidecar', async () => {
    const runId = tracked()
    const names = ['run_XYZ', `${runId}0`, `x${runId}`]
    const ids: string[] = []
    try {
      for (const name of names) ids.push(await made(dockerOk(['create', '--name', name, TEST_IMAGE, 'true'])))
      const sidecar = await made(createSidecar(runId, {role: 'buildkit-sidecar', running: false}))
      const report = await clean()
      const listed = report.targets[0]!.items.map((item) => item.name)
      for (const name of [...names, `moat-buildkit-${runId}`]) expect(listed).not.toContain(name)
      for (const id of [...ids, sidecar]) expect(await containerExists(id)).toBe(true)
    } finally {
      if (ids.length > 0) await dockerOk(['rm', '--force', ...ids])
    }
  })

  it('skips on drift when the container is started between scan and removal', async () => {
    const [created, stopped] = [tracked(), tracked()]
    const ids = [await made(createRunContainer(created, {running: false})), await exited(createRunContainer(stopped))]
    const report = await clean({
      hooks: {
        async beforeRemove() {
          await dockerOk(['start', ...ids])
        },
      },
    })
    for (const runId of [created, stopped]) {
      expect(itemNamed(report, runId)).toMatchObject({decision: 'skipped', outcome: 'drift: started since the scan (now running)'})
    }

    for (const id of ids) expect(await containerState(id)).toBe('running')
  })

  it('skips on drift when the run dir is re-created between scan and removal', async () => {
    const runId = tracked()
    const id = await exited(createRunContainer(runId))
    const report = await clean({
      hooks: {
        async beforeRemove() {
          await makeRunDir(fixtures.moatHome, runId, null)
        },
      },
    })
    expect(itemNamed(report, runId)).toMatchObject({decision: 'skipped', outcome: 'drift: run dir re-created since the scan'})
    expect(await containerExists(id)).toBe(true)
  })

  it('skips on drift when metadata.json appears in a crashed-looking run dir between scan and removal', async () => {
    const runId = tracked()
    const id = await exited(createRunContainer(runId))
    const dir = await makeRunDir(fixtures.moatHome, runId, null)
    const longAgo = new Date(Date.now() - 7_200_000)
    await utimes(dir, longAgo, longAgo)
    const report = await clean({
      hooks: {
        async beforeRemove() {
          await makeRunDir(fixtures.moatHome, runId, {state: 'created'})
        },
      },
    })
    expect(itemNamed(report, runId)).toMatchObject({decision: 'skipped', outcome: `drift: run ${runId} is alive: run dir exists (state created)`})
    expect(await containerExists(id)).toBe(true)
  })

  it('skips on drift when the container is replaced by a new one of the same name, and removes neither', async () => {
    const runId = tracked()
    const old = await exited(createRunContainer(runId))
    let replacement = ''
    const report = await clean({
      hooks: {
        async beforeRemove() {
          await dockerOk(['rm', '--force', old])
          replacement = await createRunContainer(runId, {running: false})
        },
      },
    })
    expect(itemNamed(report, runId)).toMatchObject({
      decision: 'skipped',
      id: old,
      outcome: `drift: replaced by a new container of the same name (${replacement.slice(0, 12)})`,
    })
    expect(await containerExists(replacement)).toBe(true)
  })
})

describe('RunContainerTarget on the SIMULATED Apple `container` CLI (the real one runs only on macOS)', () => {
  const OLD = '2026-01-02T03:04:05Z'
  const [ended, live, up, young] = ['a', 'b', 'c', 'd'].map((c) => `run_${c.repeat(12)}`)
  const home = useMoatHome()
  let fake: FakeHandle

  beforeEach(async () => {
    await makeRunDir(home.home, live!, {runtime: 'apple', state: 'stopped'})
    fake = useFakeContainer({
      containers: [
        {created: OLD, id: ended!, image: 'moat/run:1', state: 'stopped'},
        {created: OLD, id: live!, image: 'moat/run:1', state: 'stopped'},
        {created: OLD, id: up!, image: 'moat/run:1', state: 'running'},
        {created: new Date().toISOString(), id: young!, image: 'moat/run:1', state: 'stopped'},
        {created: OLD, id: 'run_XYZ', image: 'x', state: 'stopped'},
        {created: OLD, id: 'buildkit', image: 'builder', state: 'running'},
      ],
      networks: [{name: 'default', subnet: '192.168.64.0/24'}],
      schema: 'legacy',
    })
  })

  afterEach(() => {
    fake.restore()
  })

  const clean = (includeRunning: boolean) =>
    runPipeline(
      [new RunContainerTarget({includeRunning, moatHome: home.home, runtime: 'apple', runtimes: [new AppleCli()]})],
      {confirm: async () => true, dryRun: false, minAgeMs: 3_600_000},
    )

  it('makes the same decisions by name, and stops a running one only with includeRunning', async () => {
    const first = await clean(false)
    const decisions = Object.fromEntries(first.targets[0]!.items.map((item) => [item.name, [item.decision, item.outcome ?? item.reason]]))
    expect(decisions).toEqual({
      [ended!]: ['removed', 'removed'],
      [live!]: ['kept', `run ${live} is alive: run dir exists (state stopped)`],
      [up!]: ['kept', 'running: pass --include-running'],
      [young!]: ['kept', expect.stringMatching(/^young: created \d+s ago \(--min-age 1h\)$/)],
    })
    expect(fake.read().containers.map((container) => container.id)).toEqual([live, up, young, 'run_XYZ', 'buildkit'])

    const second = await clean(true)
    expect(itemNamed(second, up!)).toMatchObject({decision: 'removed', details: {runtime: 'apple'}, outcome: 'stopped and removed'})
    expect(fake.read().containers.map((container) => container.id)).toEqual([live, young, 'run_XYZ', 'buildkit'])
  })
})
