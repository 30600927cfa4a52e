// NetworkTarget through the shared pipeline, against the real test engine (and, at the end, the SIMULATED Apple
// `container` CLI, since the real one runs only on macOS).
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {runPipeline} from '../../src/lib/pipeline/pipeline.js'
import {AppleCli} from '../../src/lib/runtime/apple.js'
import {RuntimeUnreachableError} from '../../src/lib/runtime/errors.js'
import {NetworkTarget, type NetworkTargetOptions} from '../../src/lib/targets/networks.js'
import {type FakeHandle, type FakeState, useFakeContainer} from '../fixtures/fake-container/state.js'
import {type FakeDaemon, startFakeDaemon} from '../fixtures/fake-daemon.js'
import {describeEngine, dockerOk, networkExists, requireEngine, useEngineInProcessEnv} from '../helpers/engine.js'
import {createRunContainer, createRunNetwork, createSidecar, makeRunDir, useMoatHome} from '../helpers/moat-fixtures.js'
import {type CleanOptions, itemNamed, MIN_AGE_MS, useEngineFixtures} from './shared-engine.js'

describeEngine('NetworkTarget on the real engine', () => {
  useEngineInProcessEnv()
  const fixtures = useEngineFixtures()
  const {tracked} = fixtures
  let daemon: FakeDaemon | undefined

  /** A forced run of the pipeline over this suite's fixtures only (see shared-engine.ts). */
  const clean = (options: CleanOptions & {target?: Partial<NetworkTargetOptions>} = {}) =>
    fixtures.clean(new NetworkTarget({daemonTimeoutMs: 500, moatHome: fixtures.moatHome, runtime: 'docker', ...options.target}), options)

  afterEach(async () => {
    process.env.DOCKER_HOST = requireEngine()
    await daemon?.close()
    daemon = undefined
  })

  it('removes the network of a run that has ended, by ID', async () => {
    const runId = tracked()
    const id = await createRunNetwork(runId)
    const report = await clean()
    expect(itemNamed(report, `moat-${runId}`)).toMatchObject({
      decision: 'removed',
      details: {run: runId, runtime: 'docker'},
      evidence: {
        age: expect.stringMatching(/^created \d+s ago by the engine's clock \(--min-age 1s\)$/),
        attached: 'no container attached, running or stopped',
        run: `no run dir ${join(fixtures.moatHome, 'runs', runId)}; no moat daemon running`,
      },
      id,
      outcome: 'removed',
      reason: expect.stringMatching(/^run ended; created \d+s ago; no container attached$/),
    })
    expect(await networkExists(id)).toBe(false)
  })

  it('keeps the network of a live run: run dir with metadata.json, or without it', async () => {
    const [withMetadata, bare] = [tracked(), tracked()]
    const ids = [await createRunNetwork(withMetadata), await createRunNetwork(bare)]
    await makeRunDir(fixtures.moatHome, withMetadata, {state: 'running'})
    await makeRunDir(fixtures.moatHome, bare, null)
    const report = await clean()
    expect(itemNamed(report, `moat-${withMetadata}`)).toMatchObject({
      decision: 'kept',
      reason: `run ${withMetadata} is alive: run dir exists (state running)`,
    })
    expect(itemNamed(report, `moat-${bare}`)).toMatchObject({
      decision: 'kept',
      reason: expect.stringMatching(new RegExp(`^run ${bare} is alive: run dir exists without metadata\\.json`)),
    })
    for (const id of ids) expect(await networkExists(id)).toBe(true)
  })

  it('keeps the network of a run the moat daemon lists', async () => {
    const runId = tracked()
    const id = await createRunNetwork(runId)
    daemon = await startFakeDaemon(fixtures.moatHome, [runId])
    const report = await clean()
    expect(itemNamed(report, `moat-${runId}`)).toMatchObject({decision: 'kept', reason: `run ${runId} is alive: the moat daemon lists it`})
    expect(await networkExists(id)).toBe(true)
  })

  it('keeps a network younger than --min-age on the engine clock', async () => {
    const runId = tracked()
    const id = await createRunNetwork(runId)
    const report = await clean({minAgeMs: 3_600_000})
    const item = itemNamed(report, `moat-${runId}`)
    expect(item).toMatchObject({decision: 'kept', reason: expect.stringMatching(/^young: created \d+s ago \(--min-age 1h\)$/)})
    expect(item!.ageMs).toBeLessThan(60_000)
    expect(await networkExists(id)).toBe(true)
  })

  it('never takes moat-shared, unlabelled or Docker networks as candidates', async () => {
    const unlabelled = tracked()
    const shared = `moat-shared-${unlabelled.slice(4)}`
    const ids = [
      await dockerOk(['network', 'create', `moat-${unlabelled}`]),
      await dockerOk(['network', 'create', '--label', 'moat.managed=true', shared]),
    ]
    try {
      const report = await clean()
      const names = report.targets[0]!.items.map((item) => item.name)
      expect(names).not.toContain(`moat-${unlabelled}`)
      expect(names).not.toContain(shared)
      expect(names.filter((name) => !name.startsWith('moat-run_'))).toEqual([])
      for (const id of ids) expect(await networkExists(id)).toBe(true)
    } finally {
      await dockerOk(['network', 'rm', shared])
    }
  })

  it('keeps a network with a running container attached, and names the container', async () => {
    const runId = tracked()
    const id = await createRunNetwork(runId)
    await createSidecar(runId, {network: id, role: 'service', service: 'postgres'})
    const report = await clean()
    expect(itemNamed(report, `moat-${runId}`)).toMatchObject({
      decision: 'kept',
      reason: `in use: running container moat-postgres-${runId} attached`,
    })
    expect(await networkExists(id)).toBe(true)
  })

  it("detaches exactly the dead run's stopped containers, then removes the network", async () => {
    const runId = tracked()
    const id = await createRunNetwork(runId)
    const main = await createRunContainer(runId, {network: id})
    await dockerOk(['stop', '--time', '0', main])
    const buildkit = await createSidecar(runId, {network: id, role: 'buildkit-sidecar', running: false})
    const report = await clean()
    const item = itemNamed(report, `moat-${runId}`)
    expect(item).toMatchObject({decision: 'removed', reason: expect.stringMatching(/^run ended; created \d+s ago; only stopped containers of its run attached$/)})
    expect([...(item!.details.detach as string[])].sort()).toEqual([`moat-buildkit-${runId}`, runId].sort())
    expect(item!.evidence!.attached).toBe(`no running container; detached first: ${(item!.details.detach as string[]).join(', ')} (stopped or deleted, of this run)`)
    expect(await networkExists(id)).toBe(false)
    // The containers themselves are left for clean-containers / clean-sidecars.
    expect(await dockerOk(['inspect', '--format', '{{json .NetworkSettings.Networks}}', main, buildkit])).toBe('{}\n{}')
  })

  it('keeps a network a stopped container of someone else is attached to', async () => {
    const runId = tracked()
    const id = await createRunNetwork(runId)
    const other = await dockerOk(['create', '--name', `debug-${runId}`, '--network', id, 'moat-test-busybox:latest', 'true'])
    const report = await clean()
    expect(itemNamed(report, `moat-${runId}`)).toMatchObject({
      decision: 'kept',
      reason: `container debug-${runId} of another owner is attached (stopped)`,
    })
    expect(await networkExists(id)).toBe(true)
    expect(await dockerOk(['inspect', '--format', '{{len .NetworkSettings.Networks}}', other])).toBe('1')
  })

  it('skips on drift when the run dir is re-created between scan and removal', async () => {
    const runId = tracked()
    const id = await createRunNetwork(runId)
    const report = await clean({
      hooks: {
        async beforeRemove() {
          await makeRunDir(fixtures.moatHome, runId, null)
        },
      },
    })
    expect(itemNamed(report, `moat-${runId}`)).toMatchObject({decision: 'skipped', outcome: 'drift: run dir re-created since the scan'})
    expect(await networkExists(id)).toBe(true)
  })

  it('skips on drift when the daemon starts listing the run between scan and removal', async () => {
    const runId = tracked()
    const id = await createRunNetwork(runId)
    daemon = await startFakeDaemon(fixtures.moatHome, [])
    const report = await clean({
      hooks: {
        beforeRemove() {
          daemon!.runs.push(runId)
        },
      },
    })
    expect(itemNamed(report, `moat-${runId}`)).toMatchObject({decision: 'skipped', outcome: 'drift: the moat daemon now lists the run'})
    expect(daemon.requests).toBe(2)
    expect(await networkExists(id)).toBe(true)
  })

  it('skips on drift when a container is attached between scan and removal', async () => {
    const runId = tracked()
    const id = await createRunNetwork(runId)
    const report = await clean({
      hooks: {
        async beforeRemove() {
          await createRunContainer(runId, {network: id})
        },
      },
    })
    expect(itemNamed(report, `moat-${runId}`)).toMatchObject({
      decision: 'skipped',
      outcome: `drift: container ${runId} attached since the scan`,
    })
    expect(await networkExists(id)).toBe(true)
  })

  it('skips on drift when a stopped container is put on the network between scan and removal (create --network, network connect)', async () => {
    const [created, connected] = [tracked(), tracked()]
    const ids = [await createRunNetwork(created), await createRunNetwork(connected)]
    const debug = `debug-${created}`
    const report = await clean({
      hooks: {
        async beforeRemove() {
          // Never started: no endpoint on either network, only the configuration its `docker start` would need.
          await dockerOk(['create', '--name', debug, '--network', ids[0]!, 'moat-test-busybox:latest', 'true'])
          await dockerOk(['network', 'connect', ids[1]!, debug])
        },
      },
    })
    for (const runId of [created, connected]) {
      expect(itemNamed(report, `moat-${runId}`)).toMatchObject({
        decision: 'skipped',
        outcome: `drift: container ${debug} attached since the scan (created)`,
      })
    }

    for (const id of ids) expect(await networkExists(id)).toBe(true)
    // The user's container still starts: its networks are there.
    await dockerOk(['start', debug])
  })

  it('engine unreachable: an error, and nothing is judged or removed', async () => {
    const runId = tracked()
    const id = await createRunNetwork(runId)
    process.env.DOCKER_HOST = 'unix:///nonexistent/moat-test/docker.sock'
    await expect(clean({minAgeMs: 0})).rejects.toBeInstanceOf(RuntimeUnreachableError)
    await expect(clean({minAgeMs: 0, target: {runtime: 'auto'}})).rejects.toThrow(/^No container runtime answered/)
    process.env.DOCKER_HOST = requireEngine()
    expect(await networkExists(id)).toBe(true)
  })
})

describe('NetworkTarget on the SIMULATED Apple `container` CLI (the real one runs only on macOS)', () => {
  const home = useMoatHome()
  let fake: FakeHandle
  let warnings: string[]
  const [dead, live, busy, inUse] = ['aaaaaaaaaaaa', 'bbbbbbbbbbbb', 'cccccccccccc', 'dddddddddddd'].map((hex) => `run_${hex}`)

  beforeEach(() => {
    warnings = []
    const state: FakeState = {
      containers: [
        {address: '192.168.68.2/24', created: '2026-01-02T03:04:05Z', id: `moat-redis-${inUse}`, image: 'redis:7', state: 'running'},
        {created: '2026-01-02T03:04:05Z', id: dead!, image: 'moat/run:1', state: 'stopped'},
      ],
      networks: [
        {name: 'default', subnet: '192.168.64.0/24'},
        {name: `moat-${dead}`, subnet: '192.168.65.0/24'},
        {name: `moat-${live}`, subnet: '192.168.66.0/24'},
        {busy: 2, name: `moat-${busy}`, subnet: '192.168.67.0/24'},
        {name: `moat-${inUse}`, subnet: '192.168.68.0/24'},
        {name: 'moat-shared', subnet: '192.168.69.0/24'},
      ],
      schema: '1.0.0',
    }
    fake = useFakeContainer(state)
  })

  afterEach(() => {
    fake.restore()
  })

  it('removes ended runs’ networks (retrying "in use"), keeps live and used ones, never touches others', async () => {
    await makeRunDir(home.home, live!, {runtime: 'apple'})
    const target = new NetworkTarget({
      moatHome: home.home,
      runtime: 'apple',
      runtimes: [new AppleCli({retryBaseMs: 10})],
    })
    const report = await runPipeline([target], {
      confirm: async () => true,
      dryRun: false,
      minAgeMs: MIN_AGE_MS,
      warn: (message) => warnings.push(message),
    })
    const decisions = Object.fromEntries(report.targets[0]!.items.map((item) => [item.name, [item.decision, item.outcome ?? item.reason]]))
    expect(decisions).toEqual({
      [`moat-${busy}`]: ['removed', 'removed'],
      [`moat-${dead}`]: ['removed', 'removed'],
      [`moat-${inUse}`]: ['kept', `in use: running container moat-redis-${inUse} attached`],
      [`moat-${live}`]: ['kept', `run ${live} is alive: run dir exists (state running)`],
    })
    expect(report.targets[0]!.items.find((item) => item.name === `moat-${busy}`)).toMatchObject({
      evidence: {
        age: 'not applied: Apple container networks carry no creation time; the run dir decides',
        attached: 'no container attached, running or stopped',
        run: `no run dir ${join(home.home, 'runs', busy!)}; no moat daemon running`,
      },
      reason: 'run ended; age unknown; no container attached',
    })
    expect(fake.read().networks.map((network) => network.name)).toEqual(['default', `moat-${live}`, `moat-${inUse}`, 'moat-shared'])
    expect(warnings).toEqual(['Apple container networks carry no creation time: --min-age is not applied to them; their run dir decides.'])
  })
})
