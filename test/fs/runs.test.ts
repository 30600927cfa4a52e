// The run registry: run dirs under $MOAT_HOME/runs and the moat daemon's GET /v1/runs, served here by a small real
// HTTP server on a unix socket (test/fixtures/fake-daemon.ts), as the daemon serves it (moat-resources.md §6.3).
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {askDaemon, daemonSocket} from '../../src/lib/moat/daemon.js'
import {RunRegistry} from '../../src/lib/moat/registry.js'
import {revived} from '../../src/lib/targets/engine-target.js'
import {type FakeDaemon, startFakeDaemon} from '../fixtures/fake-daemon.js'
import {makeRunDir, newRunId, useMoatHome, ZERO_TIME} from '../helpers/moat-fixtures.js'

const home = useMoatHome()
let daemon: FakeDaemon | undefined

afterEach(async () => {
  await daemon?.close()
  daemon = undefined
})

describe('RunRegistry', () => {
  it('a run dir with metadata.json is alive; state, runtime and IDs are read, zero times mean unset', async () => {
    const runId = newRunId()
    /* eslint-disable camelcase */
    await makeRunDir(home.home, runId, {
      container_id: 'a'.repeat(64),
      network_id: 'b'.repeat(64),
      runtime: 'docker',
      service_containers: {postgres: 'c'.repeat(64)},
      state: 'stopped',
      stopped_at: ZERO_TIME,
    })
    /* eslint-enable camelcase */
    const registry = await RunRegistry.read(home.home)
    expect(registry.aliveReason(runId)).toBe('run dir exists (state stopped)')
    const {metadata} = registry.runs.get(runId)!
    expect(metadata).toMatchObject({
      containerId: 'a'.repeat(64),
      networkId: 'b'.repeat(64),
      runtime: 'docker',
      serviceContainers: {postgres: 'c'.repeat(64)},
      state: 'stopped',
      stoppedAtMs: undefined,
    })
    expect(metadata!.createdAtMs).toBeGreaterThan(Date.now() - 60_000)
  })

  it('tolerates unknown fields and fields of unexpected types', async () => {
    const runId = newRunId()
    const dir = await makeRunDir(home.home, runId, null)
    writeFileSync(
      join(dir, 'metadata.json'),
      JSON.stringify({created_at: 'yesterday', future_field: {nested: [1, 2]}, network_id: 42, runtime: '', state: 'running'}), // eslint-disable-line camelcase
    )
    const registry = await RunRegistry.read(home.home)
    expect(registry.runs.get(runId)?.metadata).toEqual({
      buildkitContainerId: undefined,
      containerId: undefined,
      createdAtMs: undefined,
      networkId: undefined,
      runtime: undefined,
      serviceContainers: {},
      startedAtMs: undefined,
      state: 'running',
      stoppedAtMs: undefined,
      workspaceVolume: undefined,
    })
  })

  it('a run dir without metadata.json, or with an unreadable one, is alive all the same', async () => {
    const bare = newRunId()
    const broken = newRunId()
    await makeRunDir(home.home, bare, null)
    writeFileSync(join(await makeRunDir(home.home, broken, null), 'metadata.json'), '{"name": "half-writ')
    const registry = await RunRegistry.read(home.home)
    expect(registry.aliveReason(bare)).toMatch(/^run dir exists without metadata\.json/)
    expect(registry.aliveReason(broken)).toMatch(/^run dir exists \(metadata\.json unreadable: /)
  })

  it('a run without a dir has ended; names that are not run IDs and plain files are ignored', async () => {
    mkdirSync(join(home.runsDir, 'run_NOTHEX000000'))
    writeFileSync(join(home.runsDir, newRunId()), '')
    const registry = await RunRegistry.read(home.home)
    expect(registry.runs.size).toBe(0)
    expect(registry.aliveReason(newRunId())).toBeUndefined()
    expect(registry.daemon).toEqual({answered: false, problem: undefined, runIds: new Set()})
  })

  it('a run dir that cannot be checked (a symlink loop: ELOOP) counts as alive, with the path and the error', async () => {
    const looped = newRunId()
    symlinkSync(looped, join(home.runsDir, looped))
    const registry = await RunRegistry.read(home.home)
    expect(registry.aliveReason(looped)).toBe(`its run dir cannot be checked: ${join(home.runsDir, looped)} cannot be read (ELOOP)`)
  })

  it('a metadata.json that is a symlink, or larger than moat ever writes, is never read: the run is alive all the same', async () => {
    const [linked, huge] = [newRunId(), newRunId()]
    const target = join(home.home, 'elsewhere.json')
    writeFileSync(target, JSON.stringify({state: 'stopped'}))
    symlinkSync(target, join(await makeRunDir(home.home, linked, null), 'metadata.json'))
    writeFileSync(join(await makeRunDir(home.home, huge, null), 'metadata.json'), `{"name":"${'x'.repeat(1024 * 1024)}"}`)
    const registry = await RunRegistry.read(home.home)
    expect(registry.runs.get(linked)).toEqual({dir: join(home.runsDir, linked), id: linked, metadataError: `${join(home.runsDir, linked, 'metadata.json')} is a symlink (ELOOP): never followed`})
    expect(registry.aliveReason(huge)).toMatch(/^run dir exists \(metadata\.json unreadable: .*metadata\.json is larger than a metadata\.json can be \(1048587 bytes, at most 1048576\)\)$/)
  })

  it('refuses to judge anything when runs/ is missing (a wrong --moat-home)', async () => {
    rmSync(home.runsDir, {recursive: true})
    await expect(RunRegistry.read(home.home)).rejects.toThrow(/runs directory .*\/runs does not exist.*--moat-home/)
  })

  it('runs the daemon lists are alive; it is asked again when the runs are read again', async () => {
    const listed = newRunId()
    daemon = await startFakeDaemon(home.home, [listed, 'not-a-run-id'])
    const registry = await RunRegistry.read(home.home)
    expect(registry.daemon).toMatchObject({answered: true, runIds: new Set([listed])})
    expect(registry.aliveReason(listed)).toBe('the moat daemon lists it')

    const late = newRunId()
    daemon.runs.push(late)
    const again = await RunRegistry.read(home.home)
    expect([revived(registry, late), revived(again, late)]).toEqual([undefined, 'the moat daemon now lists the run'])
    expect(daemon.requests).toBe(2)
  })

  it('reading the runs again sees a run dir re-created since the scan', async () => {
    const runId = newRunId()
    const registry = await RunRegistry.read(home.home)
    expect(registry.aliveReason(runId)).toBeUndefined()
    await makeRunDir(home.home, runId, null)
    const again = await RunRegistry.read(home.home)
    expect([runId, newRunId()].map((id) => revived(again, id))).toEqual(['run dir re-created since the scan', undefined])
  })
})

describe('askDaemon', () => {
  it('no daemon (no socket, or one left by a daemon that died) lists nothing and says nothing', async () => {
    expect(await askDaemon(home.home)).toEqual({answered: false, problem: undefined, runIds: new Set()})
    mkdirSync(join(home.home, 'proxy'))
    // A process that exits while listening leaves its socket file behind, as a SIGKILLed daemon does.
    const script = `require('net').createServer().listen(${JSON.stringify(daemonSocket(home.home))}, () => process.exit(0))`
    expect(spawnSync(process.execPath, ['-e', script]).status).toBe(0)
    expect(existsSync(daemonSocket(home.home))).toBe(true)
    expect(await askDaemon(home.home)).toEqual({answered: false, problem: undefined, runIds: new Set()})
  })

  it('a daemon that does not answer in time lists nothing, and says so', async () => {
    daemon = await startFakeDaemon(home.home, [newRunId()], {hang: true})
    const started = Date.now()
    const runs = await askDaemon(home.home, 300)
    expect(Date.now() - started).toBeLessThan(2000)
    expect(runs).toMatchObject({answered: false, problem: expect.stringMatching(/did not answer within 0\.3s$/), runIds: new Set()})
  })

  it('a daemon answering with an error lists nothing, and says so', async () => {
    daemon = await startFakeDaemon(home.home, [newRunId()], {status: 500})
    expect(await askDaemon(home.home)).toMatchObject({answered: false, problem: expect.stringMatching(/HTTP 500/)})
  })
})
