// `moat system clean-networks` as a user runs it: the built CLI (`npm test` builds first) against the real test
// engine, asserting exit codes, JSON and what is left on the engine.
import {afterEach, describe, expect, it} from 'vitest'

import {systemCommand, useEngineFixtures} from '../engine/shared-engine.js'
import {type FakeHandle, useFakeContainer} from '../fixtures/fake-container/state.js'
import {itemsByName, jsonOf, runCli} from '../helpers/cli.js'
import {dockerShim} from '../helpers/docker-shim.js'
import {describeEngine, dockerOk, networkExists} from '../helpers/engine.js'
import {
  createRunContainer,
  createRunNetwork,
  createSidecar,
  makeRunDir,
  newRunId,
  useMoatHome,
} from '../helpers/moat-fixtures.js'

/** --min-age of the test that keeps a network made right before the CLI runs as young. */
const YOUNG_MIN_AGE = '15s'
const YOUNG_MIN_AGE_MS = 15_000

describeEngine('moat system clean-networks', () => {
  const fixtures = useEngineFixtures()
  const {made, tracked} = fixtures
  const {forced, run: cleanNetworks} = systemCommand('clean-networks', fixtures)

  it('--force --json removes what ended runs left, keeps the rest, and says why in one JSON document', async () => {
    const [ended, live, used, stale, young, unlabelled] = [tracked(), tracked(), tracked(), tracked(), tracked(), tracked()]
    const endedNet = await createRunNetwork(ended)
    const liveNet = await createRunNetwork(live)
    await makeRunDir(fixtures.moatHome, live, {state: 'running'})
    const usedNet = await createRunNetwork(used)
    await createSidecar(used, {network: usedNet, role: 'service', service: 'postgres'})
    const staleNet = await createRunNetwork(stale)
    const stopped = await createRunContainer(stale, {network: staleNet, running: false})
    const plainNet = await dockerOk(['network', 'create', `moat-${unlabelled}`])
    // Old enough counted from the last of them, so under any load. Then one made right before the CLI starts: when it
    // looks, that one has been there only for the CLI's start-up and listing, far below this --min-age even at a
    // load of 20 (where 6 s was not enough).
    await fixtures.waitUntilOld(YOUNG_MIN_AGE_MS)
    await fixtures.protectOtherRuns()
    const youngNet = await createRunNetwork(young)

    const result = cleanNetworks(['--force', '--json', '--min-age', YOUNG_MIN_AGE])
    expect(result.exitCode).toBe(0)
    expect(result.stderr).toBe('')
    const doc = jsonOf(result)
    expect(doc).toMatchObject({canceled: false, dryRun: false, minAge: YOUNG_MIN_AGE, target: 'networks', warnings: []})
    const items = itemsByName(result)
    expect(items[`moat-${ended}`]).toMatchObject({decision: 'removed', id: endedNet, run: ended, runtime: 'docker'})
    expect(items[`moat-${live}`]).toMatchObject({decision: 'kept', reason: `run ${live} is alive: run dir exists (state running)`})
    expect(items[`moat-${used}`]).toMatchObject({decision: 'kept', reason: `in use: running container moat-postgres-${used} attached`})
    expect(items[`moat-${stale}`]).toMatchObject({decision: 'removed', detach: [stale]})
    expect(items[`moat-${young}`]).toMatchObject({decision: 'kept', reason: expect.stringMatching(new RegExp(`^young: created \\d+s ago \\(--min-age ${YOUNG_MIN_AGE}\\)$`))})
    expect(items[`moat-${unlabelled}`]).toBeUndefined()

    expect(await networkExists(endedNet)).toBe(false)
    expect(await networkExists(staleNet)).toBe(false)
    for (const id of [liveNet, usedNet, youngNet, plainNet]) expect(await networkExists(id)).toBe(true)
    expect(await dockerOk(['inspect', '--format', '{{json .NetworkSettings.Networks}}', stopped])).toBe('{}')
  })

  it('--dry-run prints the plan and removes nothing', async () => {
    const [ended, used] = [tracked(), tracked()]
    const endedNet = await createRunNetwork(ended)
    const usedNet = await createRunNetwork(used)
    await createRunContainer(used, {network: usedNet})
    const result = cleanNetworks(['--dry-run', '--min-age', '0s', '--moat-home', fixtures.moatHome])
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toContain(`moat-${ended}`)
    expect(result.stdout).toMatch(new RegExp(`^moat-${ended} +(\\d+s) +would remove +run ended; created \\1 ago; no container attached$`, 'm'))
    expect(result.stdout).toMatch(new RegExp(`^moat-${used} +\\d+s +keep +in use: running container ${used} attached$`, 'm'))
    expect(result.stdout).toContain('Dry run: nothing was removed.')
    expect(await networkExists(endedNet)).toBe(true)
  })

  it('engine down: exit 1 with one clear line, and nothing is removed', async () => {
    const runId = tracked()
    const id = await createRunNetwork(runId)
    const dead = {DOCKER_HOST: 'unix:///nonexistent/moat-test/docker.sock'}

    const auto = cleanNetworks(['--force', '--min-age', '0s'], dead)
    expect(auto.exitCode).toBe(1)
    expect(auto.stdout).toBe('')
    expect(auto.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^Error: No container runtime answered\. Docker engine unreachable: Cannot connect to the Docker daemon/),
    ])

    const explicit = cleanNetworks(['--force', '--json', '--min-age', '0s', '--runtime', 'docker'], dead)
    expect(explicit.exitCode).toBe(1)
    expect(jsonOf(explicit)).toEqual({
      error: {
        code: 'ERROR',
        exitCode: 1,
        message: expect.stringMatching(/^--runtime docker: Docker engine unreachable: /),
        name: 'RuntimeUnreachableError',
      },
    })
    expect(await networkExists(id)).toBe(true)
  })

  for (const client of ['api', 'cli']) {
    it(`spawns as many docker processes for 40 networks as for 10 (${client === 'api' ? 'Engine API: none' : 'MOAT_DOCKER_CLIENT=cli'})`, async () => {
      const shim = dockerShim()
      const env = client === 'cli' ? {...shim.env, MOAT_DOCKER_CLIENT: 'cli'} : shim.env
      const countFor = async (networks: number): Promise<number> => {
        for (let i = 0; i < networks; i++) await made(createRunNetwork(tracked()))
        shim.reset()
        const result = await forced([], env)
        expect(result.exitCode).toBe(0)
        expect(jsonOf(result).totals).toMatchObject({failed: 0, removed: networks})
        return shim.count()
      }

      try {
        const few = await countFor(10)
        const many = await countFor(40)
        expect(many).toBe(few)
        if (client === 'api') {
          expect(few).toBe(0)
        } else {
          // info, network ls, network inspect, ps, container inspect; at re-verify network inspect, ps -a and container
          // inspect again (a stopped container attached after the plan keeps the network); 4 network rm side by side
          expect(few).toBeGreaterThan(0)
          expect(few).toBeLessThanOrEqual(12)
        }
      } finally {
        shim.remove()
      }
    })
  }
})

describe('moat system clean-networks --runtime apple, on the SIMULATED `container` CLI (the real one runs only on macOS)', () => {
  const home = useMoatHome()
  let fake: FakeHandle

  afterEach(() => {
    fake.restore()
  })

  it('removes the network of an ended run and keeps a live one', async () => {
    const [ended, live] = [newRunId(), newRunId()]
    await makeRunDir(home.home, live, {runtime: 'apple'})
    fake = useFakeContainer({
      containers: [],
      networks: [
        {name: 'default', subnet: '192.168.64.0/24'},
        {name: `moat-${ended}`, subnet: '192.168.65.0/24'},
        {name: `moat-${live}`, subnet: '192.168.66.0/24'},
      ],
      schema: 'legacy',
    })
    const result = runCli(['system', 'clean-networks', '--runtime', 'apple', '--force', '--json', '--moat-home', home.home], fake.env)
    expect(result.exitCode).toBe(0)
    const items = itemsByName(result)
    expect(items[`moat-${ended}`]).toMatchObject({decision: 'removed', id: `moat-${ended}`, runtime: 'apple'})
    expect(items[`moat-${live}`]).toMatchObject({decision: 'kept'})
    expect(Object.keys(items)).toHaveLength(2)
    expect(fake.read().networks.map((network) => network.name)).toEqual(['default', `moat-${live}`])
  })
})
