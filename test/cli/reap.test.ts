import {spawnSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {useEngineFixtures} from '../engine/shared-engine.js'
import {jsonOf, runCli, startCli} from '../helpers/cli.js'
import {CONTAINER_LIST, type EngineProxy, startEngineProxy} from '../helpers/dying-engine-proxy.js'
import {containerExists, describeEngine, requireEngine} from '../helpers/engine.js'
import {createRunContainer} from '../helpers/moat-fixtures.js'
import {makeTempDir, makeTmpRoot, removeTmpRoot} from '../helpers/temp-fixtures.js'
import {until} from '../helpers/until.js'

let root: string
let home: string
let logFile: string

beforeEach(() => {
  root = realpathSync(makeTmpRoot())
  home = realpathSync(makeTmpRoot())
  logFile = join(home, 'reap.log')
})

afterEach(() => {
  removeTmpRoot(root)
  removeTmpRoot(home)
})

// Temp dirs only here: the engine targets are covered with a real engine in test/commands/clean-engine.test.ts.
const TEMP_ONLY = ['--only', 'temp']

function logLines(): Array<Record<string, unknown>> {
  if (!existsSync(logFile)) return []
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line))
}

describe('moat system reap', () => {
  it('--once: one pass, one JSON line per decision and one for the pass, in the log file', () => {
    const old = makeTempDir(root, 'moat-aws-1')
    const young = makeTempDir(root, 'moat-aws-2', 60_000)
    const result = runCli(['system', 'reap', '--once', '--tmp-dir', root, ...TEMP_ONLY, '--log-file', logFile, '--json'], {
      MOAT_HOME: home,
    })
    expect(result.exitCode).toBe(0)
    expect(jsonOf(result)).toMatchObject({dryRun: false, targets: [{target: 'temp', totals: {kept: 1, removed: 1}}]})
    const lines = logLines()
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.objectContaining({decision: 'kept', event: 'decision', id: young, pass: 1, target: 'temp'}),
        expect.objectContaining({bytes: 18, decision: 'removed', event: 'decision', id: old, pass: 1, target: 'temp'}),
        expect.objectContaining({event: 'pass', pass: 1, totals: expect.objectContaining({removed: 1})}),
      ]),
    )
    for (const line of lines) expect(Date.parse(line.time as string)).not.toBeNaN()
    expect(existsSync(old)).toBe(false)
    expect(existsSync(young)).toBe(true)
  })

  it('--dry-run: the text log says "would remove", JSON pass events say dryRun, nothing is removed', () => {
    const old = makeTempDir(root, 'moat-aws-1')
    const text = runCli(['system', 'reap', '--once', '--dry-run', '--tmp-dir', root, ...TEMP_ONLY, '--log-format', 'text', '--log-file', logFile], {
      MOAT_HOME: home,
    })
    expect(text.exitCode).toBe(0)
    const written = readFileSync(logFile, 'utf8')
    // The reason, then the evidence it sums up.
    expect(written).toMatch(
      new RegExp(
        `would remove temp ${old} \\(18 B\\): unchanged for 3\\.0h; no process uses it; no container runtime here ` +
          String.raw`\[age: whole tree older than --min-age 1h: the newest of its 6 entries is the directory itself, modified 3\.0h ago; ` +
          String.raw`containers: not checked: no container runtime on this host \(no Docker engine configured, no Apple container CLI\); ` +
          String.raw`processes: none uses it: checked \d+ processes in /proc \(fds, cwd, root, exe, maps\)(; \d+ of them not readable \(another user's\))?\]\n`,
      ),
    )
    expect(written).toMatch(/pass 1 \(dry run\) done in \d+ ms: 1 would be removed, 0 kept; nothing removed/)
    expect(written).not.toMatch(/ removed temp /)
    expect(text.stdout).toContain('Reaper stopped after 1 pass (dry run: nothing removed): 1 would be removed, 0 kept.')

    rmSync(logFile)
    const json = runCli(['system', 'reap', '--once', '--dry-run', '--tmp-dir', root, ...TEMP_ONLY, '--log-file', logFile, '--json'], {MOAT_HOME: home})
    expect(jsonOf(json)).toMatchObject({dryRun: true, minAge: '1h', targets: [{target: 'temp', totals: {orphans: 1, removed: 0}}]})
    expect(logLines().find((line) => line.event === 'pass')).toMatchObject({dryRun: true, pass: 1})
    const [planned] = (jsonOf(json).targets as Array<{items: Array<Record<string, unknown>>}>)[0]!.items
    expect(planned).toMatchObject({evidence: {age: expect.any(String), containers: expect.any(String), processes: expect.any(String)}})
    expect(logLines().find((line) => line.event === 'decision')).toMatchObject({
      decision: 'orphan',
      dryRun: true,
      evidence: planned!.evidence,
      id: old,
      reason: planned!.reason,
    })
    expect(existsSync(old)).toBe(true)
  })

  it('--once --json: the notes `clean --json` gives are in its warnings; a busy lock gives the same shape, empty', () => {
    makeTempDir(root, 'moat-aws-1')
    // An engine that cannot be reached: a note, and the engine targets skipped.
    const gone = {DOCKER_HOST: `unix://${join(home, 'no-such.sock')}`, MOAT_HOME: home}
    const args = ['--tmp-dir', root, '--only', 'temp,networks', '--runtime', 'docker', '--json', '--dry-run']
    const cleanDoc = jsonOf(runCli(['system', 'clean', ...args], gone))
    const reapDoc = jsonOf(runCli(['system', 'reap', '--once', ...args, '--log-file', logFile], gone))
    expect(cleanDoc.warnings).toEqual(expect.arrayContaining([expect.stringMatching(/Skipped: networks/)]))
    for (const warning of cleanDoc.warnings as string[]) expect(reapDoc.warnings).toContain(warning)
    // Logged once per pass, though it is also among the warnings the reaper logs after the pass.
    expect(logLines().filter((line) => line.event === 'note' && /Skipped: networks/.test(String(line.message)))).toHaveLength(1)

    mkdirSync(join(home, '.moat-system.lock'))
    writeFileSync(
      join(home, '.moat-system.lock', 'owner.json'),
      JSON.stringify({command: 'system:clean', host: 'elsewhere', pid: 1, startedAt: new Date().toISOString()}),
    )
    const busyClean = jsonOf(runCli(['system', 'clean', '--tmp-dir', root, '--only', 'temp', '--force', '--json'], {MOAT_HOME: home}))
    const busyReap = jsonOf(runCli(['system', 'reap', '--once', '--tmp-dir', root, '--only', 'temp', '--json', '--log-file', logFile], {MOAT_HOME: home}))
    const zero = {bytesRemoved: 0, candidates: 0, failed: 0, kept: 0, orphans: 0, removed: 0, skipped: 0}
    for (const doc of [busyClean, busyReap]) {
      expect(doc).toMatchObject({busy: true, canceled: false, dryRun: false, lockHolder: {pid: 1}, minAge: '1h', targets: [{items: [], target: 'temp', totals: zero}], totals: zero})
      expect(doc.message).toMatch(/^Another clean is running/)
    }

    expect(Object.keys(busyReap).sort()).toEqual(Object.keys(busyClean).sort())
  })

  it('needs no terminal and no --force, but refuses a pass over --max-delete (default 100): nothing removed, exit 3', () => {
    const dirs = Array.from({length: 101}, (_, i) => makeTempDir(root, `moat-npm-${i}`))
    const result = runCli(['system', 'reap', '--once', '--tmp-dir', root, ...TEMP_ONLY, '--log-file', logFile], {MOAT_HOME: home})
    expect(result.exitCode).toBe(3)
    expect(logLines().at(-1)).toMatchObject({event: 'pass', refused: expect.stringContaining('more than --max-delete 100')})
    for (const dir of dirs) expect(existsSync(dir)).toBe(true)
    const allowed = runCli(['system', 'reap', '--once', '--tmp-dir', root, ...TEMP_ONLY, '--max-delete', '101'], {MOAT_HOME: home})
    expect(allowed.exitCode).toBe(0)
    expect(readdirSync(root)).toEqual([])
  })

  it('--interval 1s: leaks made while it runs are removed within two intervals, live ones never; SIGTERM exits 0', async () => {
    const live = makeTempDir(root, 'moat-claude-1', 0)
    const reaper = startCli(['system', 'reap', '--interval', '1s', '--tmp-dir', root, ...TEMP_ONLY, '--log-file', logFile], {
      MOAT_HOME: home,
    })
    try {
      await until('the first pass', () => logLines().some((line) => line.event === 'pass'))
      const leak = makeTempDir(root, 'moat-aws-2')
      // Counted in passes, not seconds (a pass takes longer on a loaded machine): the one under way may have listed
      // the dir before it was made; the next one, which starts an interval later, removes it.
      const passesDone = logLines().filter((line) => line.event === 'pass').length
      const removal = () => logLines().find((line) => line.id === leak && line.decision === 'removed')
      await until('the removal of the leak in the log', () => removal() !== undefined)
      expect(existsSync(leak)).toBe(false)
      expect(removal()!.pass).toBeLessThanOrEqual(passesDone + 2)
      // Keep the live dir's tree fresh, as a running agent would.
      writeFileSync(join(live, 'heartbeat'), String(Date.now()))
      await until('another pass', () => logLines().filter((line) => line.event === 'pass').length >= 3)
    } finally {
      reaper.child.kill('SIGTERM')
    }

    const result = await reaper
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toMatch(/Reaper stopped after \d+ passes: 1 removed, 0 skipped, 0 failed\./)
    expect(existsSync(live)).toBe(true)
    expect(logLines().filter((line) => line.id === live).every((line) => line.decision === 'kept')).toBe(true)
  })

  it('SIGTERM mid-pass finishes the deletion under way, deletes nothing more, reports and exits 0', async () => {
    const count = 3000
    for (let i = 0; i < count; i++) makeTempDir(root, `moat-build-${i}`)
    const reaper = startCli(
      ['system', 'reap', '--tmp-dir', root, ...TEMP_ONLY, '--max-delete', '5000', '--log-file', logFile],
      {MOAT_HOME: home},
    )
    await until('the first deletion', () => logLines().some((line) => line.decision === 'removed'))
    reaper.child.kill('SIGTERM')
    const result = await reaper
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toMatch(/Reaper stopped after 1 pass: /)
    const removed = logLines().filter((line) => line.decision === 'removed').length
    const remaining = readdirSync(root).filter((name) => name.startsWith('moat-build-'))
    // The signal may land inside a tree: the deletion stops after the entry under way and the rest of that one
    // tree stays in the quarantine for the next run (issue 9), reported as interrupted part-way.
    const partial = logLines().filter((line) => String(line.outcome).startsWith('interrupted part-way')).length
    expect(partial).toBeLessThanOrEqual(1)
    expect(remaining.length).toBe(count - removed - partial)
    expect(remaining.length).toBeGreaterThan(0)
    // Whatever was not reached is whole: no partial reaps, and it is reported as not reached.
    for (const name of remaining) expect(readdirSync(join(root, name)).sort()).toEqual(['config', 'credentials', 'sub'])
    expect(logLines().filter((line) => String(line.outcome).startsWith('not reached')).length).toBe(remaining.length)
    expect(logLines().at(-1)).toMatchObject({event: 'pass', pass: 1})
  })

  it('--log-file in a missing directory: created (0700); a directory, an unwritable or immutable file: one line, exit 2', () => {
    const nested = join(home, 'fresh', 'logs', 'reap.log')
    const made = runCli(['system', 'reap', '--once', '--tmp-dir', root, ...TEMP_ONLY, '--log-file', nested], {MOAT_HOME: home})
    expect(made.exitCode).toBe(0)
    expect(statSync(join(home, 'fresh')).mode.toString(8)).toMatch(/700$/)
    expect(readFileSync(nested, 'utf8')).toMatch(/"event":"pass"/)

    const immutable = join(home, 'immutable.log')
    writeFileSync(immutable, '')
    const chattr = spawnSync('chattr', ['+i', immutable])
    try {
      const cases: Array<[string, RegExp]> = [
        [home, /^Error: --log-file: .* is a directory; give a writable file, e.g. --log-file ~\/\.moat\/reap\.log$/],
        [join(immutable, 'reap.log'), /^Error: --log-file: cannot create the directory of .*immutable\.log\/reap\.log \(\w+\)/],
      ]
      if (chattr.status === 0) cases.push([immutable, /^Error: --log-file: .*immutable\.log is not writable \(EPERM: immutable or append-only\)/])
      else console.warn(`immutable log file case skipped: chattr +i failed (${chattr.stderr})`)
      for (const [file, message] of cases) {
        const result = runCli(['system', 'reap', '--once', '--tmp-dir', root, ...TEMP_ONLY, '--log-file', file], {MOAT_HOME: home})
        expect(result.exitCode).toBe(2)
        expect(result.stderr.trim()).toMatch(message)
        expect(result.stderr.trim().split('\n')).toHaveLength(1)
      }
    } finally {
      spawnSync('chattr', ['-i', immutable])
    }
  })

  it.skipIf(process.getuid?.() !== 0)('a full disk under the log: nothing is deleted after a line fails, the pass says why, exit 3 [needs root: mount]', () => {
    const disk = mkdtempSync(join(tmpdir(), 'mtl-'))
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', disk]).status).toBe(0)
    try {
      // Room for about a page of log lines, and then ENOSPC.
      writeFileSync(join(disk, 'filler'), Buffer.alloc(12 * 1024))
      const log = join(disk, 'reap.log')
      const dirs = Array.from({length: 60}, (_, i) => makeTempDir(root, `moat-npm-${i}`))
      const result = runCli(['system', 'reap', '--once', '--tmp-dir', root, ...TEMP_ONLY, '--log-file', log, '--json'], {
        MOAT_HOME: home,
      })
      expect(result.exitCode).toBe(3)
      expect(result.stderr).toMatch(/Error: the audit log .*reap\.log cannot be written \(ENOSPC\); nothing more is deleted/)
      const text = readFileSync(log, 'utf8')
      // A line cut short by the full disk is not logged: count only whole JSON lines.
      const whole = text.split('\n').flatMap((line) => {
        try {
          return [JSON.parse(line) as {decision?: string}]
        } catch {
          return []
        }
      })
      const logged = whole.filter((line) => line.decision === 'removed').length
      const gone = dirs.filter((dir) => !existsSync(dir)).length
      expect(logged).toBeGreaterThan(0)
      // Only the deletion whose line failed is not in the log; it is in the report, with every other decision.
      expect(gone).toBe(logged + 1)
      const doc = jsonOf(result) as {targets: Array<{totals: {removed: number; skipped: number}}>; warnings: string[]}
      expect(doc.targets[0]!.totals).toMatchObject({removed: gone, skipped: dirs.length - gone})
      expect(doc.warnings).toEqual(expect.arrayContaining([expect.stringMatching(/cannot be written \(ENOSPC\)/)]))
    } finally {
      spawnSync('umount', [disk])
      rmSync(disk, {force: true, recursive: true})
    }
  })

  it('a lock left by pid 1 on another host: every pass says who holds it and since when, and past 1h how to clear it', () => {
    const dir = join(home, '.moat-system.lock')
    mkdirSync(dir)
    const owner = {command: 'system:reap', host: 'elsewhere', pid: 1, startedAt: '2026-01-01T00:00:00.000Z'}
    writeFileSync(join(dir, 'owner.json'), JSON.stringify(owner))
    const leak = makeTempDir(root, 'moat-aws-1')
    for (let i = 0; i < 2; i++) {
      const result = runCli(['system', 'reap', '--once', '--tmp-dir', root, ...TEMP_ONLY, '--log-file', logFile], {MOAT_HOME: home})
      expect(result.exitCode).toBe(0)
      expect(logLines().at(-1)).toMatchObject({
        busy: `pid 1 on elsewhere, system:reap, since 2026-01-01T00:00:00.000Z; held for over 1h: if no clean is running as pid 1 on elsewhere, clear it with: rm -r ${dir}`,
        event: 'pass',
      })
    }

    const clean = runCli(['system', 'clean-temp', '--force', '--tmp-dir', root], {MOAT_HOME: home})
    expect(clean.stdout).toContain(`held for over 1h: if no clean is running as pid 1 on elsewhere, clear it with: rm -r ${dir}`)
    expect(existsSync(leak)).toBe(true)
  })

  it('--moat-home that does not exist is not created (the lock goes to a private per-user dir); a file: one line, exit 2', () => {
    const typo = join(home, 'no-such-home')
    const fallback = join(tmpdir(), `moat-system-${process.getuid!()}`)
    const fallbackExisted = existsSync(fallback)
    const leak = makeTempDir(root, 'moat-aws-1')
    const result = runCli(['system', 'reap', '--once', '--tmp-dir', root, ...TEMP_ONLY, '--moat-home', typo, '--log-file', logFile])
    expect(result.exitCode).toBe(0)
    expect(existsSync(typo)).toBe(false)
    expect(existsSync(leak)).toBe(false)
    if (!fallbackExisted) rmSync(fallback, {recursive: true})
    expect(logLines()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          event: 'note',
          message: `moat home ${typo} does not exist (not created); the clean lock is taken in ${fallback} instead.`,
        }),
      ]),
    )

    const file = join(home, 'a-file')
    writeFileSync(file, '')
    const refused = runCli(['system', 'clean-temp', '--force', '--tmp-dir', root, '--moat-home', file])
    expect(refused.exitCode).toBe(2)
    expect(refused.stderr.trim()).toBe(`Error: --moat-home: ${file} is not a directory; point it at moat's home, e.g. --moat-home ~/.moat`)
  })

  it.skipIf(process.getuid?.() !== 0)('a lock dir owned by another user: one clear line, no raw EACCES, nothing moved aside [needs root: runs as nobody]', () => {
    const shared = realpathSync(makeTmpRoot())
    try {
      chmodSync(shared, 0o777)
      const dir = join(shared, '.moat-system.lock')
      mkdirSync(dir, {mode: 0o700})
      writeFileSync(join(dir, 'owner.json'), JSON.stringify({command: 'system:clean', host: 'x', pid: 1, startedAt: '2026-01-01T00:00:00.000Z'}))
      // Old enough to be taken for an ownerless lock by a user who cannot read its owner file.
      utimesSync(dir, new Date(0), new Date(0))
      const tmp = realpathSync(makeTmpRoot())
      chmodSync(tmp, 0o777)
      try {
        const result = spawnSync(process.execPath, [fileURLToPath(new URL('../../bin/run.js', import.meta.url)), 'system', 'clean-temp', '--force', '--tmp-dir', tmp], {
          encoding: 'utf8',
          env: {...process.env, HOME: tmp, MOAT_HOME: shared},
          gid: 65_534,
          input: '',
          uid: 65_534,
        })
        expect(result.stderr.trim()).toBe(
          `Error: the clean lock ${dir} belongs to another user (uid 0): a clean of theirs may be running; if none is, they or root must remove it`,
        )
        expect(result.status).toBe(1)
        expect(readdirSync(shared)).toEqual(['.moat-system.lock'])
      } finally {
        removeTmpRoot(tmp)
      }
    } finally {
      removeTmpRoot(shared)
    }
  })

  it('the log file holds valid JSON lines after the reaper is SIGKILLed mid-pass', async () => {
    for (let i = 0; i < 3000; i++) makeTempDir(root, `moat-build-${i}`)
    const reaper = startCli(
      ['system', 'reap', '--tmp-dir', root, ...TEMP_ONLY, '--max-delete', '5000', '--log-file', logFile],
      {MOAT_HOME: home},
    )
    await until('a few deletions', () => logLines().filter((line) => line.decision === 'removed').length >= 10)
    reaper.child.kill('SIGKILL')
    await reaper
    const text = readFileSync(logFile, 'utf8')
    expect(text.endsWith('\n')).toBe(true)
    const lines = logLines()
    expect(lines.length).toBeGreaterThanOrEqual(10)
    // Every removal logged really happened.
    for (const line of lines.filter((l) => l.decision === 'removed')) expect(existsSync(line.id as string)).toBe(false)
    // The next run takes over the lock the killed reaper left and finishes the job.
    const next = runCli(['system', 'reap', '--once', '--tmp-dir', root, ...TEMP_ONLY, '--max-delete', '5000'], {MOAT_HOME: home})
    expect(next.exitCode).toBe(0)
    expect(readdirSync(root)).toEqual([])
  })
})

describeEngine('moat system reap over an engine that dies mid-removal', () => {
  const fixtures = useEngineFixtures()
  let proxy: EngineProxy | undefined

  // eslint-disable-next-line mocha/no-sibling-hooks -- useEngineFixtures' hooks clean the engine, this one the proxy
  afterEach(async () => {
    await proxy?.close()
    proxy = undefined
  })

  it('--once: each removal the engine confirmed is removed, the rest failed with the engine error (unknown where sent and never answered), exit 3, a log line each', async () => {
    const count = 30
    const ids = new Map<string, string>()
    for (let i = 0; i < count; i++) {
      const runId = fixtures.tracked()
      ids.set(runId, await createRunContainer(runId, {running: false}))
    }

    await fixtures.protectOtherRuns()
    proxy = await startEngineProxy(requireEngine(), 10)
    const log = join(fixtures.moatHome, 'reap.log')
    const result = await startCli(
      ['system', 'reap', '--once', '--only', 'containers', '--min-age', '0s', '--log-file', log, '--json'],
      {DOCKER_HOST: proxy.dockerHost, MOAT_HOME: fixtures.moatHome},
    )
    expect(proxy.dead).toBe(true)
    expect(result.exitCode).toBe(3)
    const sections = jsonOf(result).targets as Array<{items: Array<Record<string, unknown>>}>
    const items = sections.flatMap((section) => section.items).filter((item) => ids.has(item.name as string))
    const lines = readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line))
    const decisions = lines.filter((line) => line.event === 'decision' && ids.has(line.name))
    expect(items).toHaveLength(count)
    expect(decisions).toHaveLength(count)
    let removed = 0
    let unknown = 0
    for (const [runId, id] of ids) {
      const item = items.find((entry) => entry.name === runId)!
      const logged = decisions.find((line) => line.name === runId)
      expect(logged).toMatchObject({decision: item.decision, id, reason: item.reason})
      // No wrong deletion, no lost one: the report says removed exactly when the engine no longer has it.
      const exists = await containerExists(id)
      if (item.decision === 'removed') removed++
      // Issue 21: a request sent whose answer never came, with the engine gone for the re-check, is `unknown`;
      // one never sent is failed.
      else if (item.decision === 'unknown') {
        unknown++
        expect(item).toMatchObject({outcome: expect.stringMatching(/^Docker engine unreachable, not confirmed: .*: it may have removed it$/)})
      } else expect(item).toMatchObject({decision: 'failed', outcome: expect.stringMatching(/^Docker engine unreachable, not (?:confirmed|tried): /)})
      expect(exists).toBe(item.decision !== 'removed')
    }

    expect(removed).toBe(10)
    expect(lines.at(-1)).toMatchObject({event: 'pass', totals: expect.objectContaining({failed: count - 10 - unknown, removed: 10, unknown})})
  })

  it('an engine error mid-pass ends that pass, logged as a pass event; the reaper goes on at the next interval', async () => {
    const tmp = realpathSync(makeTmpRoot())
    const log = join(fixtures.moatHome, 'reap.log')
    const lines = () =>
      existsSync(log)
        ? readFileSync(log, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line))
        : []
    try {
      const leak = makeTempDir(tmp, 'moat-aws-1')
      // The engine answers the ping, then dies at the first container listing of the scan.
      proxy = await startEngineProxy(requireEngine(), 0, CONTAINER_LIST)
      const reaper = startCli(['system', 'reap', '--interval', '1s', '--min-age', '0s', '--tmp-dir', tmp, '--log-file', log], {
        DOCKER_HOST: proxy.dockerHost,
        MOAT_HOME: fixtures.moatHome,
      })
      try {
        await until('a second pass', () => lines().filter((line) => line.event === 'pass').length >= 2)
      } finally {
        reaper.child.kill('SIGTERM')
      }

      const result = await reaper
      expect(result.exitCode).toBe(0)
      const passes = lines().filter((line) => line.event === 'pass')
      expect(passes[0]).toMatchObject({error: expect.stringMatching(/Docker engine unreachable/), nextPassInMs: 1000, pass: 1})
      // The next pass runs; with the engine still gone its containers may mount the temp dir: kept (issue 9).
      expect(passes[1]).toMatchObject({pass: 2, totals: expect.objectContaining({kept: 1, removed: 0})})
      expect(passes[1]!.error).toBeUndefined()
      const decision = lines().find((line) => line.event === 'decision' && line.pass === 2 && line.id === leak)
      expect(decision).toMatchObject({decision: 'kept', reason: expect.stringMatching(/^docker is present here but cannot be asked/)})
      expect(existsSync(leak)).toBe(true)
    } finally {
      removeTmpRoot(tmp)
    }
  })
})
