// `moat system status` as a user runs it (the built binary), against a private engine of its own whose address pool
// holds only 4 subnets (10.237.4.0/22 split into /24s), so "nearly full" is real: the engine itself refuses a fifth
// network. The shared test engine's pool is far larger and other suites' networks come and go on it.
import {spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, afterEach, beforeAll, beforeEach, expect, it} from 'vitest'

import {collectOutput} from '../helpers/child-output.js'
import {jsonOf, runCli} from '../helpers/cli.js'
import {describeEngine} from '../helpers/engine.js'
import {exampleEnv, expectReadmeExample, onExampleHost} from '../helpers/example-host.js'
import {makeMoatHome, makeRunDir, type MoatHome, newRunId} from '../helpers/moat-fixtures.js'
import {itAsRoot} from '../helpers/root.js'

const ENGINE_SH = fileURLToPath(new URL('../engine/engine.sh', import.meta.url))
const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
/**
 * Distinct from the shared engine's 10.201.0.0/16 and from the pools other engines on this machine use; two runs side
 * by side (CI's Node 22 and 24 tiers) each name their own with MOAT_TEST_STATUS_POOL.
 */
const SMALL_POOL = process.env.MOAT_TEST_STATUS_POOL || '10.237.4.0/22'

async function engineSh(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{code: number; stderr: string; stdout: string}> {
  const child = spawn('bash', [ENGINE_SH, ...args], {env: {...process.env, ...env}, stdio: ['ignore', 'pipe', 'pipe']})
  const {code, stderr, stdout} = await collectOutput(child)
  return {code: code ?? 1, stderr, stdout}
}

describeEngine('moat system status (a private engine with a 4-subnet pool)', () => {
  let engineDir: string
  let dockerHost: string
  let home: MoatHome
  let tmpRoot: string

  /** The docker CLI against the small engine only. */
  const docker = (args: string[]) => {
    const result = spawnSync('docker', args, {encoding: 'utf8', env: {...process.env, DOCKER_CONTEXT: '', DOCKER_HOST: dockerHost}, timeout: 60_000})
    return {code: result.status ?? 1, stderr: result.stderr, stdout: result.stdout.trim()}
  }

  const dockerOk = (args: string[]) => {
    const result = docker(args)
    if (result.code !== 0) throw new Error(`docker ${args.join(' ')}: ${result.stderr.trim()}`)
    return result.stdout
  }

  const moatNetwork = (runId: string) => dockerOk(['network', 'create', '--label', 'moat.managed=true', `moat-${runId}`])
  const status = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runCli(['system', 'status', '--tmp-dir', tmpRoot, ...args], {DOCKER_HOST: dockerHost, MOAT_HOME: home.home, ...env})

  beforeAll(async () => {
    // Short: the engine's socket path must stay under 108 bytes.
    engineDir = mkdtempSync('/tmp/mte-st-')
    const started = await engineSh(['start', engineDir], {MOAT_TEST_ADDRESS_POOL: SMALL_POOL})
    const host = /^DOCKER_HOST=(\S+)$/m.exec(started.stdout)?.[1]
    if (started.code !== 0 || !host) throw new Error(`engine.sh start ${engineDir} failed: ${started.stderr.trim().split('\n').at(-1)}`)
    dockerHost = host
  })
  afterAll(async () => {
    // engine.sh stops only the dockerd whose pidfile is in this dir (by PID), then removes the dir.
    if (engineDir) await engineSh(['stop', engineDir])
  })
  beforeEach(async () => {
    home = await makeMoatHome()
    tmpRoot = mkdtempSync(join(tmpdir(), 'mts-tmp-'))
  })
  afterEach(async () => {
    const ids = dockerOk(['network', 'ls', '--quiet', '--no-trunc', '--filter', 'type=custom']).split('\n').filter(Boolean)
    if (ids.length > 0) dockerOk(['network', 'rm', ...ids])
    await home.cleanup()
    rmSync(tmpRoot, {force: true, recursive: true})
  })

  it('a clean engine: 0 of 4 subnets used, nothing to clean, exit 0', () => {
    const result = status(['--min-age', '0s'])
    expect(result.exitCode).toBe(0)
    const lines = result.stdout.split('\n')
    expect(lines[0]).toMatch(/^TARGET +RUNTIME +FOUND +ORPHANS +SIZE +RECLAIMABLE$/)
    expect(lines).toContain('networks: 0 of 4 subnets used, none by moat orphans')
    expect(lines.at(-2)).toBe('Nothing to clean.')
    const json = jsonOf(status(['--min-age', '0s', '--json']))
    expect(json).toMatchObject({
      minAge: '0s',
      runtimes: [{addressPools: {capacity: 4, pools: [{base: SMALL_POOL, size: 24, subnets: 4}], source: 'daemon', used: 0, usedByMoatOrphans: 0}, runtime: 'docker'}],
      somethingToClean: false,
      totals: {found: 0, orphans: 0},
    })
  })

  it('nearly full: 3 of 4 subnets, 2 held by networks of dead runs, exit 4; nothing removed, no lock taken', async () => {
    const [dead1, dead2, live] = [newRunId(), newRunId(), newRunId()]
    await makeRunDir(home.home, live, {state: 'running'})
    const ids = [moatNetwork(dead1), moatNetwork(dead2), moatNetwork(live)]
    const result = status(['--min-age', '0s'])
    expect(result.exitCode).toBe(4)
    expect(result.stdout).toMatch(/^networks +docker +3 +2 +- +-$/m)
    expect(result.stdout).toContain('networks: 3 of 4 subnets used, 2 by moat orphans: run moat-system clean-networks\n')
    expect(result.stdout).toContain('To clean: 2 orphans. Run moat-system clean-networks (2).\n')

    const json = jsonOf(status(['--min-age', '0s', '--json']))
    expect(json.somethingToClean).toBe(true)
    const networks = (json.targets as Array<Record<string, unknown>>).find((target) => target.target === 'networks')
    expect(networks).toEqual({
      bytes: null,
      command: 'clean-networks',
      found: 3,
      orphanBytes: null,
      orphans: 2,
      runtimes: [{bytes: null, found: 3, orphanBytes: null, orphans: 2, runtime: 'docker'}],
      target: 'networks',
    })
    expect((json.targets as Array<{target: string}>).map((target) => target.target)).toEqual([
      'containers', 'sidecars', 'helpers', 'networks', 'volumes', 'state', 'temp',
    ])
    const [docker0] = json.runtimes as Array<{addressPools: Record<string, unknown>}>
    expect(docker0!.addressPools).toMatchObject({capacity: 4, used: 3, usedByMoatOrphans: 2})
    expect(new Set(docker0!.addressPools.moatOrphanNetworks as string[])).toEqual(new Set([`moat-${dead1}`, `moat-${dead2}`]))

    // Read-only: every network is still there, and no lock directory was made in the moat home.
    for (const id of ids) expect(docker(['network', 'inspect', id]).code).toBe(0)
    expect(readdirSync(home.home)).toEqual(['runs'])
    // The count is the engine's own: one more network fits, then it refuses.
    dockerOk(['network', 'create', 'someone-elses'])
    expect(docker(['network', 'create', 'one-too-many']).stderr).toMatch(/could not find an available, non-overlapping IPv4 address pool/)
    expect(status(['--min-age', '0s']).stdout).toContain('networks: 4 of 4 subnets used, 2 by moat orphans: run moat-system clean-networks\n')
  })

  it('the docker CLI fallback (MOAT_DOCKER_CLIENT=cli) reads the same pools and subnets as the Engine API', () => {
    moatNetwork(newRunId())
    dockerOk(['network', 'create', 'someone-elses'])
    const api = jsonOf(status(['--min-age', '0s', '--json']))
    const cli = jsonOf(status(['--min-age', '0s', '--json'], {MOAT_DOCKER_CLIENT: 'cli'}))
    expect(api.runtimes).toMatchObject([{addressPools: {capacity: 4, used: 2, usedByMoatOrphans: 1}}])
    expect(cli.runtimes).toEqual(api.runtimes)
    expect(cli.targets).toEqual(api.targets)
  })

  it('--min-age applies: young orphans are kept, so exit 0 with their subnets counted as used', () => {
    moatNetwork(newRunId())
    const result = status([])
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toMatch(/^networks +docker +1 +0 /m)
    expect(result.stdout).toContain('networks: 1 of 4 subnets used, none by moat orphans\n')
  })

  it('an engine that cannot be asked is an error (exit 1), never "nothing to clean"', () => {
    const nowhere = {DOCKER_HOST: `unix://${join(tmpRoot, 'no-engine.sock')}`}
    for (const runtime of ['auto', 'docker']) {
      const result = status(['--runtime', runtime], nowhere)
      expect(result.exitCode).toBe(1)
      expect(result.stderr).toMatch(/^Error: .*Cannot connect to the Docker daemon/m)
    }

    const json = status(['--json'], nowhere)
    expect(json.exitCode).toBe(1)
    expect(jsonOf(json)).toMatchObject({error: {exitCode: 1, message: expect.stringMatching(/Cannot connect to the Docker daemon/)}})
  })

  itAsRoot("the README's example: two dead runs' networks, a live one's and an old temp dir; then --quiet --exit-zero", () => {
    const [dead1, dead2, live] = [newRunId(), newRunId(), newRunId()]
    for (const runId of [dead1, dead2, live]) moatNetwork(runId)
    const fixture = [
      `mkdir -p /tmp/home/.moat/runs/${live} /tmp/moat-aws-41873`,
      String.raw`printf '[default]\nsecret!\n' > /tmp/moat-aws-41873/credentials`,
      `touch -d @$(($(date +%s) - 3 * 3600)) /tmp/moat-aws-41873/credentials /tmp/moat-aws-41873`,
    ].join('\n')
    const socket = dockerHost.replace(/^unix:\/\//, '')
    const shown = (args: string[]) => {
      const [file, ...argv] = onExampleHost(socket, fixture, [process.execPath, BIN, 'status', ...args])
      const result = spawnSync(file!, argv, {encoding: 'utf8', env: exampleEnv(), input: ''})
      expect(result.stderr).toBe('')
      return `$ moat-system status ${args.join(' ')}\n${result.stdout}$ echo $?\n${result.status}\n`
    }

    const text = shown(['--min-age', '0s']) + shown(['--min-age', '0s', '--quiet', '--exit-zero'])
    expect(text).toContain('networks: 3 of 4 subnets used, 2 by moat orphans: run moat-system clean-networks\n')
    // Under the table, why it exits 4 and how a script gets 0; --exit-zero leaves that line out.
    expect(text).toContain('\nExit code 4: something to clean (--exit-zero exits 0, for a script that only wants the numbers).\nTo clean: ')
    expect(shown(['--min-age', '0s', '--exit-zero'])).not.toContain('Exit code 4')
    expect(text).toMatch(/\$ echo \$\?\n4\n\$ moat-system status --min-age 0s --quiet --exit-zero\nTo clean: 3 orphans, 18 B\. [^\n]+\n\$ echo \$\?\n0\n$/)
    // The engine's ID is its own: another test engine has another.
    expectReadmeExample('status', text, (shown) => shown.replaceAll(/^engine docker \S+:/gm, 'engine docker ID:'))
  })

  it('takes no --force or --dry-run (exit 2) and needs no terminal', () => {
    for (const flag of ['--force', '--dry-run']) {
      const result = status([flag])
      expect(result.exitCode).toBe(2)
      expect(result.stderr).toContain(flag)
    }

    expect(existsSync(tmpRoot)).toBe(true)
  })
})
