// What the engine sections of `npm run bench` (networks.js, containers.js) share: a private Docker engine started
// with the test harness's test/engine/engine.sh, fixtures made on it in parallel batches, moat homes in which every
// run is dead, a counting (and timing) `docker` shim, and the report of where a moat run spent its time.
// Timing, tables and verdicts come from temp.js and run.js.
import {spawn, spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {delimiter, dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {describe, fmtMs, Interrupted, machineLoad, makeRunner, staleBuild} from './temp.js'

export const REPO = dirname(dirname(fileURLToPath(import.meta.url)))
export const RUN_JS = join(REPO, 'bin', 'run.js')
export const ENGINE_SH = join(REPO, 'test', 'engine', 'engine.sh')
/** Built by engine.sh with busybox's sh, sleep, true, cat and echo (nothing can be pulled). */
export const IMAGE = 'moat-test-busybox:latest'
/** Concurrent docker processes while building fixtures: more only queue on the daemon's locks and the CPUs. */
export const SETUP_PARALLEL = 4
/**
 * The bench engine's address pool: 2,048 /24 networks, so the 500-run fixtures (500 networks) fit; the test
 * harness's default /16 holds 256. MOAT_BENCH_ADDRESS_POOL picks another where this one is in use.
 */
const ADDRESS_POOL = process.env.MOAT_BENCH_ADDRESS_POOL ?? '10.160.0.0/13'

/**
 * Pause between making a set and timing a tool on it: the engine's after-work (containerd shims exiting, bridges
 * settling) would otherwise land in whichever measurement comes next.
 */
export const SETTLE_MS = 1000

export function settle() {
  return new Promise((resolve) => {
    setTimeout(resolve, SETTLE_MS)
  })
}

/** A valid moat run ID (`run_` + 12 lowercase hex), random. */
export function runId() {
  return `run_${randomBytes(6).toString('hex')}`
}

/** Runs fn over items with at most `limit` at a time; results in order. */
export async function inParallel(items, limit, fn) {
  const results = Array.from({length: items.length})
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i], i)
    }
  }

  await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker))
  return results
}

/** Items in groups of `size`. */
export function groups(items, size) {
  const out = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/** One line per check; repeated calls fold in, the first problem wins (as in temp.js). */
export function checkList() {
  const checks = []
  const check = (name, problem) => {
    const existing = checks.find((c) => c.name === name)
    if (!existing) checks.push({detail: problem, name, ok: !problem})
    else if (problem && existing.ok) Object.assign(existing, {detail: problem, ok: false})
  }

  return {check, checks}
}

/** undefined when `actual` holds exactly the `expected` names, else what differs. */
export function sameNames(what, expected, actual) {
  const missing = [...expected].filter((name) => !actual.has(name))
  const extra = [...actual].filter((name) => !expected.has(name))
  if (missing.length === 0 && extra.length === 0) return
  const parts = []
  if (missing.length > 0) parts.push(`${missing.length} missing (e.g. ${missing.slice(0, 3).join(', ')})`)
  if (extra.length > 0) parts.push(`${extra.length} unexpected (e.g. ${extra.slice(0, 3).join(', ')})`)
  return `${what}: ${parts.join('; ')}`
}

// ---------------------------------------------------------------------------------------------------------------
// The private engine

function lastLine(text) {
  return (
    text
      .split('\n')
      .map((line) => line.trim())
      .findLast(Boolean) ?? ''
  )
}

/** The docker CLI itself, found before anything puts the shim first on a child's PATH. */
export function realDocker() {
  const r = spawnSync('sh', ['-c', 'command -v docker'], {encoding: 'utf8'})
  return r.status === 0 ? r.stdout.trim() : undefined
}

export class Engine {
  constructor({dir, docker, host, interrupted, stopSync}) {
    this.dir = dir
    this.host = host
    this.docker = docker
    this.interrupted = interrupted
    this.stopSync = stopSync
    /** Environment for every child that talks to the engine: this engine and nothing else. */
    // The journal of every removing pass (issue 21) goes into the engine's dir, removed with it: never ~/.local/state.
    this.env = {...process.env, CI: '1', DOCKER_HOST: host, XDG_STATE_HOME: join(dir, 'state')}
    delete this.env.DOCKER_CONTEXT
  }

  /**
   * Starts a private dockerd in a fresh /tmp/mbe-XXXXXX (short: the socket path must stay under 108 bytes) with
   * engine.sh, which installs docker.io when missing and builds IMAGE. Stop it with stop(), in a `finally`; a
   * process exit without that stops it too.
   */
  static start(log, interrupted) {
    if (!existsSync(ENGINE_SH)) throw new Error(`${ENGINE_SH} is missing`)
    const dir = mkdtempSync('/tmp/mbe-')
    const stopSync = () => spawnSync('bash', [ENGINE_SH, 'stop', dir], {stdio: ['ignore', 'ignore', 'inherit']})
    process.once('exit', stopSync)
    const started = process.hrtime.bigint()
    // stderr passes through: a first start may spend a minute in apt-get and should not look hung.
    const r = spawnSync('bash', [ENGINE_SH, 'start', dir], {
      encoding: 'utf8',
      env: {...process.env, MOAT_TEST_ADDRESS_POOL: ADDRESS_POOL},
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 600_000,
    })
    const host = /^DOCKER_HOST=(\S+)$/.exec(lastLine(r.stdout ?? ''))?.[1]
    if (r.status !== 0 || !host) {
      stopSync()
      process.off('exit', stopSync)
      if (interrupted()) throw new Interrupted('interrupted')
      throw new Error(`engine.sh start ${dir} failed (exit ${r.status ?? r.signal}${r.error ? `, ${r.error.message}` : ''})`)
    }

    const docker = realDocker()
    if (!docker) {
      stopSync()
      process.off('exit', stopSync)
      throw new Error('no docker CLI on PATH after engine.sh start')
    }

    log(`private engine ${host} up in ${fmtMs(Number(process.hrtime.bigint() - started) / 1e6)} (docker CLI ${docker})`)
    return new Engine({dir, docker, host, interrupted, stopSync})
  }

  /** Names of every container on the engine, running or not. */
  async containerNames() {
    return new Set((await this.ok(['ps', '--all', '--format', '{{.Names}}'])).split('\n').filter(Boolean))
  }

  /**
   * Creates containers ({name, labels, network, command}) in parallel batches; with `start`, starts them (many per
   * docker process) and waits until every one has exited with 0. Returns their full IDs in order.
   */
  async createContainers(specs, {start = false} = {}) {
    const ids = await inParallel(specs, SETUP_PARALLEL, (spec) =>
      this.ok([
        'create',
        '--name',
        spec.name,
        ...(spec.labels ?? []).flatMap((l) => ['--label', l]),
        ...(spec.network ? ['--network', spec.network] : []),
        IMAGE,
        ...(spec.command ?? ['true']),
      ]),
    )
    if (!start || ids.length === 0) return ids
    const batches = groups(ids, Math.ceil(ids.length / SETUP_PARALLEL))
    await inParallel(batches, SETUP_PARALLEL, (batch) => this.ok(['start', ...batch]))
    const codes = (await this.ok(['wait', ...ids])).split('\n')
    const failed = codes.filter((code) => code.trim() !== '0').length
    if (failed > 0 || codes.length !== ids.length) throw new Error(`${failed} of ${ids.length} fixture containers did not exit 0`)
    return ids
  }

  /** One bridge network per name, as moat makes them: `docker network create --driver bridge --label ...`. */
  async createNetworks(names, labels = ['moat.managed=true']) {
    await inParallel(names, SETUP_PARALLEL, (name) =>
      this.ok(['network', 'create', '--driver', 'bridge', ...labels.flatMap((l) => ['--label', l]), name]),
    )
  }

  /** Names of every network on the engine. */
  async networkNames() {
    return new Set((await this.ok(['network', 'ls', '--format', '{{.Name}}'])).split('\n').filter(Boolean))
  }

  /** Like run() but throws on failure (or after Ctrl-C); returns stdout without surrounding whitespace. */
  async ok(args, options) {
    const r = await this.run(args, options)
    if (this.interrupted()) throw new Interrupted('interrupted')
    if (r.status !== 0) throw new Error(`docker ${args.slice(0, 4).join(' ')}${args.length > 4 ? ' ...' : ''}: ${describe(r)}`)
    return r.stdout.trim()
  }

  /** Removes these containers (any state) and networks, e.g. what a step left for the next one. */
  async remove({containers = [], networks = []}) {
    for (const batch of groups(containers, 500)) await this.ok(['rm', '--force', ...batch])
    for (const batch of groups(networks, 500)) await this.ok(['network', 'rm', ...batch])
  }

  /** Runs the real docker CLI against this engine; never rejects for a non-zero exit. */
  run(args, {timeoutMs = 120_000} = {}) {
    return new Promise((resolve, reject) => {
      const child = spawn(this.docker, args, {env: this.env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs})
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (chunk) => {
        stdout += chunk
      })
      child.stderr.on('data', (chunk) => {
        stderr += chunk
      })
      child.on('error', reject)
      child.on('close', (status, signal) => resolve({signal, status, stderr, stdout}))
    })
  }

  /** engine.sh stop: removes its containers and networks, stops dockerd, deletes the dir. True when the dir is gone. */
  stop(log) {
    process.off('exit', this.stopSync)
    const started = process.hrtime.bigint()
    this.stopSync()
    log(`stopped the private engine and removed ${this.dir} in ${fmtMs(Number(process.hrtime.bigint() - started) / 1e6)}`)
    return !existsSync(this.dir)
  }
}

// ---------------------------------------------------------------------------------------------------------------
// moat and the docker shim

/** A moat home with an empty runs/: every run a fixture names is dead. */
export function deadRunsHome(base) {
  const home = mkdtempSync(join(base, 'home-'))
  mkdirSync(join(home, 'runs'))
  return home
}

/**
 * A `docker` first on PATH that logs each invocation it starts and ends, with wall-clock times ($EPOCHREALTIME, no
 * extra process), and runs the real one as its child (so its end is seen; a start line without an end line is a
 * process killed on the way).
 */
export function dockerShim(dir, docker) {
  mkdirSync(dir, {recursive: true})
  const log = join(dir, 'calls.log')
  writeFileSync(
    join(dir, 'docker'),
    `#!/bin/bash
printf 'S %s %s %s\\n' "$EPOCHREALTIME" "$$" "$*" >> '${log}'
'${docker}' "$@"
rc=$?
printf 'E %s %s %s\\n' "$EPOCHREALTIME" "$$" "$rc" >> '${log}'
exit $rc
`,
  )
  chmodSync(join(dir, 'docker'), 0o755)
  writeFileSync(log, '')
  return {
    /** The invocations since the last reset: {args, startMs, endMs (undefined if it never ended), status}. */
    calls() {
      const calls = []
      const open = new Map()
      for (const line of readFileSync(log, 'utf8').split('\n')) {
        const m = /^([SE]) (\S+) (\d+) ?(.*)$/.exec(line)
        if (!m) continue
        const ms = Number(m[2].replace(',', '.')) * 1000
        if (m[1] === 'S') {
          const call = {args: m[4], endMs: undefined, startMs: ms, status: undefined}
          calls.push(call)
          open.set(m[3], call)
        } else if (open.has(m[3])) {
          Object.assign(open.get(m[3]), {endMs: ms, status: Number(m[4])})
          open.delete(m[3])
        }
      }

      return calls
    },
    env: (base) => ({...base, PATH: `${dir}${delimiter}${base.PATH ?? ''}`}),
    reset: () => writeFileSync(log, ''),
  }
}

/**
 * A counting proxy (request-log.js, its own process) in front of the engine's socket: moat's profiled runs talk to
 * it, so the Engine API requests they make are counted and timed as the shim counts docker processes.
 */
export async function requestLog(dir, engineHost) {
  mkdirSync(dir, {recursive: true})
  const log = join(dir, 'requests.log')
  const listen = join(dir, 'p.sock')
  writeFileSync(log, '')
  const child = spawn(process.execPath, [join(REPO, 'bench', 'request-log.js'), listen, engineHost.replace(/^unix:\/\//, ''), log], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  await new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`request-log.js exited with ${code} before it listened`)))
    child.stdout.once('data', () => resolve())
  })
  child.removeAllListeners('exit')
  return {
    env: (base) => ({...base, DOCKER_HOST: `unix://${listen}`}),
    /** Requests since the last reset: {label, startMs, endMs, status}. */
    requests() {
      return readFileSync(log, 'utf8')
        .split('\n')
        .map((line) => /^R (\S+) (\S+) (\d+) (\S+) (\S+)$/.exec(line))
        .filter(Boolean)
        .map((m) => ({endMs: Number(m[2]), label: requestLabel(m[4], m[5]), startMs: Number(m[1]), status: Number(m[3])}))
    },
    reset: () => writeFileSync(log, ''),
    stop() {
      if (child.exitCode === null) child.kill('SIGTERM')
    },
  }
}

/** `DELETE /v1.41/containers/<64 hex>` reads as `DELETE /containers/{id}`, one by name as `{name}`. */
function requestLabel(method, path) {
  const bare = path
    .replace(/^\/v[\d.]+/, '')
    .replace(/\?.*$/, '')
    .replace(/^(\/(?:containers|networks|volumes))\/([^/]+)/, (_, kind, key) =>
      key === 'json' ? `${kind}/json` : `${kind}/${/^[0-9a-f]{64}$/.test(key) ? '{id}' : '{name}'}`,
    )
  return `${method} ${bare}`
}

/**
 * Runs moat (node bin/run.js ...) against the engine with MOAT_HOME=home: `timed` without the shim (the
 * measurement), `profiled` with it (count and per-call times). Each returns makeRunner's result; profiled adds
 * {calls, startMs, endMs}.
 */
export function moatRunner({engine, interrupted, requests, shim}) {
  const runner = (env, home) => makeRunner({env: {...env, MOAT_HOME: home}, interrupted})
  return {
    profiled(args, home) {
      shim.reset()
      requests.reset()
      const startMs = performance.timeOrigin + performance.now()
      const r = runner(requests.env(shim.env(engine.env)), home)(process.execPath, [RUN_JS, ...args])
      const endMs = performance.timeOrigin + performance.now()
      return {...r, calls: shim.calls(), endMs, requests: requests.requests(), startMs}
    },
    timed: (args, home) => runner(engine.env, home)(process.execPath, [RUN_JS, ...args]),
  }
}

/** A reference command (the real docker, no shim) timed like moat. */
export function referenceRunner({engine, interrupted}) {
  const plain = makeRunner({env: engine.env, interrupted})
  return (args) => plain(engine.docker, args)
}

/** bench/floor.js, a whole process timed as the prunes are: the same Engine API calls as moat, and nothing else. */
export function floorRunner({engine, interrupted}) {
  const plain = makeRunner({env: engine.env, interrupted})
  return (what) => plain(process.execPath, [join(REPO, 'bench', 'floor.js'), what])
}

/** undefined when floor.js removed exactly `expected` (names), else what differs. */
export function verifyFloor(r, expected) {
  const {doc, error} = parseJson(r)
  if (error) return `floor.js: ${error}`
  if (r.status !== 0) return `floor.js: ${describe(r)}`
  return sameNames('what floor.js removed', new Set(expected), new Set(doc.removed))
}

/** Parses moat's --json stdout; {error} when it is not JSON. */
export function parseJson(r) {
  try {
    return {doc: JSON.parse(r.stdout)}
  } catch (error) {
    return {error: `${describe(r)}; stdout is not JSON (${error.message})`}
  }
}

/** `network inspect` with 100 IDs reads as `network inspect [100 IDs]`. */
function callLabel(args) {
  const words = args.split(' ')
  const ids = words.filter((w) => /^[0-9a-f]{64}$/.test(w)).length
  const head = words.filter((w) => !/^[0-9a-f]{64}$/.test(w)).slice(0, ['container', 'network', 'volume'].includes(words[0]) ? 2 : 1)
  const tail = words.includes('--format') ? ' --format' : ''
  return `${head.join(' ')}${tail}${ids > 0 ? ` [${ids} IDs]` : ''}`
}

/**
 * Where a profiled moat run spent its wall time: start-up until the first docker process, each docker process (from
 * the shim's own start to its end, so ~2 ms of bash each), moat's own work between them, and exit after the last.
 */
export function breakdown(p) {
  const processes = p.calls.filter((c) => c.endMs !== undefined)
  const requests = p.requests ?? []
  const calls = [...processes, ...requests].sort((a, b) => a.startMs - b.startMs)
  const total = p.endMs - p.startMs
  if (calls.length === 0) return {calls: [], dockerMs: 0, exitMs: 0, ownMs: total, startupMs: total, text: `${fmtMs(total)}, no engine call`, totalMs: total}
  // Engine time is the union of the calls' intervals (requests and processes overlap).
  let dockerMs = 0
  let reach = calls[0].startMs
  for (const c of calls) {
    const from = Math.max(c.startMs, reach)
    if (c.endMs > from) dockerMs += c.endMs - from
    reach = Math.max(reach, c.endMs)
  }

  const startupMs = calls[0].startMs - p.startMs
  const exitMs = p.endMs - reach
  const ownMs = reach - calls[0].startMs - dockerMs
  const list = processes.map((c) => `${callLabel(c.args)} ${(c.endMs - c.startMs).toFixed(0)}`).join(', ')
  const engineCalls = [
    ...(processes.length > 0 ? [`${processes.length} docker processes (${list} ms)`] : []),
    ...(requests.length > 0 ? [`${requests.length} Engine API requests (${requestSummary(requests)})`] : []),
  ]
  return {
    calls,
    dockerMs,
    exitMs,
    ownMs,
    startupMs,
    text: `${fmtMs(total)} = start-up to first engine call ${fmtMs(startupMs)} + engine ${fmtMs(dockerMs)}: ${engineCalls.join(' and ')} + moat's own work between them ${fmtMs(ownMs)} + exit ${fmtMs(exitMs)}`,
    totalMs: total,
  }
}

/** Requests grouped by label in order of first use: `DELETE /containers/{id} x100 in 212 ms` (first start to last end). */
function requestSummary(requests) {
  const groups = new Map()
  for (const r of requests) {
    const group = groups.get(r.label) ?? {count: 0, endMs: r.endMs, startMs: r.startMs}
    group.count++
    group.startMs = Math.min(group.startMs, r.startMs)
    group.endMs = Math.max(group.endMs, r.endMs)
    groups.set(r.label, group)
  }

  return [...groups].map(([label, g]) => `${label}${g.count > 1 ? ` x${g.count}` : ''} ${(g.endMs - g.startMs).toFixed(0)} ms`).join(', ')
}

/**
 * The frame of an engine section: a built CLI, a scratch dir, a private engine with the counting shim and runners
 * for moat and the reference, notes on the machine's load and a stale build, and, whatever happens, the engine
 * stopped and the scratch dir removed. `body` adds rows, notes and checks.
 */
export async function engineSection({built, interrupted, log, name}, body) {
  if (!existsSync(built)) throw new Error(`${built} is missing: run \`npm run build\` first`)
  const {check, checks} = checkList()
  const rows = []
  const notes = []
  const stale = staleBuild()
  if (stale) notes.push(`WARNING: ${stale} is newer than dist/: run \`npm run build\` (this measured the old build)`)
  const loadBefore = machineLoad()
  const builtAt = statSync(built).mtimeMs
  const base = mkdtempSync(join(tmpdir(), `bench-moat-${name}-`))
  let engine
  let requests
  try {
    engine = Engine.start(log, interrupted)
    const shim = dockerShim(join(base, 'shim'), engine.docker)
    const tick = async () => {
      await new Promise((resolve) => {
        setImmediate(resolve)
      })
      if (interrupted()) throw new Interrupted('interrupted')
    }

    requests = await requestLog(join(base, 'requests'), engine.host)
    const moat = moatRunner({engine, interrupted, requests, shim})
    const prune = referenceRunner({engine, interrupted})
    const floor = floorRunner({engine, interrupted})
    await body({base, check, engine, floor, moat, notes, prune, rows, shim, tick})
    notes.push(`machine load: before ${loadBefore}; after ${machineLoad()} (other work on this machine inflates and scatters the figures)`)
    if (!existsSync(built) || statSync(built).mtimeMs !== builtAt) {
      notes.push('WARNING: dist/ was rebuilt while the bench ran (another `npm run build`?): figures may mix two builds')
    }
  } finally {
    requests?.stop()
    if (engine) check('private engine stopped and its dir removed', engine.stop(log) ? undefined : `${engine.dir} is still there`)
    rmSync(base, {force: true, maxRetries: 3, recursive: true})
    check('bench files removed', existsSync(base) ? `${base} is still there` : undefined)
  }

  return {checks, notes, rows}
}
