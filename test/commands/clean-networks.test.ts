// `moat system clean-networks` as a user runs it: the built CLI (`npm test` builds first) against the real test
// engine, asserting exit codes, JSON and what is left on the engine.
import {execFileSync} from 'node:child_process'
import {chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {delimiter, join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {FAKE_CONTAINER_DIR, type FakeHandle, useFakeContainer} from '../fixtures/fake-container/state.js'
import {type CliResult, jsonOf, runCli} from '../helpers/cli.js'
import {describeEngine, docker, dockerOk, requireEngine} from '../helpers/engine.js'
import {
  createRunContainer,
  createRunNetwork,
  createSidecar,
  makeMoatHome,
  makeRunDir,
  type MoatHome,
  newRunId,
  removeAllForRun,
} from '../helpers/moat-fixtures.js'
import {protectOtherRuns} from '../lib/runtime/shared-engine.js'

/**
 * --min-age for runs that remove: longer than the CLI takes to start and list, so networks other suites create
 * while it starts are still young when it judges them (see test/lib/runtime/shared-engine.ts).
 */
const MIN_AGE = '3s'
const MIN_AGE_MS = 3000

async function networkExists(id: string): Promise<boolean> {
  return (await docker(['network', 'inspect', id])).exitCode === 0
}

function itemsByName(result: CliResult): Record<string, Record<string, unknown>> {
  return Object.fromEntries((jsonOf(result).items ?? []).map((item) => [item.name as string, item]))
}

describeEngine('moat system clean-networks', () => {
  const runIds: string[] = []
  let home: MoatHome
  let fixturesSince: number

  const tracked = (): string => {
    const runId = newRunId()
    runIds.push(runId)
    return runId
  }

  const cleanNetworks = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runCli(['system', 'clean-networks', ...args], {DOCKER_HOST: requireEngine(), MOAT_HOME: home.home, ...env})

  /** A removing run over this suite's fixtures only: they are old enough, every other run counts as alive. */
  async function forced(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
    const left = fixturesSince + MIN_AGE_MS + 300 - Date.now()
    if (left > 0) await sleep(left)
    await protectOtherRuns(home.home, runIds)
    return cleanNetworks(['--force', '--json', '--min-age', MIN_AGE, ...args], env)
  }

  beforeEach(async () => {
    home = await makeMoatHome()
    fixturesSince = Date.now()
  })

  afterEach(async () => {
    for (const runId of runIds.splice(0)) await removeAllForRun(runId)
    await home.cleanup()
  })

  it('--force --json removes what ended runs left, keeps the rest, and says why in one JSON document', async () => {
    const [ended, live, used, stale, young, unlabelled] = [tracked(), tracked(), tracked(), tracked(), tracked(), tracked()]
    const endedNet = await createRunNetwork(ended)
    const liveNet = await createRunNetwork(live)
    await makeRunDir(home.home, live, {state: 'running'})
    const usedNet = await createRunNetwork(used)
    await createSidecar(used, {network: usedNet, role: 'service', service: 'postgres'})
    const staleNet = await createRunNetwork(stale)
    const stopped = await createRunContainer(stale, {network: staleNet, running: false})
    const plainNet = await dockerOk(['network', 'create', `moat-${unlabelled}`])
    // Created last, so still younger than --min-age when the CLI looks.
    const pending = sleep(fixturesSince + MIN_AGE_MS + 300 - Date.now() - 1500)
    await pending
    const youngNet = await createRunNetwork(young)

    const result = await forced([])
    expect(result.exitCode).toBe(0)
    expect(result.stderr).toBe('')
    const doc = jsonOf(result)
    expect(doc).toMatchObject({canceled: false, dryRun: false, minAge: MIN_AGE, target: 'networks', warnings: []})
    const items = itemsByName(result)
    expect(items[`moat-${ended}`]).toMatchObject({decision: 'removed', id: endedNet, run: ended, runtime: 'docker'})
    expect(items[`moat-${live}`]).toMatchObject({decision: 'kept', reason: `run ${live} is alive: run dir exists (state running)`})
    expect(items[`moat-${used}`]).toMatchObject({decision: 'kept', reason: `in use: running container moat-postgres-${used} attached`})
    expect(items[`moat-${stale}`]).toMatchObject({decision: 'removed', detach: [stale]})
    expect(items[`moat-${young}`]).toMatchObject({decision: 'kept', reason: expect.stringMatching(/^young: created \d+s ago \(--min-age 3s\)$/)})
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
    const result = cleanNetworks(['--dry-run', '--min-age', '0s', '--moat-home', home.home])
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toContain(`moat-${ended}`)
    expect(result.stdout).toMatch(new RegExp(`would remove: run ${ended} has ended: no run dir, not listed by the moat daemon`))
    expect(result.stdout).toContain(`keep: in use: running container ${used} attached`)
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

  it('spawns as many docker processes for 30 networks as for 3', async () => {
    const shim = mkdtempSync(join(tmpdir(), 'docker-shim-'))
    const log = join(shim, 'calls.log')
    const realDocker = execFileSync('sh', ['-c', 'command -v docker'], {encoding: 'utf8'}).trim()
    writeFileSync(join(shim, 'docker'), `#!/bin/sh\necho "$*" >> '${log}'\nexec '${realDocker}' "$@"\n`)
    chmodSync(join(shim, 'docker'), 0o755)
    const env = {PATH: `${shim}${delimiter}${process.env.PATH}`}
    const countFor = async (networks: number): Promise<number> => {
      fixturesSince = Date.now()
      const ids: string[] = []
      for (let i = 0; i < networks; i++) ids.push(await createRunNetwork(tracked()))
      writeFileSync(log, '')
      const result = await forced([], env)
      expect(result.exitCode).toBe(0)
      expect(jsonOf(result).totals).toMatchObject({failed: 0, removed: networks})
      return readFileSync(log, 'utf8').trim().split('\n').length
    }

    try {
      const few = await countFor(3)
      const many = await countFor(30)
      expect(many).toBe(few)
      expect(few).toBeLessThanOrEqual(7)
    } finally {
      rmSync(shim, {force: true, recursive: true})
    }
  })
})

describe('moat system clean-networks --runtime apple, on the SIMULATED `container` CLI (the real one runs only on macOS)', () => {
  let fake: FakeHandle
  let home: MoatHome

  beforeEach(async () => {
    home = await makeMoatHome()
  })

  afterEach(async () => {
    fake.restore()
    await home.cleanup()
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
    const result = runCli(['system', 'clean-networks', '--runtime', 'apple', '--force', '--json', '--moat-home', home.home], {
      FAKE_CONTAINER_STATE: process.env.FAKE_CONTAINER_STATE,
      PATH: `${FAKE_CONTAINER_DIR}${delimiter}${process.env.PATH}`,
    })
    expect(result.exitCode).toBe(0)
    const items = itemsByName(result)
    expect(items[`moat-${ended}`]).toMatchObject({decision: 'removed', id: `moat-${ended}`, runtime: 'apple'})
    expect(items[`moat-${live}`]).toMatchObject({decision: 'kept'})
    expect(Object.keys(items)).toHaveLength(2)
    expect(fake.read().networks.map((network) => network.name)).toEqual(['default', `moat-${live}`])
  })
})
