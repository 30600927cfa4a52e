// StateTarget against a real MOAT_HOME: real directories, a real listening unix socket, real processes, and the
// fake moat daemon (a real HTTP server on the daemon's socket, test/fixtures/fake-daemon.ts).
import {type ChildProcess, spawn} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {type Report, runPipeline} from '../../src/lib/pipeline/pipeline.js'
import {AppleCli} from '../../src/lib/runtime/apple.js'
import {StateTarget, type StateTargetOptions} from '../../src/lib/targets/state.js'
import {useFakeContainer} from '../fixtures/fake-container/state.js'
import {type FakeDaemon, startFakeDaemon} from '../fixtures/fake-daemon.js'
import {holdSync, killChildren} from '../helpers/host-fixtures.js'
import {makeRunDir, newRunId, useMoatHome} from '../helpers/moat-fixtures.js'
import {ageTree, HOUR} from '../helpers/temp-fixtures.js'
import {until} from '../helpers/until.js'

function item(report: Report, name: string) {
  return report.targets[0]!.items.find((candidate) => candidate.name === name)
}

function registrationOf(report: Report, runId: string) {
  return item(report, `daemon registration of ${runId}`)
}

function ago(ms: number): string {
  return new Date(Date.now() - ms).toISOString()
}

describe('StateTarget', () => {
  const home = useMoatHome()
  const servers: Server[] = []
  const children: ChildProcess[] = []
  let daemon: FakeDaemon | undefined

  afterEach(async () => {
    for (const server of servers.splice(0)) server.close()
    for (const child of children.splice(0)) child.kill('SIGKILL')
    killChildren()
    await daemon?.close()
    daemon = undefined
  })

  const clean = (options: Partial<StateTargetOptions> & {beforeRemove?: () => Promise<void> | void; dryRun?: boolean} = {}): Promise<Report> =>
    runPipeline([new StateTarget({daemonTimeoutMs: 1000, moatHome: home.home, runtime: 'auto', runtimes: [], ...options})], {
      confirm: async () => true,
      dryRun: options.dryRun ?? false,
      hooks: {beforeRemove: options.beforeRemove},
      minAgeMs: HOUR,
    })

  function socketDir(runId: string, ageMs = 3 * HOUR): string {
    const dir = join(home.home, 'sockets', runId)
    mkdirSync(dir, {recursive: true})
    writeFileSync(join(dir, 'agent.sock'), '')
    ageTree(dir, ageMs)
    return dir
  }

  async function listen(path: string): Promise<void> {
    const server = createServer()
    servers.push(server)
    await new Promise<void>((resolve) => {
      server.listen(path, resolve)
    })
  }

  it('removes socket dirs of ended runs and keeps live, listening, young, odd and linked ones', async () => {
    const [ended, live, listening, young, odd] = [newRunId(), newRunId(), newRunId(), newRunId(), newRunId()]
    const dirs = [socketDir(ended), socketDir(live), join(home.home, 'sockets', listening), socketDir(young, 60_000), socketDir(odd)]
    await makeRunDir(home.home, live)
    mkdirSync(dirs[2]!, {recursive: true})
    await listen(join(dirs[2]!, 'agent.sock'))
    ageTree(dirs[2]!, 3 * HOUR)
    mkdirSync(join(dirs[4]!, 'nested'))
    ageTree(dirs[4]!, 3 * HOUR)
    const linked = newRunId()
    symlinkSync(dirs[0]!, join(home.home, 'sockets', linked))
    const report = await clean()
    expect(item(report, dirs[0]!)).toMatchObject({
      decision: 'removed',
      details: {kind: 'socket dir', run: ended},
      evidence: {
        age: 'modified 3.0h ago (--min-age 1h)',
        run: `no run dir ${join(home.runsDir, ended)}; no moat daemon running`,
        socket: 'no unix socket under it is listening (/proc/net/unix)',
      },
      reason: 'run ended; socket not listening; unchanged for 3.0h',
    })
    expect(item(report, dirs[1]!)).toMatchObject({decision: 'kept', reason: expect.stringMatching(new RegExp(`^run ${live} is alive`))})
    expect(item(report, dirs[2]!)).toMatchObject({decision: 'kept', reason: `in use: socket ${dirs[2]}/agent.sock is listening`})
    expect(item(report, dirs[3]!)).toMatchObject({decision: 'kept', reason: expect.stringMatching(/^young: modified 1m ago/)})
    expect(item(report, dirs[4]!)).toMatchObject({decision: 'kept', reason: 'holds a directory (nested): not what moat leaves there'})
    expect(item(report, join(home.home, 'sockets', linked))).toMatchObject({decision: 'kept', reason: 'symlink: never followed'})
    expect(existsSync(dirs[0]!)).toBe(false)
    for (const dir of dirs.slice(1)) expect(existsSync(dir)).toBe(true)
    // The quarantine the safe remover made next to it is gone again.
    expect(readdirSync(join(home.home, 'sockets')).sort()).toEqual([linked, listening, live, odd, young].sort())
  })

  it('skips a socket dir whose agent socket starts listening between the plan and the removal', async () => {
    const runId = newRunId()
    const dir = socketDir(runId)
    const report = await clean({beforeRemove: () => listen(join(dir, 'agent.sock.2'))})
    expect(item(report, dir)).toMatchObject({decision: 'skipped', outcome: `drift: socket ${dir}/agent.sock.2 is listening`})
    expect(existsSync(dir)).toBe(true)
  })

  it('removes old daemon temp files nobody holds open, and keeps young and open ones', async () => {
    const proxy = join(home.home, 'proxy')
    mkdirSync(proxy, {recursive: true})
    const [old, young, open] = ['.runs-4242.json.tmp', 'routes-17.json.tmp', 'routes-99.json.tmp'].map((name) => join(proxy, name))
    for (const file of [old, young, open, join(proxy, 'routes.json'), join(proxy, 'runs.json')]) writeFileSync(file!, '{}')
    ageTree(proxy, 3 * HOUR)
    ageTree(proxy, 3 * HOUR)
    writeFileSync(young!, '{"a":1}')
    // Waited for until /proc shows it holding the file, not for a fixed time.
    const holder = holdSync(['sh', '-c', `exec 3<'${open}'; sleep 60`], open!)
    const report = await clean()
    expect(item(report, old!)).toMatchObject({
      decision: 'removed',
      details: {kind: 'daemon tmp file'},
      evidence: {
        age: 'written 3.0h ago (--min-age 1h)',
        file: 'left by a daemon that crashed during an atomic write (moat-resources.md §8)',
        processes: expect.stringMatching(/^none holds it open: checked \d+ processes in \/proc \(fds, cwd, root, exe, maps\)(; \d+ of them not readable \(another user's\))?$/),
      },
      reason: 'written 3.0h ago; no process holds it',
    })
    expect(item(report, young!)).toMatchObject({decision: 'kept', reason: expect.stringMatching(/^young: written/)})
    expect(item(report, open!)).toMatchObject({decision: 'kept', reason: expect.stringMatching(new RegExp(`^in use: process ${holder.pid} \\(sh\\) holds .*routes-99\\.json\\.tmp open$`))})
    expect(report.targets[0]!.items.map((candidate) => candidate.name)).not.toContain(join(proxy, 'routes.json'))
    expect([existsSync(old!), existsSync(young!), existsSync(open!)]).toEqual([false, true, true])
  })

  it('unregisters a registration that never got a container through DELETE /v1/runs/<token>, and never shows the token', async () => {
    const [dead, young, noToken, starting] = [newRunId(), newRunId(), newRunId(), newRunId()]
    const token = 'a'.repeat(64)
    mkdirSync(join(home.home, 'proxy'), {recursive: true})
    writeFileSync(
      join(home.home, 'proxy', 'runs.json'),
      JSON.stringify({
        runs: [
          {'auth_token': token, 'container_id': '', 'run_id': dead},
          {'auth_token': 'b'.repeat(64), 'container_id': '', 'run_id': young},
          {'auth_token': 'c'.repeat(64), 'container_id': '', 'run_id': starting},
        ],
        version: 1,
      }),
    )
    await makeRunDir(home.home, starting, null)
    daemon = await startFakeDaemon(home.home, [], {
      registrations: [
        {containerId: '', registeredAt: ago(3 * HOUR), runId: dead, token},
        {containerId: '', registeredAt: ago(60_000), runId: young, token: 'b'.repeat(64)},
        {containerId: '', registeredAt: ago(3 * HOUR), runId: noToken, token: 'd'.repeat(64)},
        {containerId: '', registeredAt: ago(3 * HOUR), runId: starting, token: 'c'.repeat(64)},
      ],
    })
    const report = await clean()
    const named = (runId: string) => item(report, `daemon registration of ${runId}`)
    expect(named(dead)).toMatchObject({decision: 'removed', outcome: 'unregistered through the daemon (DELETE /v1/runs/<token>)'})
    expect(named(young)).toMatchObject({decision: 'kept', reason: expect.stringMatching(/^young: registered 1m ago/)})
    expect(named(noToken)).toMatchObject({decision: 'kept', reason: 'its token is not in runs.json: nothing to unregister it with'})
    expect(named(starting)).toMatchObject({decision: 'kept', reason: expect.stringMatching(new RegExp(`^run ${starting} may still be starting`))})
    expect(daemon.deleted).toEqual([token])
    expect(JSON.stringify(report)).not.toContain(token)
  })

  it('says a registration of a run that used serial devices frees its device claims (§12.3); an unreadable runs.json keeps them all', async () => {
    const [withDevices, without] = [newRunId(), newRunId()]
    const tokens = ['0'.repeat(64), '1'.repeat(64)]
    mkdirSync(join(home.home, 'proxy'), {recursive: true})
    const runsJson = join(home.home, 'proxy', 'runs.json')
    writeFileSync(
      runsJson,
      JSON.stringify({runs: [withDevices, without].map((runId, index) => ({'auth_token': tokens[index], 'container_id': '', 'run_id': runId})), version: 1}),
    )
    // The daemon re-creates a run dir with only devices.jsonl when it logs a device event late (§12.3).
    const dir = await makeRunDir(home.home, withDevices, null)
    writeFileSync(join(dir, 'devices.jsonl'), '{"name":"esp32"}\n', {mode: 0o600})
    ageTree(dir, 3 * HOUR)
    daemon = await startFakeDaemon(home.home, [], {
      registrations: [withDevices, without].map((runId, index) => ({containerId: '', registeredAt: ago(3 * HOUR), runId, token: tokens[index]!})),
    })
    const plan = await clean({dryRun: true})
    expect(registrationOf(plan, withDevices)).toMatchObject({
      decision: 'orphan',
      evidence: {
        age: 'registered 3.0h ago (--min-age 1h)',
        devices: 'its run used serial devices (devices.jsonl): removing it frees its device claims (moat-resources.md §12.3)',
        registration: `the moat daemon lists ${withDevices} with no container: its moat run died between registering and creating it (moat-resources.md §6.4); it keeps the daemon from going idle`,
        run: `run dir ${dir} has no metadata.json and is unchanged for 3.0h (--min-age 1h)`,
      },
      reason: 'registered 3.0h ago, never got a container',
    })
    expect(registrationOf(plan, without)).toMatchObject({
      decision: 'orphan',
      evidence: {
        age: 'registered 3.0h ago (--min-age 1h)',
        registration: `the moat daemon lists ${without} with no container: its moat run died between registering and creating it (moat-resources.md §6.4); it keeps the daemon from going idle`,
        run: `no run dir ${join(home.runsDir, without)}`,
      },
      reason: 'registered 3.0h ago, never got a container',
    })
    expect(registrationOf(plan, without)!.evidence).not.toHaveProperty('devices')

    // runs.json a symlink (planted, or a dotfiles trick): never followed, and nothing is unregistered.
    const real = join(home.home, 'runs.json.real')
    writeFileSync(real, readFileSync(runsJson))
    rmSync(runsJson)
    symlinkSync(real, runsJson)
    const refused = await clean()
    expect(registrationOf(refused, withDevices)).toMatchObject({decision: 'kept', reason: `${runsJson} is a symlink (ELOOP): never followed: nothing to unregister it with`})
    expect(daemon.deleted).toEqual([])
  })

  it('moves nothing when reaped/ turns into a symlink out of moat\'s home between the plan and the move', async () => {
    const crashed = newRunId()
    const dir = await makeRunDir(home.home, crashed, null)
    writeFileSync(join(dir, 'logs.jsonl'), '{}\n')
    ageTree(dir, 30 * HOUR)
    const outside = mkdtempSync(join(tmpdir(), 'mst-'))
    try {
      const report = await clean({beforeRemove: () => symlinkSync(outside, join(home.home, 'reaped')), runDirs: {graceMs: 24 * HOUR, purge: false}})
      expect(item(report, dir)).toMatchObject({decision: 'failed', outcome: `not moved: ${join(home.home, 'reaped')} is a symlink: never followed`})
      expect(readdirSync(outside)).toEqual([])
      expect(readdirSync(dir)).toEqual(['logs.jsonl'])
    } finally {
      rmSync(outside, {force: true, recursive: true})
    }
  })

  it('moves crashed run dirs into reaped/ past the grace, keeps young ones, and keeps all when a runtime cannot be asked', async () => {
    const [crashed, young, listed] = [newRunId(), newRunId(), newRunId()]
    for (const runId of [crashed, young, listed]) {
      const dir = await makeRunDir(home.home, runId, null)
      writeFileSync(join(dir, 'logs.jsonl'), '{}\n')
      ageTree(dir, runId === young ? 2 * HOUR : 30 * HOUR)
    }

    daemon = await startFakeDaemon(home.home, [listed])
    const runDirs = {graceMs: 24 * HOUR, purge: false}
    const report = await clean({runDirs})
    expect(item(report, join(home.runsDir, crashed))).toMatchObject({
      decision: 'removed',
      evidence: {
        age: 'unchanged for 1d (--run-dir-grace 24h)',
        objects: 'no container runtime on this host: the run can have no container, network or volume',
        run: 'no metadata.json: moat run crashed while creating it (moat-resources.md §2.1); the moat daemon does not list it',
      },
      outcome: expect.stringMatching(/^moved to .*\/reaped\/run_[0-9a-f]{12}-\d{8}T\d{6}Z$/),
      reason: 'no metadata.json; unchanged for 1d; no container, network or volume',
    })
    expect(item(report, join(home.runsDir, young))).toMatchObject({decision: 'kept', reason: expect.stringMatching(/^young: modified 2\.0h ago \(--run-dir-grace 24h\)$/)})
    expect(item(report, join(home.runsDir, listed))).toMatchObject({decision: 'kept', reason: `run ${listed} is alive: the moat daemon lists it`})
    const [moved] = readdirSync(join(home.home, 'reaped'))
    expect(readdirSync(join(home.home, 'reaped', moved!))).toEqual(['logs.jsonl'])
    expect(existsSync(join(home.runsDir, crashed))).toBe(false)

    // SIMULATED Apple `container` CLI (the real one runs only on macOS) that does not answer: nothing is moved.
    const fake = useFakeContainer({containers: [], down: true, networks: [], schema: '1.0.0'})
    try {
      const blind = await clean({runDirs, runtime: 'auto', runtimes: [new AppleCli()]})
      expect(item(blind, join(home.runsDir, young))).toMatchObject({decision: 'kept', reason: expect.stringMatching(/^cannot tell whether the run still has containers/)})
    } finally {
      fake.restore()
    }
  })

  it('finds nothing, and asks nothing, where there is no moat home at all', async () => {
    const report = await runPipeline([new StateTarget({moatHome: join(home.home, 'no-such-home'), runtime: 'auto', runtimes: []})], {
      confirm: async () => true,
      dryRun: true,
      minAgeMs: HOUR,
    })
    expect(report.targets[0]!.items).toEqual([])
    // With a home but no runs/ in it, no run can be told alive: that is still an error, as for the engine targets.
    const noRuns = join(home.home, 'not-a-moat-home')
    mkdirSync(noRuns)
    await expect(
      runPipeline([new StateTarget({moatHome: noRuns, runtime: 'auto', runtimes: []})], {confirm: async () => true, dryRun: true, minAgeMs: HOUR}),
    ).rejects.toThrow(/runs directory .* does not exist/)
  })

  it('reports a leaked moat daemon process that daemon.lock does not name, and never stops it', async () => {
    const proxy = join(home.home, 'proxy')
    mkdirSync(proxy, {recursive: true})
    writeFileSync(join(proxy, 'daemon.lock'), JSON.stringify({pid: 1}))
    const leaked = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', '_daemon', '--dir', proxy], {stdio: 'ignore'})
    children.push(leaked)
    await until('the leaked daemon to run', () => existsSync(`/proc/${leaked.pid}/cmdline`) && readFileSync(`/proc/${leaked.pid}/cmdline`, 'utf8').includes('_daemon'))
    const report = await clean()
    expect(item(report, `moat _daemon process ${leaked.pid}`)).toMatchObject({
      decision: 'kept',
      reason: `a leaked moat daemon that daemon.lock does not name: never stopped by this tool; stop it with kill ${leaked.pid}`,
    })
    expect(leaked.exitCode).toBeNull()
  })
})
