// AppleCli against a SIMULATION: test/fixtures/fake-container/container replays the formats of Apple's `container`
// CLI recorded in moat-resources.md §4.2, §4.4 and §7. The real CLI runs only on macOS; nothing here proves the
// real CLI still prints these formats.
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {AppleCli, parseNetworkTable} from '../../src/lib/runtime/apple.js'
import {RuntimeAbsentError, RuntimeUnreachableError} from '../../src/lib/runtime/errors.js'
import {type FakeHandle, type FakeState, useFakeContainer} from '../fixtures/fake-container/state.js'

const CREATED = '2026-01-02T03:04:05Z'

function state(schema: FakeState['schema']): FakeState {
  return {
    containers: [
      {address: '192.168.65.2/24', created: CREATED, id: 'run_aaaaaaaaaaaa', image: 'moat/run:1', state: 'running'},
      {address: '192.168.65.3/24', created: CREATED, id: 'moat-postgres-run_aaaaaaaaaaaa', image: 'postgres:16', state: 'running'},
      {created: CREATED, id: 'run_bbbbbbbbbbbb', image: 'moat/run:2', state: 'stopped'},
      {created: CREATED, id: 'buildkit', image: 'moby/buildkit', state: 'running'},
    ],
    networks: [
      {name: 'default', subnet: '192.168.64.0/24'},
      {name: 'moat-run_aaaaaaaaaaaa', subnet: '192.168.65.0/24'},
      {name: 'moat-run_bbbbbbbbbbbb', subnet: '192.168.66.0/24'},
      {name: 'moat-shared', subnet: '192.168.67.0/24'},
    ],
    schema,
  }
}

describe('AppleCli on the simulated `container` CLI (not the real one: it runs only on macOS)', () => {
  let fake: FakeHandle | undefined
  const use = (s: FakeState) => {
    fake = useFakeContainer(s)
    return fake
  }

  afterEach(() => {
    fake?.restore()
    fake = undefined
  })

  for (const schema of ['legacy', '1.0.0'] as const) {
    it(`reads containers in the ${schema} schema of \`container list --all --format json\``, async () => {
      use(state(schema))
      const containers = await new AppleCli().list('container')
      expect(containers.find((c) => c.id === 'run_aaaaaaaaaaaa')).toEqual({
        createdMs: Date.parse(CREATED),
        finishedMs: undefined,
        id: 'run_aaaaaaaaaaaa',
        image: 'moat/run:1',
        labels: {},
        mounts: [],
        name: 'run_aaaaaaaaaaaa',
        networks: [{name: 'moat-run_aaaaaaaaaaaa'}],
        running: true,
        state: 'running',
      })
      expect(containers.find((c) => c.id === 'run_bbbbbbbbbbbb')).toMatchObject({networks: [], running: false, state: 'stopped'})
    })
  }

  it('a 1.0.0 entry whose status is null is a container in an unknown state, not a running one', async () => {
    const s = state('1.0.0')
    s.containers[2]!.statusNull = true
    use(s)
    const [inspected] = (await new AppleCli().inspect('container', ['run_bbbbbbbbbbbb'])).values()
    expect(inspected).toMatchObject({running: false, state: 'unknown'})
  })

  it('reads the text table of `container network list` and ties running containers to networks by subnet', async () => {
    use(state('legacy'))
    const networks = await new AppleCli().list('network')
    expect(networks.map((n) => n.name)).toEqual(['default', 'moat-run_aaaaaaaaaaaa', 'moat-run_bbbbbbbbbbbb', 'moat-shared'])
    expect(networks[1]).toEqual({
      createdMs: undefined,
      endpoints: [
        {container: 'run_aaaaaaaaaaaa', name: 'run_aaaaaaaaaaaa'},
        {container: 'moat-postgres-run_aaaaaaaaaaaa', name: 'moat-postgres-run_aaaaaaaaaaaa'},
      ],
      id: 'moat-run_aaaaaaaaaaaa',
      labels: {},
      name: 'moat-run_aaaaaaaaaaaa',
    })
    expect(networks[2]!.endpoints).toEqual([])
  })

  it('parses the network table the way moat does: header skipped, blank lines tolerated', () => {
    const table = 'NETWORK                STATE    SUBNET\n\nmoat-run_abc123def456  running  192.168.65.0/24\n'
    expect(parseNetworkTable(table)).toEqual([{name: 'moat-run_abc123def456', subnet: '192.168.65.0/24'}])
    expect(parseNetworkTable('')).toEqual([])
  })

  it('inspects many containers in one call; one that is gone is simply absent', async () => {
    const handle = use(state('1.0.0'))
    const found = await new AppleCli().inspect('container', ['run_aaaaaaaaaaaa', 'run_bbbbbbbbbbbb', 'run_cccccccccccc'])
    expect([...found.keys()]).toEqual(['run_aaaaaaaaaaaa', 'run_bbbbbbbbbbbb'])
    expect(handle.calls().filter((args) => args[0] === 'inspect')).toHaveLength(1)
  })

  it('stops and removes many containers in one call each, with per-ID outcomes', async () => {
    const handle = use(state('1.0.0'))
    const cli = new AppleCli()
    const removed = await cli.remove('container', ['run_bbbbbbbbbbbb', 'run_aaaaaaaaaaaa', 'run_cccccccccccc'])
    expect([...removed.failures].map(([id, f]) => [id, f.kind])).toEqual([
      ['run_aaaaaaaaaaaa', 'error'],
      ['run_cccccccccccc', 'gone'],
    ])
    const stopped = await cli.stop(['run_aaaaaaaaaaaa', 'run_cccccccccccc'])
    expect([...stopped.failures].map(([id, f]) => [id, f.kind])).toEqual([['run_cccccccccccc', 'gone']])
    expect(handle.read().containers.map((c) => [c.id, c.state])).toEqual([
      ['run_aaaaaaaaaaaa', 'stopped'],
      ['moat-postgres-run_aaaaaaaaaaaa', 'running'],
      ['buildkit', 'running'],
    ])
    expect(handle.calls().map((args) => args[0])).toEqual(['rm', 'stop'])
  })

  it('network delete retries "in use" failures with doubling waits (§4.4) and then succeeds', async () => {
    const s = state('1.0.0')
    s.networks[2]!.busy = 2
    s.networks[3]!.busy = 1
    s.networks[3]!.busyMessage = 'failed to delete network: ip allocator cannot be disabled with pending operations'
    const handle = use(s)
    const started = Date.now()
    const outcome = await new AppleCli({retryBaseMs: 40}).remove('network', ['moat-run_bbbbbbbbbbbb', 'moat-shared', 'moat-run_cccccccccccc'])
    // 40 + 80 ms for the first network, 40 ms for the second.
    expect(Date.now() - started).toBeGreaterThanOrEqual(160)
    expect([...outcome.failures].map(([id, f]) => [id, f.kind])).toEqual([['moat-run_cccccccccccc', 'gone']])
    expect(handle.read().networks.map((n) => n.name)).toEqual(['default', 'moat-run_aaaaaaaaaaaa'])
    expect(handle.calls().filter((args) => args[1] === 'delete').map((args) => args[2])).toEqual([
      'moat-run_bbbbbbbbbbbb',
      'moat-run_bbbbbbbbbbbb',
      'moat-run_bbbbbbbbbbbb',
      'moat-shared',
      'moat-shared',
      'moat-run_cccccccccccc',
    ])
  })

  it('network delete gives up after 5 attempts and reports the network in use', async () => {
    const s = state('legacy')
    s.networks[2]!.busy = 99
    const handle = use(s)
    const outcome = await new AppleCli({retryBaseMs: 1}).remove('network', ['moat-run_bbbbbbbbbbbb'])
    expect(outcome.failures.get('moat-run_bbbbbbbbbbbb')).toMatchObject({kind: 'in-use', message: expect.stringMatching(/in use/)})
    expect(handle.calls().filter((args) => args[1] === 'delete')).toHaveLength(5)
  })

  it('the default retry waits start at 0.5 s', async () => {
    const s = state('legacy')
    s.networks[2]!.busy = 1
    use(s)
    const started = Date.now()
    await new AppleCli().remove('network', ['moat-run_bbbbbbbbbbbb'])
    expect(Date.now() - started).toBeGreaterThanOrEqual(500)
  })

  it('services that do not answer are RuntimeUnreachableError; no CLI on PATH is RuntimeAbsentError', async () => {
    use({...state('1.0.0'), down: true})
    const cli = new AppleCli()
    await expect(cli.ping()).rejects.toBeInstanceOf(RuntimeUnreachableError)
    await expect(cli.list('network')).rejects.toThrow(/XPC connection error/)
    fake!.restore()
    fake = undefined

    const empty = mkdtempSync(join(tmpdir(), 'empty-path-'))
    const saved = process.env.PATH
    process.env.PATH = empty
    try {
      await expect(cli.ping()).rejects.toBeInstanceOf(RuntimeAbsentError)
    } finally {
      process.env.PATH = saved
      rmSync(empty, {force: true, recursive: true})
    }
  })

  it('has no volumes and no disconnect (§4.4, §5.1)', async () => {
    use(state('1.0.0'))
    const cli = new AppleCli()
    expect(await cli.list('volume')).toEqual([])
    const outcome = await cli.disconnect('moat-run_aaaaaaaaaaaa', [{container: 'run_aaaaaaaaaaaa', name: 'run_aaaaaaaaaaaa'}])
    expect(outcome.failures.get('run_aaaaaaaaaaaa')).toMatchObject({kind: 'error'})
  })
})
