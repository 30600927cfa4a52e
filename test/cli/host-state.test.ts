// Issue 20, the host side as a careful attacker tries it, against the built CLI: a runs/ this user can list but not
// search, a symlink planted at the metrics file's temporary name, a FIFO where metadata.json should be, a reaped/
// that leads out of moat's home; and moat's newer state files (moat-resources.md §12.3) that no command may touch.
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {CLI_MIN_AGE, CLI_MIN_AGE_MS, useEngineFixtures} from '../engine/shared-engine.js'
import {collectOutput} from '../helpers/child-output.js'
import {jsonOf, startCli} from '../helpers/cli.js'
import {type EngineProxy, engineProxy} from '../helpers/engine-proxy.js'
import {describeEngine, networkExists, requireEngine} from '../helpers/engine.js'
import {createRunNetwork, makeRunDir, newRunId} from '../helpers/moat-fixtures.js'
import {isRoot, itAsRoot} from '../helpers/root.js'
import {ageTree, HOUR, makeTempDir, makeTmpRoot, removeTmpRoot} from '../helpers/temp-fixtures.js'
import {until} from '../helpers/until.js'

const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
/** Far longer than any of these commands takes on a loaded machine; a read that blocks is killed here and fails. */
const HANG_MS = 30_000

interface Run {
  exitCode: null | number
  stderr: string
  stdout: string
  timedOut: boolean
}

/**
 * The built CLI with exactly this environment (no stray DOCKER_HOST), killed after HANG_MS; as uid 65534 with
 * `asNobody`. Asynchronous: an engine proxy in this process must go on answering while it runs.
 */
async function cli(args: string[], env: NodeJS.ProcessEnv, options: {asNobody?: boolean} = {}): Promise<Run> {
  const base = {HOME: env.MOAT_HOME, PATH: '/usr/bin:/bin', ...env}
  const [command, argv] = options.asNobody
    ? ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, ...args]]
    : [process.execPath, [BIN, ...args]]
  const child = spawn(command, argv, {env: base, stdio: ['ignore', 'pipe', 'pipe']})
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    child.kill('SIGKILL')
  }, HANG_MS)
  const {code, stderr, stdout} = await collectOutput(child)
  clearTimeout(timer)
  return {exitCode: code, stderr, stdout, timedOut}
}

function itemsOf(run: Run): Array<Record<string, unknown>> {
  const doc = jsonOf({exitCode: run.exitCode ?? -1, stderr: run.stderr, stdout: run.stdout}) as {items?: Array<Record<string, unknown>>; targets?: Array<{items: Array<Record<string, unknown>>}>}
  return doc.targets ? doc.targets.flatMap((section) => section.items) : (doc.items ?? [])
}


let scratch: string[] = []
function tmpRoot(): string {
  const dir = realpathSync(makeTmpRoot())
  scratch.push(dir)
  return dir
}

beforeEach(() => {
  scratch = []
})
afterEach(() => {
  for (const dir of scratch) removeTmpRoot(dir)
})

describe('a symlink planted at the metrics file\'s temporary name (case 2)', () => {
  it('a later pass never writes through it: its target stays as it was', async () => {
    const [dir, root, home, elsewhere] = [tmpRoot(), tmpRoot(), tmpRoot(), tmpRoot()]
    const file = join(dir, 'moat-system.prom')
    const victim = join(elsewhere, 'victim')
    writeFileSync(victim, 'precious\n')
    const reaper = startCli(['system', 'reap', '--interval', '1s', '--only', 'temp', '--tmp-dir', root, '--metrics-file', file], {MOAT_HOME: home})
    try {
      await until('the metrics file', () => existsSync(file))
      // The name the reaper used to write through: predictable from its pid.
      symlinkSync(victim, join(dir, `.moat-system.prom.${reaper.child.pid}.tmp`))
      const seen = new Set<number>()
      await until('three passes to replace the metrics file', () => {
        const stat = lstatSync(file, {throwIfNoEntry: false})
        if (stat?.isFile()) seen.add(stat.ino)
        return seen.size >= 3
      })
    } finally {
      reaper.child.kill('SIGTERM')
    }

    expect((await reaper).exitCode).toBe(0)
    expect(readFileSync(victim, 'utf8')).toBe('precious\n')
    expect(lstatSync(file).isFile()).toBe(true)
    expect(readFileSync(file, 'utf8')).toMatch(/\nmoat_system_passes_total \d+\n$/)
  })

  itAsRoot('the start-up check never empties its target either (pid 1 in a fresh pid namespace)', () => {
    const [dir, root, home, elsewhere] = [tmpRoot(), tmpRoot(), tmpRoot(), tmpRoot()]
    const victim = join(elsewhere, 'victim')
    writeFileSync(victim, 'precious\n')
    symlinkSync(victim, join(dir, '.m.prom.1.tmp'))
    const result = spawnSync(
      'unshare',
      ['--pid', '--fork', process.execPath, BIN, 'system', 'reap', '--once', '--only', 'temp', '--tmp-dir', root, '--metrics-file', join(dir, 'm.prom')],
      {encoding: 'utf8', env: {HOME: home, MOAT_HOME: home, PATH: '/usr/bin:/bin'}, input: '', timeout: HANG_MS},
    )
    expect(result.status).toBe(0)
    expect(readFileSync(victim, 'utf8')).toBe('precious\n')
    expect(lstatSync(join(dir, '.m.prom.1.tmp')).isSymbolicLink()).toBe(true)
    expect(readFileSync(join(dir, 'm.prom'), 'utf8')).toMatch(/\nmoat_system_passes_total 1\n$/)
  })
})

describe('outputs the user named: appended to or replaced, never through a symlink', () => {
  it('--log-file or --metrics-file a symlink, or a FIFO as --log-file: one line, exit 2, nothing written or waited on', async () => {
    const [dir, root, home] = [tmpRoot(), tmpRoot(), tmpRoot()]
    const target = join(dir, 'victim')
    writeFileSync(target, 'precious\n')
    symlinkSync(target, join(dir, 'linked'))
    execFileSync('mkfifo', [join(dir, 'fifo.log')])
    const reap = (...flags: string[]) => cli(['system', 'reap', '--once', '--only', 'temp', '--tmp-dir', root, ...flags], {MOAT_HOME: home})
    const cases: Array<[string[], RegExp]> = [
      [['--log-file', join(dir, 'linked')], /^Error: --log-file: .*linked is a symlink, never followed \(give the file it points to\); give a writable file, e\.g\. --log-file ~\/\.moat\/reap\.log\n$/],
      [['--log-file', join(dir, 'fifo.log')], /^Error: --log-file: .*fifo\.log is not a regular file; give a writable file/],
      [['--metrics-file', join(dir, 'linked')], /^Error: --metrics-file: .*linked is a symlink, not a file this tool wrote; give a file, e\.g\. /],
    ]
    for (const [flags, message] of cases) {
      const result = await reap(...flags)
      expect({flags, timedOut: result.timedOut}).toEqual({flags, timedOut: false})
      expect({exitCode: result.exitCode, flags}).toEqual({exitCode: 2, flags})
      expect(result.stderr).toMatch(message)
    }

    expect(readFileSync(target, 'utf8')).toBe('precious\n')
  })
})

/** A run dir the daemon re-created late (§12.3): only devices.jsonl and a capture, 0700 and 0600, unchanged for 30h. */
function lateRunDir(home: string): {dir: string; runId: string} {
  const runId = newRunId()
  const dir = join(home, 'runs', runId)
  mkdirSync(dir, {mode: 0o700, recursive: true})
  writeFileSync(join(dir, 'devices.jsonl'), '{"name":"esp32","action":"detach"}\n', {mode: 0o600})
  writeFileSync(join(dir, 'serial-esp32.capture'), 'raw', {mode: 0o600})
  ageTree(dir, 30 * HOUR)
  return {dir, runId}
}

async function cleanRunDirs(home: string, args: string[]): Promise<Run> {
  return cli(['system', 'clean-state', '--include-run-dirs', ...args], {MOAT_HOME: home})
}

// eslint-disable-next-line no-bitwise -- permission bits
const modeOf = (path: string) => statSync(path).mode & 0o777

describe('clean-state --include-run-dirs moves run dirs only into a real reaped/ inside moat\'s home (case 4, §12.3)', () => {
  it('reaped/ a symlink out of moat\'s home: nothing is moved there, and it says why', async () => {
    const home = tmpRoot()
    mkdirSync(join(home, 'runs'))
    const {dir} = lateRunDir(home)
    const outside = tmpRoot()
    symlinkSync(outside, join(home, 'reaped'))
    const result = await cleanRunDirs(home, ['--force', '--json'])
    expect(result.timedOut).toBe(false)
    const [item] = itemsOf(result)
    expect(item).toMatchObject({decision: 'kept', kind: 'run dir', name: dir, reason: expect.stringMatching(/reaped is a symlink/)})
    expect(readdirSync(outside)).toEqual([])
    expect(readdirSync(dir).sort()).toEqual(['devices.jsonl', 'serial-esp32.capture'])
    expect(result.exitCode).toBe(0)
  })

  it('a move is reported as moved, with nothing counted as freed; the moved dir keeps its 0700/0600 modes', async () => {
    const home = tmpRoot()
    mkdirSync(join(home, 'runs'))
    const {dir, runId} = lateRunDir(home)
    const human = await cleanRunDirs(home, ['--force'])
    expect(human.exitCode).toBe(0)
    expect(human.stdout).toMatch(new RegExp(`moved to ${home}/reaped/${runId}-\\d{8}T\\d{6}Z`))
    expect(human.stdout).toMatch(/ 1 moved \(not deleted\)/)
    expect(human.stdout).not.toMatch(/freed/)
    expect(existsSync(dir)).toBe(false)
    const [moved] = readdirSync(join(home, 'reaped'))
    const at = join(home, 'reaped', moved!)
    expect([modeOf(join(home, 'reaped')), modeOf(at), modeOf(join(at, 'devices.jsonl')), modeOf(join(at, 'serial-esp32.capture'))]).toEqual([0o700, 0o700, 0o600, 0o600])

    const second = lateRunDir(home)
    const json = await cleanRunDirs(home, ['--force', '--json'])
    const [item] = itemsOf(json)
    expect(item).toMatchObject({decision: 'removed', movedBytes: 38, movedTo: expect.stringMatching(/\/reaped\//), name: second.dir, outcome: expect.stringMatching(/^moved to /)})
    expect(item!.bytes).toBeUndefined()
    expect(jsonOf({exitCode: 0, stderr: '', stdout: json.stdout}).totals).toMatchObject({bytesRemoved: 0, removed: 1})
  })
})

describeEngine('moat\'s state as an attacker leaves it', () => {
  const fixtures = useEngineFixtures()
  let proxy: EngineProxy | undefined

  // eslint-disable-next-line mocha/no-sibling-hooks -- beside useEngineFixtures' own
  afterEach(async () => {
    await proxy?.close()
    proxy = undefined
    // runs/ made unsearchable by a test: root removes the home either way, but put it back for readdir-based cleanups.
    if (isRoot && existsSync(join(fixtures.moatHome, 'runs'))) chmodSync(join(fixtures.moatHome, 'runs'), 0o700)
  })

  itAsRoot('runs/ listable but not searchable (mode r--, as uid 65534): exit 1 with the reason, no network removed (case 1)', async () => {
    const live = fixtures.tracked()
    const liveNet = await fixtures.made(createRunNetwork(live))
    await makeRunDir(fixtures.moatHome, live, {state: 'running'})
    await fixtures.waitUntilOld(CLI_MIN_AGE_MS)
    await fixtures.protectOtherRuns()
    // The user reaches the engine through a proxy it may open; removals of anything but this test's network are
    // dropped, so a wrong verdict can hurt no other suite's fixtures.
    proxy = await engineProxy({handle: (request) => (request.method === 'DELETE' && !request.path.includes(liveNet) ? 'drop' : 'forward')})
    const socket = proxy.host.replace(/^unix:\/\//, '')
    chmodSync(dirname(socket), 0o755)
    chmodSync(socket, 0o666)
    execFileSync('chown', ['-R', '65534:65534', fixtures.moatHome])
    chmodSync(join(fixtures.moatHome, 'runs'), 0o400)

    const result = await cli(['system', 'clean-networks', '--force', '--json', '--min-age', CLI_MIN_AGE], {DOCKER_HOST: proxy.host, MOAT_HOME: fixtures.moatHome}, {asNobody: true})
    expect(result.timedOut).toBe(false)
    expect(jsonOf({exitCode: result.exitCode ?? -1, stderr: result.stderr, stdout: result.stdout})).toMatchObject({
      error: {message: expect.stringMatching(/runs directory .*\/runs can be listed but not searched \(EACCES\)/)},
    })
    expect(result.exitCode).toBe(1)
    expect(await networkExists(liveNet)).toBe(true)
    expect(proxy.requests.filter((request) => request.method === 'DELETE')).toEqual([])
  })

  it('a FIFO as metadata.json: no command hangs; the run counts as alive, with the reason (case 3)', async () => {
    const runId = fixtures.tracked()
    const net = await fixtures.made(createRunNetwork(runId))
    const dir = await makeRunDir(fixtures.moatHome, runId, null)
    execFileSync('mkfifo', [join(dir, 'metadata.json')])
    await fixtures.waitUntilOld(CLI_MIN_AGE_MS)
    await fixtures.protectOtherRuns()
    const root = tmpRoot()
    makeTempDir(root, 'moat-aws-1')
    const env = {DOCKER_HOST: requireEngine(), MOAT_HOME: fixtures.moatHome}
    for (const args of [
      ['status', '--json', '--tmp-dir', root],
      ['clean-networks', '--dry-run', '--json'],
      ['clean-containers', '--dry-run', '--json'],
      ['clean-state', '--dry-run', '--json', '--include-run-dirs'],
      ['clean-temp', '--dry-run', '--json', '--tmp-dir', root],
      ['clean', '--force', '--json', '--min-age', CLI_MIN_AGE, '--tmp-dir', root, '--only', 'networks,state'],
      ['reap', '--once', '--dry-run', '--tmp-dir', root],
    ]) {
      const result = await cli(['system', ...args], env)
      expect({args, timedOut: result.timedOut}).toEqual({args, timedOut: false})
      expect({args, exitCode: result.exitCode}).toEqual({args, exitCode: 0})
    }

    // Which engine that run used cannot be read: the temp dir it may have mounted there is kept too.
    const temp = await cli(['system', 'clean-temp', '--dry-run', '--json', '--tmp-dir', root], env)
    expect(itemsOf(temp)).toEqual([
      expect.objectContaining({decision: 'kept', reason: expect.stringMatching(new RegExp(`${runId}/metadata\\.json is not a regular file \\(a FIFO\\)`))}),
    ])
    const networks = await cli(['system', 'clean-networks', '--dry-run', '--json'], env)
    expect(itemsOf(networks).find((item) => item.name === `moat-${runId}`)).toMatchObject({
      decision: 'kept',
      reason: expect.stringMatching(/metadata\.json unreadable: .*metadata\.json is not a regular file \(a FIFO\)/),
    })
    expect(await networkExists(net)).toBe(true)
  })

  it('devices.json, devices.json.lock and devices.json.tmp are never touched by any command (§12.3)', async () => {
    const home = fixtures.moatHome
    const files = ['devices.json', 'devices.json.lock', 'devices.json.tmp'].map((name) => join(home, name))
    writeFileSync(files[0]!, '{"esp32":{"vid":"303a","pid":"1001","serial":"AAA"}}\n', {mode: 0o600})
    writeFileSync(files[1]!, '', {mode: 0o600})
    writeFileSync(files[2]!, '{"half":', {mode: 0o600})
    ageTree(home, 30 * HOUR)
    mkdirSync(join(home, 'proxy'))
    writeFileSync(join(home, 'proxy', '.runs-1.json.tmp'), '{}')
    mkdirSync(join(home, 'sockets', newRunId()), {recursive: true})
    ageTree(join(home, 'proxy'), 30 * HOUR)
    ageTree(join(home, 'sockets'), 30 * HOUR)
    const before = files.map((file) => ({bytes: readFileSync(file, 'utf8'), ino: statSync(file).ino, mtimeMs: statSync(file).mtimeMs}))
    await fixtures.protectOtherRuns()
    const root = tmpRoot()
    const env = {DOCKER_HOST: requireEngine(), MOAT_HOME: home}
    for (const args of [
      ['status', '--json', '--tmp-dir', root],
      ['clean-state', '--force', '--json', '--min-age', '0s', '--include-run-dirs', '--run-dir-grace', '0s'],
      ['clean-state', '--force', '--json', '--min-age', '0s', '--include-run-dirs', '--purge-run-dirs', '--run-dir-grace', '0s'],
      ['clean-temp', '--force', '--json', '--min-age', '0s', '--tmp-dir', home],
      ['clean', '--force', '--json', '--min-age', CLI_MIN_AGE, '--tmp-dir', root],
      ['clean-volumes', '--force', '--json', '--min-age', CLI_MIN_AGE, '--no-backup'],
      ['reap', '--once', '--min-age', CLI_MIN_AGE, '--tmp-dir', root, '--log-file', join(root, 'reap.log'), '--metrics-file', join(root, 'm.prom')],
    ]) {
      const result = await cli(['system', ...args], env)
      expect({args, timedOut: result.timedOut}).toEqual({args, timedOut: false})
      expect({args, exitCode: result.exitCode}).toEqual({args, exitCode: args[0] === 'status' ? result.exitCode : 0})
      const after = files.map((file) => ({bytes: readFileSync(file, 'utf8'), ino: statSync(file).ino, mtimeMs: statSync(file).mtimeMs}))
      expect({args, files: after}).toEqual({args, files: before})
    }
  })
})
