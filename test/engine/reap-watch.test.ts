// The watching reaper (issue 24) on a real engine: each trigger leads to a targeted pass through the same pipeline,
// bursts are one pass, an engine restart and a cut stream are caught up with, and a watch that cannot be set up is
// said once and left to the interval. Every reaper here runs against a second private engine of this suite's own:
// a watching reaper reacts to every moat container that dies on its engine, which on the shared test engine would
// be other suites' fixtures. --interval 10m throughout (but in the fallback test), so a removal within the test's
// timeout can only have come from a trigger; each test names the trigger in the removal's own record.
import {type ChildProcess} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync} from 'node:fs'
import {createServer, request, type Server} from 'node:http'
import {type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, expect, it} from 'vitest'

import {runCli, startCli} from '../helpers/cli.js'
import {describeEngine, TEST_IMAGE} from '../helpers/engine.js'
import {makeRunDir, newRunId} from '../helpers/moat-fixtures.js'
import {useSecondEngine} from '../helpers/second-engine.js'
import {makeTempDir, makeTmpRoot, removeTmpRoot} from '../helpers/temp-fixtures.js'
import {until} from '../helpers/until.js'

type LogLine = Record<string, unknown> & {event: string}

/** Generous: a pass on a loaded machine (load 4-8) takes seconds; the interval is 10 minutes. */
const WAIT_MS = 60_000
const ENGINE_KINDS = ['--only', 'containers,sidecars,networks,state']

describeEngine('reap, watching (issue 24)', () => {
  const second = useSecondEngine()
  let home: string
  let runs: string
  let state: string
  let logFile: string
  let reaper: (Promise<unknown> & {child: ChildProcess}) | undefined

  beforeEach(() => {
    // Short: a moat home's sockets dir is a unix socket's parent in moat; keep paths small here too.
    home = mkdtempSync(join(tmpdir(), 'mtw-'))
    runs = join(home, 'runs')
    mkdirSync(runs)
    state = mkdtempSync(join(tmpdir(), 'mtws-'))
    logFile = join(home, 'reap.log')
  })

  afterEach(async () => {
    if (reaper && reaper.child.exitCode === null) {
      reaper.child.kill('SIGTERM')
      await reaper
    }

    reaper = undefined
    rmSync(home, {force: true, recursive: true})
    rmSync(state, {force: true, recursive: true})
  })

  function lines(): LogLine[] {
    if (!existsSync(logFile)) return []
    return readFileSync(logFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as LogLine)
  }

  const decisionsOf = (name: string) => lines().filter((line) => line.event === 'decision' && line.name === name)
  const removalOf = (name: string) => decisionsOf(name).find((line) => line.decision === 'removed')

  function startReaper(args: string[], host = second.host): void {
    const minAge = args.includes('--min-age') ? [] : ['--min-age', '0s']
    reaper = startCli(['system', 'reap', ...minAge, '--log-file', logFile, '--log-format', 'json', ...args], {
      DOCKER_HOST: host,
      MOAT_HOME: home,
      XDG_STATE_HOME: state,
    })
  }

  function reaperState(): undefined | {watch?: {engines: Array<{address: string; watching: boolean; why?: string}>; runs?: {watching: boolean; why?: string}}} {
    const dir = join(state, 'moat-system')
    const name = existsSync(dir) ? readdirSync(dir).find((entry) => /^reaper-[0-9a-f]{12}\.json$/.test(entry)) : undefined
    return name ? JSON.parse(readFileSync(join(dir, name), 'utf8')) : undefined
  }

  /** The first pass is logged and both watches are up: from here on, every trigger is heard. */
  async function watching(): Promise<void> {
    await until('the first pass', () => lines().some((line) => line.event === 'pass'), WAIT_MS)
    await until(
      'the reaper watching the runs dir and the engine',
      () => {
        const watch = reaperState()?.watch
        return Boolean(watch?.runs?.watching && watch.engines.length > 0 && watch.engines.every((engine) => engine.watching))
      },
      WAIT_MS,
    )
  }

  /** A run's objects as moat leaves them: its network, its exited run container on it, a running BuildKit sidecar, its socket dir. */
  async function runObjects(runId: string): Promise<void> {
    await second.dockerOk(['network', 'create', '--label', 'moat.managed=true', `moat-${runId}`])
    await second.dockerOk(['run', '--name', runId, '--network', `moat-${runId}`, TEST_IMAGE, 'true'])
    await second.dockerOk([
      'run', '--detach', '--name', `moat-buildkit-${runId}`, '--label', `moat.run-id=${runId}`, '--label', 'moat.role=buildkit-sidecar',
      '--network', `moat-${runId}`, TEST_IMAGE, 'sleep', '1000',
    ])
    mkdirSync(join(home, 'sockets', runId), {recursive: true})
  }

  async function exists(kind: 'container' | 'network', name: string): Promise<boolean> {
    return (await second.docker([kind, 'inspect', name])).exitCode === 0
  }

  it('a run dir removed: after the settle delay its container, sidecar, network and socket dir go, recorded with the trigger; another run keeps all', async () => {
    const [gone, alive] = [newRunId(), newRunId()]
    for (const runId of [gone, alive]) {
      await makeRunDir(home, runId)
      await runObjects(runId)
    }

    const metricsFile = join(home, 'moat-system.prom')
    startReaper(['--interval', '10m', '--settle', '1s', '--metrics-file', metricsFile, ...ENGINE_KINDS])
    await watching()
    // status reads the reaper's state file: a reaper is running and watching.
    const status = runCli(['system', 'status', '--json'], {DOCKER_HOST: second.host, MOAT_HOME: home, XDG_STATE_HOME: state})
    expect(JSON.parse(status.stdout).reaper).toMatchObject({running: true, state: {pid: reaper!.child.pid, watch: {runs: {watching: true}}}})
    expect(lines().filter((line) => line.event === 'decision' && line.decision === 'removed')).toEqual([])

    rmSync(join(runs, gone), {recursive: true})
    const removedAt = Date.now()
    await until('the run dir trigger', () => lines().some((line) => line.event === 'trigger' && line.run === gone), WAIT_MS)
    for (const name of [gone, `moat-buildkit-${gone}`, `moat-${gone}`, join(home, 'sockets', gone)]) {
       
      await until(`the removal of ${name}`, () => removalOf(name) !== undefined, WAIT_MS)
      expect(removalOf(name)).toMatchObject({trigger: {kind: 'run-dir', run: gone, what: `run dir ${gone} removed`}})
    }

    // Not before the settle delay (1 s) after the event, well before the interval.
    const removals = [gone, `moat-${gone}`].map((name) => Date.parse(removalOf(name)!.time as string))
    for (const time of removals) expect(time - removedAt).toBeGreaterThanOrEqual(900)
    expect(await exists('container', gone)).toBe(false)
    expect(await exists('container', `moat-buildkit-${gone}`)).toBe(false)
    expect(await exists('network', `moat-${gone}`)).toBe(false)
    expect(existsSync(join(home, 'sockets', gone))).toBe(false)
    // The other run: nothing of it was even looked at by the targeted pass, and all of it is there.
    expect(await exists('container', alive)).toBe(true)
    expect(await exists('container', `moat-buildkit-${alive}`)).toBe(true)
    expect(await exists('network', `moat-${alive}`)).toBe(true)
    expect(existsSync(join(home, 'sockets', alive))).toBe(true)
    const targeted = lines().find((line) => line.event === 'pass' && (line.trigger as string[] | undefined)?.includes('run-dir'))
    expect(targeted).toMatchObject({triggerCount: 1, triggers: [{kind: 'run-dir', run: gone}]})
    expect(decisionsOf(alive).filter((line) => line.pass === targeted!.pass)).toEqual([])

    // The metrics: a pass per trigger kind, and the removals' time from their trigger in the histogram.
    await until('the metrics of the targeted pass', () => /passes_by_trigger_total\{trigger="run-dir"\} 1/.test(readFileSync(metricsFile, 'utf8')), WAIT_MS)
    const metrics = readFileSync(metricsFile, 'utf8')
    expect(metrics).toMatch(/^moat_system_passes_by_trigger_total\{trigger="start"\} 1$/m)
    expect(metrics).toMatch(/^# TYPE moat_system_trigger_to_removal_seconds histogram$/m)
    expect(metrics).toMatch(/^moat_system_trigger_to_removal_seconds_count\{trigger="run-dir"\} 4$/m)
    expect(metrics).toMatch(/^moat_system_trigger_to_removal_seconds_bucket\{le="\+Inf",trigger="run-dir"\} 4$/m)

    reaper!.child.kill('SIGTERM')
    await reaper
    // Its state file goes with it: status says no reaper runs.
    expect(reaperState()).toBeUndefined()
  })

  it('a run dir re-created during the settle delay keeps everything', async () => {
    const runId = newRunId()
    await makeRunDir(home, runId)
    await runObjects(runId)
    startReaper(['--interval', '10m', '--settle', '8s', ...ENGINE_KINDS])
    await watching()
    // moat's teardown and a new start of the same run (or a restore from a backup) within the settle delay: 3 s after
    // the removal, when a pass that did not wait would long have removed everything.
    rmSync(join(runs, runId), {recursive: true})
    await until('the run dir trigger', () => lines().some((line) => line.event === 'trigger' && line.run === runId), WAIT_MS)
    const heardAt = Date.parse(lines().find((line) => line.event === 'trigger' && line.run === runId)!.at as string)
    await new Promise((resolve) => {
      setTimeout(resolve, heardAt + 3000 - Date.now())
    })
    expect(lines().some((line) => line.event === 'pass' && (line.trigger as string[] | undefined)?.includes('run-dir'))).toBe(false)
    await makeRunDir(home, runId)
    await until('the pass the run dir woke', () => lines().some((line) => line.event === 'pass' && (line.trigger as string[] | undefined)?.includes('run-dir')), WAIT_MS)
    const targeted = lines().find((line) => line.event === 'pass' && (line.trigger as string[] | undefined)?.includes('run-dir'))!
    expect(targeted.totals).toMatchObject({removed: 0})
    const judged = lines().filter((line) => line.event === 'decision' && line.pass === targeted.pass)
    expect(judged.map((line) => line.name).sort()).toEqual([runId, `moat-${runId}`, `moat-buildkit-${runId}`, join(home, 'sockets', runId)].sort())
    for (const line of judged) expect(line).toMatchObject({decision: 'kept', trigger: {kind: 'run-dir'}})
    expect(await exists('container', runId)).toBe(true)
    expect(await exists('container', `moat-buildkit-${runId}`)).toBe(true)
    expect(await exists('network', `moat-${runId}`)).toBe(true)
    expect(existsSync(join(home, 'sockets', runId))).toBe(true)
  })

  it('--dry-run: a run dir removed wakes a pass that only says what it would remove', async () => {
    const runId = newRunId()
    await makeRunDir(home, runId)
    await runObjects(runId)
    startReaper(['--interval', '10m', '--settle', '1s', '--dry-run', ...ENGINE_KINDS])
    await watching()
    rmSync(join(runs, runId), {recursive: true})
    await until('the dry-run pass the run dir woke', () => lines().some((line) => line.event === 'pass' && (line.trigger as string[] | undefined)?.includes('run-dir')), WAIT_MS)
    const targeted = lines().find((line) => line.event === 'pass' && (line.trigger as string[] | undefined)?.includes('run-dir'))!
    expect(targeted).toMatchObject({dryRun: true, totals: {orphans: 4, removed: 0}})
    expect(lines().filter((line) => line.event === 'decision' && line.pass === targeted.pass).every((line) => line.decision === 'orphan' && line.dryRun)).toBe(true)
    expect(await exists('container', runId)).toBe(true)
    expect(await exists('network', `moat-${runId}`)).toBe(true)
  })

  it("a moat container that dies wakes its run's pass; a foreign container's death wakes nothing", async () => {
    const runId = newRunId()
    startReaper(['--interval', '10m', '--settle', '1s', ...ENGINE_KINDS])
    await watching()
    // Made while the reaper runs, so only their events can bring them to a pass: no run dir, the container running.
    await second.dockerOk(['run', '--name', 'not-moat', TEST_IMAGE, 'true'])
    await second.dockerOk(['network', 'create', '--label', 'moat.managed=true', `moat-${runId}`])
    await second.dockerOk(['run', '--detach', '--name', runId, '--network', `moat-${runId}`, TEST_IMAGE, 'sleep', '2'])
    await until('the container trigger', () => lines().some((line) => line.event === 'trigger' && line.kind === 'container'), WAIT_MS)
    await until(`the removal of ${runId}`, () => removalOf(runId) !== undefined, WAIT_MS)
    await until(`the removal of moat-${runId}`, () => removalOf(`moat-${runId}`) !== undefined, WAIT_MS)
    for (const name of [runId, `moat-${runId}`]) {
      expect(removalOf(name)).toMatchObject({trigger: {kind: 'container', run: runId, what: `container ${runId} died`}})
    }

    expect(await exists('container', runId)).toBe(false)
    expect(await exists('network', `moat-${runId}`)).toBe(false)
    expect(await exists('container', 'not-moat')).toBe(true)
    // The foreign container died first: had its event woken anything, its trigger line would be there.
    expect(lines().filter((line) => line.event === 'trigger').map((line) => line.what)).toEqual([`container ${runId} died`])
    // The reaper's own removals (destroy events) woke nothing either: one pass after the first.
    expect(lines().filter((line) => line.event === 'pass').length).toBe(2)
  })

  it('a network created with the address pools past --pool-threshold: the networks are looked at at once', async () => {
    const [leaked, kept1, kept2] = [newRunId(), newRunId(), newRunId()]
    await makeRunDir(home, kept1)
    await makeRunDir(home, kept2)
    // 1%: the engine's pool holds 128 or 256 /24s (MOAT_TEST_SECOND_ADDRESS_POOL), so the first network stays under it
    // and the second or third goes over.
    startReaper(['--interval', '10m', '--pool-threshold', '1', ...ENGINE_KINDS])
    await watching()
    await second.dockerOk(['network', 'create', '--label', 'moat.managed=true', `moat-${leaked}`])
    await second.dockerOk(['network', 'create', '--label', 'moat.managed=true', `moat-${kept1}`])
    await second.dockerOk(['network', 'create', '--label', 'moat.managed=true', `moat-${kept2}`])
    await until(`the removal of moat-${leaked}`, () => removalOf(`moat-${leaked}`) !== undefined, WAIT_MS)
    const trigger = removalOf(`moat-${leaked}`)!.trigger as {kind: string; what: string}
    expect(trigger.kind).toBe('pool')
    // The leak's own creation stayed under the threshold: a later one's tripped it.
    expect(trigger.what).toMatch(new RegExp(`^network moat-(${kept1}|${kept2}) created: \\d+ of \\d+ address-pool subnets used$`))
    expect(await exists('network', `moat-${leaked}`)).toBe(false)
    expect(await exists('network', `moat-${kept1}`)).toBe(true)
    expect(await exists('network', `moat-${kept2}`)).toBe(true)
  })

  it('a burst of 30 run dirs removed at once is one pass that removes all their objects', async () => {
    const ids = Array.from({length: 30}, () => newRunId())
    for (const runId of ids) {
      await makeRunDir(home, runId)
      await second.dockerOk(['network', 'create', '--label', 'moat.managed=true', `moat-${runId}`])
    }

    startReaper(['--interval', '10m', '--settle', '1s', ...ENGINE_KINDS])
    await watching()
    for (const runId of ids) rmSync(join(runs, runId), {recursive: true})
    await until('every network removed', () => ids.every((runId) => removalOf(`moat-${runId}`) !== undefined), WAIT_MS)
    const woken = lines().filter((line) => line.event === 'pass' && (line.trigger as string[] | undefined)?.includes('run-dir'))
    expect(woken).toHaveLength(1)
    expect(woken[0]).toMatchObject({totals: {removed: 30}, triggerCount: 30})
    expect((await second.dockerOk(['network', 'ls', '--quiet', '--filter', 'label=moat.managed=true'])).trim()).toBe('')
  })

  it('engine restart: the stream reconnects, what leaked while it was down is looked at again, and later events are heard', async () => {
    const [whileDown, after] = [newRunId(), newRunId()]
    await makeRunDir(home, whileDown)
    await second.dockerOk(['network', 'create', '--label', 'moat.managed=true', `moat-${whileDown}`])
    startReaper(['--interval', '10m', '--settle', '1s', ...ENGINE_KINDS])
    await watching()
    await second.restart(async () => {
      // The stream is down, and so is the engine: the run dir's pass cannot look at the network.
      await until('the lost stream noted', () => lines().some((line) => line.event === 'note' && /lost the event stream/.test(line.message as string)), WAIT_MS)
      rmSync(join(runs, whileDown), {recursive: true})
      // Its engine targets are dropped with a note (the engine does not answer): the network is not judged.
      await until('the pass the run dir woke', () => lines().some((line) => line.event === 'pass' && (line.trigger as string[] | undefined)?.includes('run-dir')), WAIT_MS)
    })
    await until('the stream back', () => lines().some((line) => line.event === 'note' && /is back/.test(line.message as string)), WAIT_MS)
    await until(`the removal of moat-${whileDown}`, () => removalOf(`moat-${whileDown}`) !== undefined, WAIT_MS)
    expect(removalOf(`moat-${whileDown}`)).toMatchObject({trigger: {kind: 'events-gap'}})
    // Watching again: a container that dies now is heard.
    await second.dockerOk(['run', '--name', after, TEST_IMAGE, 'true'])
    await until(`the removal of ${after}`, () => removalOf(after) !== undefined, WAIT_MS)
    expect(removalOf(after)).toMatchObject({trigger: {kind: 'container', run: after}})
    expect(reaperState()!.watch!.engines).toEqual([expect.objectContaining({watching: true})])
  })

  it('a cut stream reconnects with since= the last event: what the engine logged meanwhile is replayed', async () => {
    const proxy = await streamProxy(second.socket)
    try {
      startReaper(['--interval', '10m', '--settle', '1s', ...ENGINE_KINDS], proxy.host)
      await watching()
      const runId = newRunId()
      proxy.refusing = true
      proxy.cut()
      await until('the lost stream noted', () => lines().some((line) => line.event === 'note' && /lost the event stream/.test(line.message as string)), WAIT_MS)
      // On the engine itself, while the reaper cannot hear it: the container is made, runs and dies.
      await second.dockerOk(['run', '--name', runId, TEST_IMAGE, 'true'])
      proxy.refusing = false
      await until(`the removal of ${runId}`, () => removalOf(runId) !== undefined, WAIT_MS)
      const heard = lines().find((line) => line.event === 'trigger' && line.kind === 'container' && line.run === runId)
      expect(heard).toMatchObject({replayed: true, what: `container ${runId} died (replayed)`})
      expect(removalOf(runId)).toMatchObject({trigger: {kind: 'container', replayed: true, run: runId}})
      expect(proxy.eventRequests.length).toBeGreaterThanOrEqual(2)
      // The first stream asked from the start of the first pass; the reconnection from the last event it had seen.
      expect(proxy.eventRequests.every((path) => /[?&]since=\d+(\.\d{9})?&/.test(path))).toBe(true)
    } finally {
      await proxy.close()
    }
  })

  it('an engine whose /events is refused: said once, the interval sweeps instead; a runs dir replaced under its watch: said, watched again at the next full pass', async () => {
    const proxy = await streamProxy(second.socket, 403)
    try {
      const [leak, later] = [newRunId(), newRunId()]
      await makeRunDir(home, later)
      startReaper(['--interval', '2s', '--settle', '1s', ...ENGINE_KINDS], proxy.host)
      await until('three passes', () => lines().filter((line) => line.event === 'pass').length >= 3, WAIT_MS)
      const engineNotes = () => lines().filter((line) => line.event === 'note' && (line.message as string).startsWith('cannot watch the events of the engine'))
      // Asked again at each full pass, said once.
      expect(proxy.eventRequests.length).toBeGreaterThanOrEqual(2)
      expect(engineNotes().map((line) => line.message)).toEqual([
        expect.stringContaining('(GET /events answered HTTP 403): its leaks are found by the full pass every --interval'),
      ])
      expect(reaperState()!.watch!.engines).toEqual([{address: proxy.host, watching: false, why: 'GET /events answered HTTP 403'}])
      // The engine itself: runCli blocks this process, and with it the proxy.
      const status = runCli(['system', 'status'], {DOCKER_HOST: second.host, MOAT_HOME: home, XDG_STATE_HOME: state})
      expect(status.stdout).toMatch(/^reaper: pid \d+ since \S+, watching \S+\/runs, not watching the events of unix:\S+ \(GET \/events answered HTTP 403\); full pass every 2s$/m)
      // The backstop: a leak only an event would have told of is removed by the interval's pass.
      await second.dockerOk(['network', 'create', '--label', 'moat.managed=true', `moat-${leak}`])
      await until(`the removal of moat-${leak}`, () => removalOf(`moat-${leak}`) !== undefined, WAIT_MS)
      expect(removalOf(`moat-${leak}`)).toMatchObject({trigger: {kind: 'interval'}})

      // The runs dir replaced (a restore, a move): the watch on the old one stops, said; the next full pass watches the new one.
      renameSync(runs, `${runs}.old`)
      mkdirSync(runs)
      renameSync(join(`${runs}.old`, later), join(runs, later))
      await until('the lost watch noted', () => lines().some((line) => line.event === 'note' && (line.message as string).startsWith(`cannot watch ${runs}`)), WAIT_MS)
      const lostAt = lines().length
      await until('the runs dir watched again', () => reaperState()?.watch?.runs?.watching === true && lines().slice(lostAt).some((line) => line.event === 'pass'), WAIT_MS)
      await second.dockerOk(['network', 'create', '--label', 'moat.managed=true', `moat-${later}`])
      rmSync(join(runs, later), {recursive: true})
      await until(`the removal of moat-${later}`, () => removalOf(`moat-${later}`) !== undefined, WAIT_MS)
      expect(removalOf(`moat-${later}`)).toMatchObject({trigger: {kind: expect.stringMatching(/^(run-dir|interval)$/)}})
      expect(lines().some((line) => line.event === 'trigger' && line.run === later)).toBe(true)
    } finally {
      await proxy.close()
    }
  })

  it("a young temp dir: the next temp pass comes when it is old enough, not at the interval", async () => {
    const root = makeTmpRoot()
    try {
      // Comes of age 4 s after it was made, under --min-age 5s.
      const young = makeTempDir(root, 'moat-aws-1', 1000)
      const madeAt = Date.now() - 1000
      startReaper(['--interval', '10m', '--min-age', '5s', '--only', 'temp', '--tmp-dir', root])
      await until('the first pass', () => lines().some((line) => line.event === 'pass'), WAIT_MS)
      expect(decisionsOf(young)[0]).toMatchObject({decision: 'kept'})
      await until(`the removal of ${young}`, () => removalOf(young) !== undefined, WAIT_MS)
      expect(removalOf(young)).toMatchObject({trigger: {kind: 'age'}})
      expect(Date.parse(removalOf(young)!.time as string) - madeAt).toBeGreaterThanOrEqual(5000)
      expect(existsSync(young)).toBe(false)
    } finally {
      removeTmpRoot(root)
    }
  })
})

/**
 * An HTTP proxy to the engine's socket for the stream's sake: `cut()` drops every connection (a restart seen from
 * the client), `refusing` closes new ones at once, `eventsStatus` answers GET /events with that status instead.
 */
async function streamProxy(
  engineSocket: string,
  eventsStatus?: number,
): Promise<{close(): Promise<void>; cut(): void; eventRequests: string[]; host: string; refusing: boolean}> {
  const dir = mkdtempSync('/tmp/mtwp-')
  const sockets = new Set<Socket>()
  const eventRequests: string[] = []
  const control = {refusing: false}
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/'
    if (/^\/(v[\d.]+\/)?events/.test(path)) {
      eventRequests.push(path)
      if (eventsStatus) {
        res.writeHead(eventsStatus, {'content-type': 'application/json'}).end('{"message":"events are not allowed here"}')
        return
      }
    }

    const upstream = request({headers: req.headers, method: req.method, path, socketPath: engineSocket}, (reply) => {
      res.writeHead(reply.statusCode ?? 502, reply.headers)
      res.flushHeaders()
      reply.pipe(res)
    })
    upstream.on('error', () => req.socket.destroy())
    req.pipe(upstream)
  })
  server.on('connection', (socket: Socket) => {
    if (control.refusing) {
      socket.destroy()
      return
    }

    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  const socketPath = join(dir, 'p.sock')
  await new Promise<void>((resolve) => {
    server.listen(socketPath, resolve)
  })
  return {
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
      })
      rmSync(dir, {force: true, recursive: true})
    },
    cut() {
      for (const socket of sockets) socket.destroy()
    },
    eventRequests,
    host: `unix://${socketPath}`,
    get refusing() {
      return control.refusing
    },
    set refusing(value: boolean) {
      control.refusing = value
    },
  }
}
