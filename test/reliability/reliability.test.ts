// The reliability figures (issue 10): each fault injected for real against the built CLI (or the pipeline, where
// the fault must land between plan and removal), counting wrong deletions (something removed that the report does
// not say was removed, or that was alive) and lost decisions (a candidate without its decision in the report and the
// audit log, or reported removed but still there). Both must be 0. The table is printed at the end; with
// MOAT_RELIABILITY_DOCS=1 it is also written to docs/reliability.md (the figures the README links).
import {spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync} from 'node:fs'
import {createServer, type Socket} from 'node:net'
import {hostname, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, afterEach, beforeEach, describe, expect, it} from 'vitest'

import {inventoryMarkdown} from '../../src/lib/host/inventory.js'
import {exitCodeOf, runPipeline} from '../../src/lib/pipeline/pipeline.js'
import {NetworkTarget} from '../../src/lib/targets/networks.js'
import {useEngineFixtures} from '../engine/shared-engine.js'
import {type CliResult, jsonOf, runCli, startCli} from '../helpers/cli.js'
import {CONTAINER_LIST, type EngineProxy, startEngineProxy} from '../helpers/dying-engine-proxy.js'
import {containerExists, describeEngine, dockerOk, networkExists, requireEngine, useEngineInProcessEnv} from '../helpers/engine.js'
import {createRunContainer, createRunNetwork, makeRunDir} from '../helpers/moat-fixtures.js'
import {makeTempDir, makeTmpRoot, removeTmpRoot} from '../helpers/temp-fixtures.js'
import {until} from '../helpers/until.js'

interface Row {
  exitExpected: number
  exitSeen: number[]
  fault: string
  lost: number
  runs: number
  wrong: number
}

const rows: Row[] = []
const RUNS = Number(process.env.MOAT_RELIABILITY_RUNS ?? 2)

/** Records one run of a fault and asserts it: no wrong deletion, no lost decision, the documented exit code. */
function record(fault: string, exitExpected: number, run: {exit: number; lost: number; wrong: number}): void {
  let row = rows.find((entry) => entry.fault === fault)
  if (!row) {
    row = {exitExpected, exitSeen: [], fault, lost: 0, runs: 0, wrong: 0}
    rows.push(row)
  }

  row.runs++
  row.wrong += run.wrong
  row.lost += run.lost
  row.exitSeen.push(run.exit)
  expect({exit: run.exit, lost: run.lost, wrong: run.wrong}).toEqual({exit: exitExpected, lost: 0, wrong: 0})
}

function table(): string {
  const lines = [
    '| fault | runs | wrong deletions | lost decisions | exit code seen | expected |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (row) =>
        `| ${row.fault} | ${row.runs} | ${row.wrong} | ${row.lost} | ${[...new Set(row.exitSeen)].join(', ')} | ${row.exitExpected} |`,
    ),
  ]
  return lines.join('\n')
}

afterAll(() => {
  if (rows.length === 0) return
  process.stderr.write(`\nReliability figures (${new Date().toISOString()}):\n${table()}\n`)
  if (process.env.MOAT_RELIABILITY_DOCS !== '1') return
  const doc = fileURLToPath(new URL('../../docs/reliability.md', import.meta.url))
  mkdirSync(join(doc, '..'), {recursive: true})
  writeFileSync(
    doc,
    // The path inventory (issue 20) follows the figures, rendered from the code as test/unit/inventory.test.ts checks.
    `# Reliability figures\n\nWritten by \`MOAT_RELIABILITY_DOCS=1 npm run test:reliability\` (test/reliability/reliability.test.ts) on ${new Date().toISOString().slice(0, 10)}, node ${process.version}. Each fault is injected for real: a unix-socket proxy in front of the test engine that dies mid-batch or mid-scan, a socket that never answers, a 16 KiB tmpfs under the audit log, SIGKILL, two reapers started together, planted locks. A wrong deletion is something removed that was alive or that the report does not say was removed; a lost decision is a candidate without its decision in the report and the audit log, or reported removed but still there.\n\n${table()}\n\n<!-- inventory -->\n${inventoryMarkdown()}\n<!-- /inventory -->\n`,
  )
})

type LogLine = Record<string, unknown>

function readLog(file: string): LogLine[] {
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as LogLine]
      } catch {
        return []
      }
    })
}

function itemsOf(result: CliResult): LogLine[] {
  const doc = jsonOf(result) as {items?: LogLine[]; targets?: Array<{items: LogLine[]}>}
  return doc.targets ? doc.targets.flatMap((section) => section.items) : (doc.items ?? [])
}


/** Wrong deletions and lost decisions of a container pass, from its JSON report, its audit log and the engine. */
async function judgeContainers(result: CliResult, log: string, ids: Map<string, string>, live: string) {
  const items = itemsOf(result)
  const decisions = readLog(log).filter((line) => line.event === 'decision')
  let wrong = (await containerExists(live)) ? 0 : 1
  let lost = 0
  for (const [runId, id] of ids) {
    const item = items.find((entry) => entry.name === runId)
    const logged = decisions.find((line) => line.name === runId)
    const exists = await containerExists(id)
    if (!item || !logged || logged.decision !== item.decision) lost++
    if (item?.decision === 'removed' && exists) lost++
    if (item?.decision !== 'removed' && !exists) wrong++
  }

  return {lost, wrong}
}

describeEngine('reliability: engine faults', () => {
  useEngineInProcessEnv()
  const fixtures = useEngineFixtures()
  let proxy: EngineProxy | undefined

   
  afterEach(async () => {
    await proxy?.close()
    proxy = undefined
  })

  /** Dead runs' stopped containers, and one live run's container (its run dir exists). */
  async function containers(dead: number) {
    const ids = new Map<string, string>()
    for (let i = 0; i < dead; i++) {
      const runId = fixtures.tracked()
      ids.set(runId, await createRunContainer(runId, {running: false}))
    }

    const liveRun = fixtures.tracked()
    const live = await createRunContainer(liveRun, {running: false})
    await makeRunDir(fixtures.moatHome, liveRun, {state: 'running'})
    await fixtures.protectOtherRuns()
    return {ids, live}
  }

  it('the engine dies mid-removal (proxy cuts after 8 container DELETEs)', async () => {
    for (let run = 0; run < RUNS; run++) {
      const {ids, live} = await containers(20)
      proxy = await startEngineProxy(requireEngine(), 8)
      const log = join(fixtures.moatHome, `reap-${run}.log`)
      const result = await startCli(
        ['system', 'reap', '--once', '--only', 'containers', '--min-age', '0s', '--log-file', log, '--json'],
        {DOCKER_HOST: proxy.dockerHost, MOAT_HOME: fixtures.moatHome},
      )
      await proxy.close()
      proxy = undefined
      record('engine dies mid-removal (reap --once)', 3, {exit: result.exitCode, ...(await judgeContainers(result, log, ids, live))})
    }
  })

  it('the engine dies mid-scan: the reaper logs the pass and goes on', async () => {
    const {ids, live} = await containers(3)
    proxy = await startEngineProxy(requireEngine(), 0, CONTAINER_LIST)
    const log = join(fixtures.moatHome, 'reap.log')
    const tmp = realpathSync(makeTmpRoot())
    try {
      const reaper = startCli(['system', 'reap', '--interval', '1s', '--min-age', '0s', '--tmp-dir', tmp, '--log-file', log], {
        DOCKER_HOST: proxy.dockerHost,
        MOAT_HOME: fixtures.moatHome,
      })
      await until('a second pass', () => readLog(log).filter((line) => line.event === 'pass').length >= 2)
      reaper.child.kill('SIGTERM')
      const result = await reaper
      const pass = readLog(log).find((line) => line.event === 'pass')
      const gone = (await Promise.all([live, ...ids.values()].map((id) => containerExists(id)))).filter((exists) => !exists)
      record('engine dies mid-scan (reap keeps running)', 0, {
        exit: result.exitCode,
        lost: typeof pass?.error === 'string' ? 0 : 1,
        wrong: gone.length,
      })
    } finally {
      removeTmpRoot(tmp)
    }
  })

  it('the engine refuses connections', async () => {
    const {ids, live} = await containers(2)
    const result = runCli(['system', 'clean-containers', '--force', '--json', '--min-age', '0s'], {
      DOCKER_HOST: 'unix:///nonexistent/moat-reliability/docker.sock',
      MOAT_HOME: fixtures.moatHome,
    })
    const gone = (await Promise.all([live, ...ids.values()].map((id) => containerExists(id)))).filter((exists) => !exists)
    record('engine refuses connections', 1, {exit: result.exitCode, lost: jsonOf(result).error ? 0 : 1, wrong: gone.length})
  })

  it('the engine hangs (accepts, never answers)', async () => {
    const {ids, live} = await containers(1)
    const dir = mkdtempSync(join(tmpdir(), 'mth-hang-'))
    const held: Socket[] = []
    const server = createServer((socket) => held.push(socket))
    await new Promise<void>((resolve) => {
      server.listen(join(dir, 'docker.sock'), resolve)
    })
    try {
      const result = await startCli(['system', 'clean-containers', '--force', '--json', '--min-age', '0s'], {
        DOCKER_HOST: `unix://${join(dir, 'docker.sock')}`,
        MOAT_HOME: fixtures.moatHome,
      })
      const gone = (await Promise.all([live, ...ids.values()].map((id) => containerExists(id)))).filter((exists) => !exists)
      record('engine hangs', 1, {exit: result.exitCode, lost: jsonOf(result).error ? 0 : 1, wrong: gone.length})
    } finally {
      for (const socket of held) socket.destroy()
      server.close()
      rmSync(dir, {force: true, recursive: true})
    }
  })

  it('a stopped container is put on an orphan network between plan and removal', async () => {
    for (let run = 0; run < RUNS; run++) {
      const runId = fixtures.tracked()
      const network = await fixtures.made(createRunNetwork(runId))
      await fixtures.waitUntilOld()
      await fixtures.protectOtherRuns()
      const report = await runPipeline([new NetworkTarget({daemonTimeoutMs: 500, moatHome: fixtures.moatHome, runtime: 'docker'})], {
        confirm: async () => true,
        dryRun: false,
        hooks: {
          async beforeRemove() {
            await dockerOk(['create', '--name', `user-${runId}`, '--network', network, 'moat-test-busybox:latest', 'true'])
          },
        },
        minAgeMs: 1000,
      })
      const item = report.targets[0]!.items.find((entry) => entry.name === `moat-${runId}`)
      record('stopped container attached after the plan', 0, {
        exit: exitCodeOf(report),
        lost: item?.decision === 'skipped' ? 0 : 1,
        wrong: (await networkExists(network)) ? 0 : 1,
      })
    }
  })
})

describe('reliability: host faults (temp dirs, logs, locks)', () => {
  let root: string
  let home: string

  beforeEach(() => {
    root = realpathSync(makeTmpRoot())
    home = realpathSync(makeTmpRoot())
  })

   
  afterEach(() => {
    removeTmpRoot(root)
    removeTmpRoot(home)
  })

  const reapArgs = (log: string, extra: string[] = []) => [
    'system',
    'reap',
    '--tmp-dir',
    root,
    '--only',
    'temp',
    '--max-delete',
    '5000',
    '--log-file',
    log,
    ...extra,
  ]

  /** Old dirs (leaks) and one young one (a live run's). */
  function dirs(count: number) {
    const old = Array.from({length: count}, (_, i) => makeTempDir(root, `moat-build-${i}`))
    const young = makeTempDir(root, 'moat-claude-1', 0)
    return {old, young}
  }

  it('SIGKILL mid-pass, then the next pass resumes', async () => {
    for (let run = 0; run < RUNS; run++) {
      const {old, young} = dirs(1000)
      const log = join(home, `reap-${run}.log`)
      const reaper = startCli(reapArgs(log), {MOAT_HOME: home})
      await until('ten removals', () => readLog(log).filter((line) => line.decision === 'removed').length >= 10)
      reaper.child.kill('SIGKILL')
      await reaper
      // Every removal logged before the kill really happened.
      const lostBefore = readLog(log).filter((line) => line.decision === 'removed' && existsSync(line.id as string)).length
      const next = runCli(reapArgs(log, ['--once']), {MOAT_HOME: home})
      record('SIGKILL mid-pass, then resume', 0, {
        exit: next.exitCode,
        lost: lostBefore + old.filter((dir) => existsSync(dir)).length,
        wrong: existsSync(young) ? 0 : 1,
      })
      rmSync(young, {force: true, recursive: true})
    }
  })

  it('two reapers at once', async () => {
    for (let run = 0; run < RUNS; run++) {
      const {old, young} = dirs(800)
      const logs = [join(home, `a-${run}.log`), join(home, `b-${run}.log`)]
      const results = await Promise.all(logs.map((log) => startCli(reapArgs(log, ['--once']), {MOAT_HOME: home})))
      const removed = logs.flatMap((log) => readLog(log).filter((line) => line.decision === 'removed').map((line) => line.id))
      const twice = removed.length - new Set(removed).size
      record('two reapers at once', 0, {
        exit: Math.max(...results.map((result) => result.exitCode)),
        lost: old.filter((dir) => existsSync(dir) || !removed.includes(dir)).length,
        wrong: twice + (existsSync(young) ? 0 : 1),
      })
      rmSync(young, {force: true, recursive: true})
    }
  })

  it('a stale lock (its holder died) is taken over; one held by pid 1 elsewhere is reported with how to clear it', async () => {
    const dead = spawn('true')
    await new Promise((resolve) => {
      dead.on('exit', resolve)
    })
    for (const [fault, owner, expectRemoved] of [
      ['stale lock (holder died)', {host: hostname(), pid: dead.pid}, true],
      ['lock of pid 1 on another host', {host: 'elsewhere', pid: 1}, false],
    ] as const) {
      const {old, young} = dirs(20)
      const lock = join(home, '.moat-system.lock')
      mkdirSync(lock)
      writeFileSync(join(lock, 'owner.json'), JSON.stringify({command: 'system:reap', startedAt: '2026-01-01T00:00:00.000Z', ...owner}))
      const log = join(home, 'lock.log')
      const result = runCli(reapArgs(log, ['--once']), {MOAT_HOME: home})
      const left = old.filter((dir) => existsSync(dir)).length
      const busy = readLog(log).findLast((line) => line.event === 'pass')?.busy
      record(fault, 0, {
        exit: result.exitCode,
        lost: expectRemoved ? left : String(busy).includes(`rm -r ${lock}`) ? 0 : 1,
        wrong: (existsSync(young) ? 0 : 1) + (expectRemoved ? 0 : old.length - left),
      })
      rmSync(lock, {force: true, recursive: true})
      rmSync(log, {force: true})
      for (const name of readdirSync(root)) rmSync(join(root, name), {force: true, recursive: true})
    }
  })

  it.skipIf(process.getuid?.() !== 0)('a full disk under the audit log [needs root: tmpfs]', () => {
    for (let run = 0; run < RUNS; run++) {
      const disk = mkdtempSync(join(tmpdir(), 'mtl-'))
      expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', disk]).status).toBe(0)
      try {
        writeFileSync(join(disk, 'filler'), Buffer.alloc(12 * 1024))
        const {old, young} = dirs(60)
        const log = join(disk, 'reap.log')
        const result = runCli(reapArgs(log, ['--once', '--json']), {MOAT_HOME: home})
        const items = itemsOf(result)
        const logged = readFileSync(log, 'utf8')
          .split('\n')
          .filter((line) => line.includes('"decision":"removed"')).length
        const gone = old.filter((dir) => !existsSync(dir))
        const reportedRemoved = new Set(items.filter((item) => item.decision === 'removed').map((item) => item.id))
        record('full disk under the audit log', 3, {
          // Beyond the one deletion whose line failed (in the report and said on stderr), every removal is logged.
          exit: result.exitCode,
          lost: Math.max(0, gone.length - logged - 1) + old.filter((dir) => !items.some((item) => item.id === dir)).length,
          wrong: gone.filter((dir) => !reportedRemoved.has(dir)).length + (existsSync(young) ? 0 : 1),
        })
        for (const name of readdirSync(root)) rmSync(join(root, name), {force: true, recursive: true})
      } finally {
        spawnSync('umount', [disk])
        rmSync(disk, {force: true, recursive: true})
      }
    }
  })
})
