// Watch section of `npm run bench` (issue 24): the watching reaper against the interval-only one, on private engines.
//   1. latency: 50 leaks (a run dir removed, its network and exited container left), one at a time; time from each
//      leak to the removal of both, watching (`reap --interval 10m`) and interval-only (`reap --no-watch`, with a
//      short interval so that it fits in a bench: the figure is also given as a fraction of the interval);
//   2. churn: an engine whose address pool holds 32 networks; a workload makes a run (dir, network) every 0.5 s and
//      leaks it; failed network creations with the watching reaper and with `--interval 10m --no-watch`;
//   3. idle: a watching reaper with nothing to do; its CPU time, RSS and open descriptors from start to end;
//   4. soak: leaks in waves, the engine restarted twice mid-way; every leak removed, nothing else, every removal in
//      the audit log, every intent closed.
// The long rows take their length from the environment (what ran is in each row's name):
//   MOAT_BENCH_WATCH_LEAKS (50), MOAT_BENCH_WATCH_INTERVAL_S (20: the interval-only reaper's interval in row 1),
//   MOAT_BENCH_CHURN_S (120), MOAT_BENCH_IDLE_S (600), MOAT_BENCH_SOAK_LEAKS (2000).
// Engines: test/engine/engine.sh in /tmp/mbw-*, pools from MOAT_BENCH_WATCH_POOL (10.218.0.0/17, 128 networks) and
// MOAT_BENCH_CHURN_POOL (10.218.128.0/19: 32 networks). Both are stopped at the end, also on failure.
import {spawn, spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {request} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {ENGINE_SH, IMAGE, RUN_JS} from './engine.js'

export const title = 'the watching reaper: time to removal, churn, idle cost, soak (private engines)'

const env = (name, fallback) => Number(process.env[name] ?? fallback)
const SIZES = {
  full: {churnS: env('MOAT_BENCH_CHURN_S', 120), idleS: env('MOAT_BENCH_IDLE_S', 600), intervalS: env('MOAT_BENCH_WATCH_INTERVAL_S', 20), leaks: env('MOAT_BENCH_WATCH_LEAKS', 50), soak: env('MOAT_BENCH_SOAK_LEAKS', 2000)},
  quick: {churnS: 10, idleS: 10, intervalS: 5, leaks: 5, soak: 40},
}
const WATCH_POOL = process.env.MOAT_BENCH_WATCH_POOL ?? '10.218.0.0/17'
const CHURN_POOL = process.env.MOAT_BENCH_CHURN_POOL ?? '10.218.128.0/19'
/** Leaks per soak wave: the pool holds 128 networks, and each leak holds one until it is removed. */
const WAVE = 100
const CLK_TCK = 100

const sleep = (ms) =>
  new Promise((resolve) => {
    setTimeout(resolve, ms)
  })
const runId = () => `run_${randomBytes(6).toString('hex')}`

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

const fmtS = (ms) => `${(ms / 1000).toFixed(2)} s`

// ---------------------------------------------------------------------------------------------------------------
// Engines and the Engine API

function startEngine(pool, log) {
  const dir = mkdtempSync('/tmp/mbw-')
  const r = spawnSync('bash', [ENGINE_SH, 'start', dir], {encoding: 'utf8', env: {...process.env, MOAT_TEST_ADDRESS_POOL: pool}})
  const host = /^DOCKER_HOST=(\S+)$/m.exec(r.stdout)?.[1]
  if (r.status !== 0 || !host) throw new Error(`engine.sh start ${dir} failed: ${r.stderr.trim().split('\n').at(-1)}`)
  log(`engine ${host} (pool ${pool})`)
  return {dir, host, socket: host.replace(/^unix:\/\//, '')}
}

function stopEngine(engine) {
  if (engine) spawnSync('bash', [ENGINE_SH, 'stop', engine.dir], {stdio: 'ignore'})
}

/** Stops the engine's dockerd (SIGTERM, by its pidfile) and starts it again on the same data. */
async function restartEngine(engine, pool) {
  const pid = Number(readFileSync(join(engine.dir, 'docker.pid'), 'utf8').trim())
  process.kill(pid, 'SIGTERM')
  while (existsSync(`/proc/${pid}`)) await sleep(100)
  // Its containerd and shims may take a moment longer to go: a start that finds them still there is tried again.
  let problem
  for (let attempt = 0; attempt < 5; attempt++) {
    const r = spawnSync('bash', [ENGINE_SH, 'start', engine.dir], {encoding: 'utf8', env: {...process.env, MOAT_TEST_ADDRESS_POOL: pool}})
    if (r.status === 0) return attempt
    problem = r.stderr.trim().split('\n').slice(-6).join(' | ')
    await sleep(2000)
  }

  throw new Error(`engine.sh start ${engine.dir} (restart) failed 5 times: ${problem}`)
}

function api(engine, method, path, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body)
    const req = request({headers: data ? {'content-type': 'application/json'} : {}, method, path, socketPath: engine.socket}, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => {
        text += chunk
      })
      res.on('end', () => resolve({json: text ? safeJson(text) : undefined, status: res.statusCode, text}))
    })
    req.on('error', reject)
    req.end(data)
  })
}

function safeJson(text) {
  try {
    return JSON.parse(text)
  } catch {
    // Not JSON (an error text): nothing to read.
  }
}

async function ok(engine, method, path, body) {
  const r = await api(engine, method, path, body)
  if (r.status >= 300) throw new Error(`${method} ${path}: HTTP ${r.status} ${r.text.trim()}`)
  return r.json
}

const createNetwork = (engine, name) => api(engine, 'POST', '/networks/create', {Driver: 'bridge', Labels: {'moat.managed': 'true'}, Name: name})

/** A run's leak as moat leaves it: its network, and its run container on it, exited (or only created). */
async function runObjects(engine, id, {start = true} = {}) {
  const network = await createNetwork(engine, `moat-${id}`)
  if (network.status >= 300) throw new Error(`network moat-${id}: HTTP ${network.status} ${network.text.trim()}`)
  const container = await ok(engine, 'POST', `/containers/create?name=${id}`, {Cmd: ['true'], HostConfig: {NetworkMode: `moat-${id}`}, Image: IMAGE})
  if (start) {
    await ok(engine, 'POST', `/containers/${container.Id}/start`)
    await ok(engine, 'POST', `/containers/${container.Id}/wait`)
  }
}

async function names(engine) {
  const containers = await ok(engine, 'GET', '/containers/json?all=1')
  const networks = await ok(engine, 'GET', '/networks')
  return new Set([...containers.map((c) => c.Names[0].slice(1)), ...networks.map((n) => n.Name)])
}

// ---------------------------------------------------------------------------------------------------------------
// A reaper

function moatHome(base) {
  const home = mkdtempSync(join(base, 'home-'))
  mkdirSync(join(home, 'runs'))
  return home
}

/** A run dir moat would keep: metadata.json of a running run. */
function aliveRunDir(home, id) {
  const dir = join(home, 'runs', id)
  mkdirSync(dir)
  const now = new Date().toISOString()
  // eslint-disable-next-line camelcase
  const metadata = {agent: 'claude-code', created_at: now, name: 'bench', runtime: 'docker', started_at: now, state: 'running', workspace: '/src/bench'}
  writeFileSync(join(dir, 'metadata.json'), JSON.stringify(metadata, null, 2))
}

function startReaper(engine, home, args) {
  const log = join(home, 'reap.log')
  const child = spawn(process.execPath, [RUN_JS, 'system', 'reap', '--min-age', '0s', '--max-delete', '1000', '--log-format', 'json', '--log-file', log, '--only', 'containers,networks', ...args], {
    env: {...process.env, CI: '1', DOCKER_HOST: engine.host, MOAT_HOME: home, XDG_STATE_HOME: join(home, 'state')},
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (chunk) => {
    stderr += chunk
  })
  const exited = new Promise((resolve) => {
    child.on('exit', (code) => resolve(code))
  })
  let offset = 0
  const lines = []
  /** The log's lines so far (read incrementally). */
  const read = () => {
    if (!existsSync(log)) return lines
    const text = readFileSync(log, 'utf8')
    const complete = text.lastIndexOf('\n') + 1
    for (const line of text.slice(offset, complete).split('\n')) if (line) lines.push(JSON.parse(line))
    offset = complete
    return lines
  }

  return {
    child,
    exited,
    read,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM')
      const code = await exited
      return {code, stderr}
    },
    async until(what, check, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs
      while (!check(read())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
        if (child.exitCode !== null) throw new Error(`the reaper exited (${child.exitCode}) while waiting for ${what}: ${stderr.trim().split('\n').at(-1)}`)
        await sleep(50)
      }
    },
  }
}

function removalTimes(lines) {
  const removed = new Map()
  for (const line of lines) if (line.event === 'decision' && line.decision === 'removed') removed.set(line.name, Date.parse(line.time))
  return removed
}

function procStats(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const cpuMs = ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK
  const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1])
  return {cpuMs, fds: readdirSync(`/proc/${pid}/fd`).length, rssMb: rssKb / 1024}
}

// ---------------------------------------------------------------------------------------------------------------
// The rows

/** Row 1: each leak's time to removal, one leak at a time. */
async function latency(engine, base, size, args, log) {
  const home = moatHome(base)
  const ids = Array.from({length: size.leaks}, () => runId())
  for (const id of ids) {
    aliveRunDir(home, id)
    await runObjects(engine, id)
  }

  const reaper = startReaper(engine, home, args)
  try {
    await reaper.until('the first pass', (lines) => lines.some((line) => line.event === 'pass'))
    await sleep(1000)
    const leakedAt = new Map()
    for (const id of ids) {
      rmSync(join(home, 'runs', id), {recursive: true})
      leakedAt.set(id, Date.now())
      // One leak at a time, at random moments: 0.2 to 1 s apart.
      await sleep(200 + Math.random() * 800)
    }

    await reaper.until('every leak removed', (lines) => {
      const removed = removalTimes(lines)
      return ids.every((id) => removed.has(id) && removed.has(`moat-${id}`))
    }, (size.intervalS * 3 + 120) * 1000)
    const removed = removalTimes(reaper.read())
    const latencies = ids.map((id) => Math.max(removed.get(id), removed.get(`moat-${id}`)) - leakedAt.get(id))
    const passes = reaper.read().filter((line) => line.event === 'pass').length
    log(`${args.join(' ')}: p50 ${fmtS(percentile(latencies, 50))}, p95 ${fmtS(percentile(latencies, 95))}, max ${fmtS(Math.max(...latencies))}, ${passes} passes`)
    const left = await names(engine)
    return {latencies, left: ids.filter((id) => left.has(id) || left.has(`moat-${id}`)).length, passes}
  } finally {
    await reaper.stop()
    rmSync(home, {force: true, recursive: true})
  }
}

/** Row 2: a run every 0.5 s, each leaked; network creations that fail for want of an address pool subnet. */
async function churn(engine, base, seconds, args, log) {
  const home = moatHome(base)
  const reaper = startReaper(engine, home, args)
  let failed = 0
  let made = 0
  let firstFailure
  try {
    await reaper.until('the first pass', (lines) => lines.some((line) => line.event === 'pass'))
    const end = Date.now() + seconds * 1000
    for (let next = Date.now(); next < end; next += 500) {
      await sleep(Math.max(0, next - Date.now()))
      const id = runId()
      // A run as moat makes it (the run dir first), which then dies without its teardown: the dir goes, the network stays.
      aliveRunDir(home, id)
      const r = await createNetwork(engine, `moat-${id}`)
      made++
      if (r.status >= 300) {
        failed++
        firstFailure ??= r.text.trim()
      }

      rmSync(join(home, 'runs', id), {recursive: true})
    }

    log(`${args.join(' ')}: ${made} networks asked for, ${failed} failed${firstFailure ? ` (${firstFailure})` : ''}`)
    return {failed, made}
  } finally {
    await reaper.stop()
    await api(engine, 'POST', '/networks/prune')
    rmSync(home, {force: true, recursive: true})
  }
}

/** Row 3: a watching reaper with nothing to do. */
async function idle(engine, base, seconds, log) {
  const home = moatHome(base)
  const reaper = startReaper(engine, home, ['--interval', '10m'])
  try {
    await reaper.until('the first pass', (lines) => lines.some((line) => line.event === 'pass'))
    await reaper.until('the watches up', () => {
      const dir = join(home, 'state', 'moat-system')
      const file = existsSync(dir) ? readdirSync(dir).find((name) => name.startsWith('reaper-')) : undefined
      const state = file ? safeJson(readFileSync(join(dir, file), 'utf8')) : undefined
      return Boolean(state?.watch?.runs?.watching && state.watch.engines.every((e) => e.watching))
    })
    await sleep(2000)
    const start = procStats(reaper.child.pid)
    await sleep(seconds * 1000)
    const end = procStats(reaper.child.pid)
    log(`idle ${seconds} s: CPU ${start.cpuMs} ms at the start (start-up and first pass), ${end.cpuMs} ms at the end; RSS ${start.rssMb.toFixed(1)} -> ${end.rssMb.toFixed(1)} MB; fds ${start.fds} -> ${end.fds}`)
    return {end, passes: reaper.read().filter((line) => line.event === 'pass').length, start}
  } finally {
    await reaper.stop()
    rmSync(home, {force: true, recursive: true})
  }
}

/** Row 4: leaks in waves, the engine restarted twice; the audit trail checked against the engine. */
async function soak(engine, base, leaks, log, interrupted) {
  const home = moatHome(base)
  const decoys = Array.from({length: 10}, () => runId())
  for (const id of decoys) {
    aliveRunDir(home, id)
    await runObjects(engine, id, {start: false})
  }

  const reaper = startReaper(engine, home, ['--interval', '10m'])
  const all = []
  const waves = Math.ceil(leaks / WAVE)
  const restartAfter = new Set([Math.floor(waves / 3), Math.floor((2 * waves) / 3)].filter((wave) => wave > 0 && wave < waves))
  let restarts = 0
  try {
    await reaper.until('the first pass', (lines) => lines.some((line) => line.event === 'pass'))
    for (let wave = 0; wave < waves && !interrupted(); wave++) {
      const ids = Array.from({length: Math.min(WAVE, leaks - wave * WAVE)}, () => runId())
      all.push(...ids)
      // Made in parallel, each with its run dir first; then every run dies.
      await Promise.all(
        Array.from({length: 4}, async (_, worker) => {
          for (let i = worker; i < ids.length; i += 4) {
            aliveRunDir(home, ids[i])
            await runObjects(engine, ids[i], {start: false})
          }
        }),
      )
      for (const id of ids) rmSync(join(home, 'runs', id), {recursive: true})
      if (restartAfter.has(wave + 1)) {
        // Mid-way: the engine goes down right after the leaks, while the reaper removes them.
        await sleep(500)
        await restartEngine(engine, WATCH_POOL)
        restarts++
      }

      await reaper.until(`wave ${wave + 1} removed`, (lines) => {
        const removed = removalTimes(lines)
        return ids.every((id) => removed.has(id) && removed.has(`moat-${id}`))
      }, 300_000)
      log(`soak: wave ${wave + 1}/${waves} removed (${all.length} leaks so far, ${restarts} restarts)`)
    }
  } finally {
    await reaper.stop()
  }

  const lines = reaper.read()
  const onEngine = await names(engine)
  const removed = new Set(lines.filter((line) => (line.event === 'decision' || line.event === 'resumed') && line.decision === 'removed').map((line) => line.name))
  const intents = lines.filter((line) => line.event === 'intent')
  const closed = new Set(lines.filter((line) => line.event === 'decision' || line.event === 'resumed').map((line) => `${line.target}\u0000${line.id}`))
  const result = {
    decoysLost: decoys.filter((id) => !onEngine.has(id) || !onEngine.has(`moat-${id}`)).length,
    leaks: all.length,
    left: all.filter((id) => onEngine.has(id) || onEngine.has(`moat-${id}`)).length,
    lostDecisions: all.flatMap((id) => [id, `moat-${id}`]).filter((name) => !onEngine.has(name) && !removed.has(name)).length,
    openIntents: intents.filter((line) => !closed.has(`${line.target}\u0000${line.id}`)).length,
    passes: lines.filter((line) => line.event === 'pass').length,
    restarts,
    wrong: lines.filter((line) => line.event === 'decision' && line.decision === 'removed' && !all.some((id) => line.name === id || line.name === `moat-${id}`)).length,
  }
  rmSync(home, {force: true, recursive: true})
  log(`soak: ${JSON.stringify(result)}`)
  return result
}

// ---------------------------------------------------------------------------------------------------------------

export async function run({interrupted, log, quick}) {
  const size = quick ? SIZES.quick : SIZES.full
  const base = mkdtempSync(join(tmpdir(), 'mbw-'))
  const rows = []
  const checks = []
  const notes = []
  let main
  let small
  try {
    main = startEngine(WATCH_POOL, log)

    // Each row on its own: one that cannot finish is a failed check, and the others are still reported.
    const attempt = async (what, fn) => {
      try {
        await fn()
      } catch (error) {
        log(`${what} FAILED: ${error?.stack ?? error}`)
        checks.push({detail: String(error?.message ?? error), name: `${what} ran to the end`, ok: false})
      }
    }

    // 1. Latency.
    await attempt('latency', async () => {
    const watching = await latency(main, base, size, ['--interval', '10m'], log)
    const polling = await latency(main, base, size, ['--no-watch', '--interval', `${size.intervalS}s`], log)
    checks.push({detail: watching.left ? `${watching.left} left` : undefined, name: `watching: all ${size.leaks} leaks removed`, ok: watching.left === 0}, {detail: polling.left ? `${polling.left} left` : undefined, name: `interval-only: all ${size.leaks} leaks removed`, ok: polling.left === 0})
    const p95 = percentile(watching.latencies, 95)
    const pollP95 = percentile(polling.latencies, 95)
    const pollMean = polling.latencies.reduce((a, b) => a + b, 0) / polling.latencies.length
    rows.push({
      name: `leak to removal, ${size.leaks} leaks one at a time, p95 (p50 ${fmtS(percentile(watching.latencies, 50))}, ${watching.passes} passes)`,
      pass: p95 <= 3000,
      ratio: `${(pollP95 / p95).toFixed(0)}x sooner`,
      reference: `p95 ${fmtS(pollP95)}, mean ${fmtS(pollMean)} = ${(pollMean / (size.intervalS * 1000)).toFixed(2)} x its ${size.intervalS}s interval (at 10m: ~${((pollMean / (size.intervalS * 1000)) * 600).toFixed(0)} s)`,
      target: '<= 3 s',
      value: fmtS(p95),
    })

    })

    // 3. Idle (before the soak, on a quiet engine).
    await attempt('idle', async () => {
    const still = await idle(main, base, size.idleS, log)
    const cpuMs = still.end.cpuMs - still.start.cpuMs
    const rss = still.end.rssMb - still.start.rssMb
    const fds = still.end.fds - still.start.fds
    rows.push({
      name: `idle reaper ${size.idleS} s: CPU while idle (start-up and first pass: ${still.start.cpuMs} ms more)`,
      pass: still.end.cpuMs < 1000,
      ratio: '-',
      reference: `RSS ${still.start.rssMb.toFixed(1)} -> ${still.end.rssMb.toFixed(1)} MB, fds ${still.start.fds} -> ${still.end.fds}, ${still.passes} pass`,
      target: '< 1 s in all; RSS +-5 MB, fds +-5',
      value: `${cpuMs} ms`,
    })
    checks.push({detail: `RSS ${rss.toFixed(1)} MB, fds ${fds}`, name: 'idle: RSS and descriptors flat', ok: Math.abs(rss) <= 5 && Math.abs(fds) <= 5})

    })

    // 4. Soak.
    await attempt('soak', async () => {
    const soaked = await soak(main, base, size.soak, log, interrupted)
    rows.push({
      name: `soak: ${soaked.leaks} leaks, engine restarted ${soaked.restarts}x, ${soaked.passes} passes`,
      pass: soaked.left === 0 && soaked.wrong === 0 && soaked.decoysLost === 0 && soaked.lostDecisions === 0 && soaked.openIntents === 0,
      ratio: '-',
      reference: `${soaked.wrong + soaked.decoysLost} wrong deletions, ${soaked.lostDecisions} lost decisions, ${soaked.openIntents} open intents`,
      target: 'all removed, 0 wrong, 0 lost',
      value: `${soaked.leaks - soaked.left} removed`,
    })
    if (soaked.leaks < 2000) notes.push(`soak scaled down: ${soaked.leaks} leaks instead of 2,000 (MOAT_BENCH_SOAK_LEAKS)`)
    })
    stopEngine(main)
    main = undefined

    // 2. Churn, on an engine whose pool holds 32 networks.
    small = startEngine(CHURN_POOL, log)
    await attempt('churn', async () => {
    const churnWatching = await churn(small, base, size.churnS, ['--interval', '10m'], log)
    const churnPolling = await churn(small, base, size.churnS, ['--no-watch', '--interval', '10m'], log)
    rows.push({
      name: `churn ${size.churnS} s, a leaked run network every 0.5 s, pool of 32: failed creations`,
      pass: churnWatching.failed === 0,
      ratio: '-',
      reference: `${churnPolling.failed} of ${churnPolling.made} (--no-watch --interval 10m)`,
      target: '0 with watching',
      value: `${churnWatching.failed} of ${churnWatching.made}`,
    })
    })
    if (size.churnS !== 120) notes.push(`churn ran ${size.churnS} s instead of 2 minutes (MOAT_BENCH_CHURN_S)`)
    if (size.idleS !== 600) notes.push(`idle ran ${size.idleS} s instead of 10 minutes (MOAT_BENCH_IDLE_S)`)
    notes.push(`interval-only latency measured with --interval ${size.intervalS}s (MOAT_BENCH_WATCH_INTERVAL_S); at 10m the same fraction of the interval applies`)
  } finally {
    stopEngine(main)
    stopEngine(small)
    rmSync(base, {force: true, recursive: true})
  }

  return {checks, notes, rows}
}
