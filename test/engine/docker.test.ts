// The Docker adapters against the real test engine, one contract for both: the Engine API over the socket (the
// default) and the docker CLI (the fallback for ssh:// and what the API cannot reach): what each reads from the
// engine, and how it reports per-ID outcomes.
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, afterEach, expect, it} from 'vitest'

import {DockerApi} from '../../src/lib/runtime/docker-api.js'
import {DockerCli} from '../../src/lib/runtime/docker.js'
import {RuntimeAbsentError, RuntimeUnreachableError} from '../../src/lib/runtime/errors.js'
import {startEngineProxy} from '../helpers/dying-engine-proxy.js'
import {describeEngine, docker, dockerOk, requireEngine, useEngineInProcessEnv} from '../helpers/engine.js'
import {createRunContainer, createRunNetwork, createSidecar, trackRunIds} from '../helpers/moat-fixtures.js'

const NO_SUCH_ID = 'f'.repeat(64)

// No endpoint given: each adapter reads DOCKER_HOST at each call, as the CLI does, so a test may point it elsewhere.
const ADAPTERS = [
  {make: () => new DockerCli(), name: 'DockerCli', needsCli: true},
  {make: () => new DockerApi(), name: 'DockerApi', needsCli: false},
]

for (const adapter of ADAPTERS) describeEngine(`${adapter.name} on the real engine`, () => {
  const savedPath = process.env.PATH
  useEngineInProcessEnv()
  const runIds = trackRunIds()
  const tracked = () => runIds.next()

  const cli = adapter.make()

  afterEach(() => {
    process.env.DOCKER_HOST = requireEngine()
    process.env.PATH = savedPath
  })

  afterAll(() => {
    process.env.PATH = savedPath
  })

  it('ping proves the engine answers and reads its clock', async () => {
    await cli.ping()
    expect(Math.abs(cli.now() - Date.now())).toBeLessThan(5000)
  })

  it('lists networks by label, with labels, engine creation time and the containers attached', async () => {
    const runId = tracked()
    const unlabelled = tracked()
    const id = await createRunNetwork(runId)
    await dockerOk(['network', 'create', `moat-${unlabelled}`])
    const container = await createRunContainer(runId, {network: id})

    const networks = await cli.list('network', {label: 'moat.managed=true'})
    const mine = networks.find((network) => network.id === id)
    expect(mine).toMatchObject({endpoints: [{container, name: runId}], labels: {'moat.managed': 'true'}, name: `moat-${runId}`})
    expect(Math.abs(cli.now() - mine!.createdMs!)).toBeLessThan(60_000)
    expect(networks.map((network) => network.name)).not.toContain(`moat-${unlabelled}`)
    expect(networks.every((network) => network.labels['moat.managed'] === 'true')).toBe(true)
  })

  it('lists containers with name, labels, state, times, mounts and networks', async () => {
    const runId = tracked()
    const network = await createRunNetwork(runId)
    const dir = mkdtempSync(join(tmpdir(), 'mnt-'))
    try {
      const sidecar = await createSidecar(runId, {mounts: [`${dir}:/data`], network, role: 'service', service: 'postgres'})
      const main = await createRunContainer(runId, {network})
      await dockerOk(['stop', '--time', '0', main])

      const containers = await cli.list('container', {label: `moat.run-id=${runId}`})
      expect(containers.map((c) => c.id)).toEqual([sidecar])
      expect(containers[0]).toMatchObject({
        finishedMs: undefined,
        labels: {'moat.role': 'service', 'moat.run-id': runId},
        mounts: [{destination: '/data', source: dir, type: 'bind'}],
        name: `moat-postgres-${runId}`,
        networks: [{id: network, name: `moat-${runId}`}],
        running: true,
        state: 'running',
      })

      const all = await cli.list('container')
      const stopped = all.find((c) => c.id === main)
      expect(stopped).toMatchObject({labels: {}, name: runId, networks: [{name: `moat-${runId}`}], running: false, state: 'exited'})
      expect(stopped!.finishedMs).toBeGreaterThanOrEqual(stopped!.createdMs!)
    } finally {
      rmSync(dir, {force: true, recursive: true})
    }
  })

  it('inspects many IDs in one call; an ID that no longer exists is simply absent', async () => {
    const [a, b] = [tracked(), tracked()]
    const ids = [await createRunNetwork(a), await createRunNetwork(b)]
    const found = await cli.inspect('network', [...ids, NO_SUCH_ID])
    expect([...found.keys()].sort()).toEqual([...ids].sort())
    expect((await cli.inspect('container', [NO_SUCH_ID])).size).toBe(0)
  })

  it('inspects by name as well, keyed by full ID: a re-check can tell a replacement from a removal', async () => {
    const runId = tracked()
    const container = await createRunContainer(runId, {running: false})
    const network = await createRunNetwork(runId)
    const found = await cli.inspect('container', [runId, NO_SUCH_ID])
    expect([...found.keys()]).toEqual([container])
    expect(found.get(container)).toMatchObject({id: container, name: runId})
    expect([...(await cli.inspect('network', [`moat-${runId}`])).keys()]).toEqual([network])
  })

  it('removes many IDs in one call and tells removed, already gone and in use apart', async () => {
    const [free, busy] = [tracked(), tracked()]
    const freeNet = await createRunNetwork(free)
    const busyNet = await createRunNetwork(busy)
    const running = await createRunContainer(busy, {network: busyNet})
    const stopped = await createRunContainer(free, {running: false})

    const networks = await cli.remove('network', [freeNet, busyNet, NO_SUCH_ID])
    expect(networks.failures.has(freeNet)).toBe(false)
    expect(networks.failures.get(busyNet)).toMatchObject({kind: 'in-use'})
    expect(networks.failures.get(NO_SUCH_ID)).toMatchObject({kind: 'gone'})
    expect((await docker(['network', 'inspect', freeNet])).exitCode).not.toBe(0)
    expect(await dockerOk(['network', 'inspect', '--format', '{{.Id}}', busyNet])).toBe(busyNet)

    const containers = await cli.remove('container', [stopped, running, NO_SUCH_ID])
    // The API adapter removes side by side: the order the outcomes come in says nothing.
    expect(new Map([...containers.failures].map(([id, failure]) => [id, failure.kind]))).toEqual(
      new Map([
        [NO_SUCH_ID, 'gone'],
        [running, 'in-use'],
      ]),
    )
    expect(await dockerOk(['ps', '--all', '--quiet', '--no-trunc', '--filter', `id=${stopped}`])).toBe('')
  })

  it('stops many containers in one call', async () => {
    const runId = tracked()
    const ids = [await createRunContainer(runId), await createSidecar(runId, {role: 'buildkit-sidecar'})]
    const outcome = await cli.stop([...ids, NO_SUCH_ID])
    expect([...outcome.failures].map(([id, failure]) => [id, failure.kind])).toEqual([[NO_SUCH_ID, 'gone']])
    expect(await dockerOk(['inspect', '--format', '{{.State.Running}}', ...ids])).toBe('false\nfalse')
  })

  it('detaches a stopped container from a network', async () => {
    const runId = tracked()
    const network = await createRunNetwork(runId)
    const container = await createRunContainer(runId, {network, running: false})
    const outcome = await cli.disconnect(network, [{container, name: runId}])
    expect(outcome.failures.size).toBe(0)
    expect(await dockerOk(['inspect', '--format', '{{json .NetworkSettings.Networks}}', container])).toBe('{}')
  })

  it('an engine that does not answer is RuntimeUnreachableError, never an empty list', async () => {
    process.env.DOCKER_HOST = 'unix:///nonexistent/moat-test/docker.sock'
    await expect(cli.ping()).rejects.toBeInstanceOf(RuntimeUnreachableError)
    await expect(cli.list('network')).rejects.toThrow(/Docker engine unreachable: Cannot connect/)
    await expect(cli.remove('network', [NO_SUCH_ID])).rejects.toBeInstanceOf(RuntimeUnreachableError)
  })

  it(adapter.needsCli ? 'no docker CLI on PATH is RuntimeAbsentError' : 'needs no docker CLI on PATH', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'empty-path-'))
    process.env.PATH = empty
    try {
      if (adapter.needsCli) {
        await expect(cli.ping()).rejects.toBeInstanceOf(RuntimeAbsentError)
      } else {
        await cli.ping()
        expect((await cli.list('network')).map((network) => network.name)).toContain('host')
      }
    } finally {
      rmSync(empty, {force: true, recursive: true})
    }
  })
})

// The CLI's half of "confirmed removals are never lost": which IDs a batched `docker rm` echoed before the engine
// went (the API adapter's half is in docker-api.test.ts, through its own proxy).
describeEngine('DockerCli over an engine that dies mid-batch', () => {
  useEngineInProcessEnv()
  const runIds = trackRunIds()
  const tracked = () => runIds.next()

  it('an engine that dies half-way through a batched rm: every ID the CLI echoed is done, the others failed and not confirmed', async () => {
    const ids = await Promise.all(Array.from({length: 12}, () => createRunContainer(tracked(), {running: false})))
    const proxy = await startEngineProxy(requireEngine(), 5)
    try {
      process.env.DOCKER_HOST = proxy.dockerHost
      const {failures} = await new DockerCli().remove('container', ids)
      expect(proxy.dead).toBe(true)
      process.env.DOCKER_HOST = requireEngine()
      const remaining = (await Promise.all(ids.map(async (id) => ((await docker(['inspect', id])).exitCode === 0 ? [id] : [])))).flat()
      expect(remaining).toHaveLength(7)
      expect([...failures.keys()].sort()).toEqual(remaining.sort())
      for (const failure of failures.values()) {
        expect(failure).toMatchObject({kind: 'error', lost: true, message: expect.stringMatching(/^Docker engine unreachable, not confirmed: /)})
      }
    } finally {
      await proxy.close()
    }
  })
})
