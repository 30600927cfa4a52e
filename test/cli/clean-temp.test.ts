import {execFileSync, spawnSync} from 'node:child_process'
import {chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync} from 'node:fs'
import {hostname, tmpdir} from 'node:os'
import {basename, dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {jsonOf, runCli, startCli} from '../helpers/cli.js'
import {describeEngine, dockerOk, engineEnv} from '../helpers/engine.js'
import {createRunContainer, newRunId, removeAllForRun} from '../helpers/moat-fixtures.js'
import {itAsRoot} from '../helpers/root.js'
import {makeTempDir, makeTmpRoot, removeTmpRoot} from '../helpers/temp-fixtures.js'
import {runOnTerminal} from '../helpers/terminal.js'
import {until} from '../helpers/until.js'

const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
let root: string

beforeEach(() => {
  root = realpathSync(makeTmpRoot())
})

afterEach(() => {
  removeTmpRoot(root)
})

const cleanTemp = (...args: string[]) => runCli(['system', 'clean-temp', '--tmp-dir', root, ...args])

/** A dry run's decisions by dir name, and the --min-age its document echoes. */
function byName(minAge: string) {
  const doc = jsonOf(cleanTemp('--dry-run', '--json', '--min-age', minAge))
  return {decisions: Object.fromEntries((doc.items ?? []).map((item) => [basename(item.name as string), item.decision])), minAge: doc.minAge}
}

describe('moat system clean-temp', () => {
  it('--dry-run prints the plan on stdout, notes on stderr, and deletes nothing', () => {
    const old = makeTempDir(root, 'moat-aws-1')
    const young = makeTempDir(root, 'moat-claude-2', 60_000)
    const result = cleanTemp('--dry-run')
    expect(result.exitCode).toBe(0)
    expect(result.stdout).toContain(old)
    expect(result.stdout).toMatch(new RegExp(`^${old} +3\\.0h +18 B +would remove +\\S`, 'm'))
    expect(result.stdout).toMatch(/ keep +young: /)
    // The details are for --verbose; a pipe gets whole rows, without colour.
    expect(result.stdout).not.toContain('holds AWS credential helper')
    expect(result.stdout).not.toContain('\u001B[')
    expect(cleanTemp('--dry-run', '--verbose').stdout).toContain('holds AWS credential helper, pattern moat-aws-*')
    expect(result.stdout).toContain('Dry run: nothing was removed.')
    expect(result.stderr).not.toContain(old)
    expect(existsSync(old) && existsSync(young)).toBe(true)
  })

  it('--force --json removes orphans and prints one clean JSON document', () => {
    const old = makeTempDir(root, 'moat-aws-1')
    const young = makeTempDir(root, 'moat-claude-2', 60_000)
    const result = cleanTemp('--force', '--json')
    expect(result.exitCode).toBe(0)
    const doc = jsonOf(result)
    expect(doc).toMatchObject({dryRun: false, minAge: '1h', target: 'temp', totals: {kept: 1, removed: 1}})
    expect(doc.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({bytes: 18, decision: 'removed', id: old, pattern: 'moat-aws-*'}),
        expect.objectContaining({decision: 'kept', id: young, reason: expect.stringMatching(/^young/)}),
      ]),
    )
    expect(existsSync(old)).toBe(false)
    expect(existsSync(young)).toBe(true)
  })

  it('without a terminal and without --force or --dry-run: exit 2, one line, nothing deleted', () => {
    const old = makeTempDir(root, 'moat-aws-1')
    const result = cleanTemp()
    expect(result.exitCode).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(/no terminal.*--dry-run.*--force/)
    expect(existsSync(old)).toBe(true)

    const json = cleanTemp('--json')
    expect(json.exitCode).toBe(2)
    expect(jsonOf(json)).toMatchObject({error: {code: 'USAGE', exitCode: 2}})
    expect(existsSync(old)).toBe(true)
  })

  it.each([['abc'], ['-1h'], ['1x'], ['']])('--min-age %j: exit 2 with a message naming the flag', (value) => {
    const old = makeTempDir(root, 'moat-aws-1')
    const result = cleanTemp('--force', `--min-age=${value}`)
    expect(result.exitCode).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toContain('--min-age')
    expect(result.stderr).toMatch(/such as 90s/)
    expect(existsSync(old)).toBe(true)

    const json = cleanTemp('--force', '--json', `--min-age=${value}`)
    expect(json.exitCode).toBe(2)
    expect(jsonOf(json)).toMatchObject({error: {exitCode: 2, message: expect.stringContaining('--min-age')}})
  })

  it.each([
    [['--runtime', 'podman'], /--runtime=podman to be one of: auto, docker, apple/],
    [['--max-delete', '-3'], /--max-delete.*greater than or equal to 0/],
    [['--lock-timeout', 'soon'], /--lock-timeout: "soon" is not a duration; use one such as 0s/],
    [['--bogus'], /Nonexistent flag: --bogus/],
  ])('bad input %j: exit 2 with one line naming it', (args, message) => {
    const old = makeTempDir(root, 'moat-aws-1')
    const result = cleanTemp('--force', ...args)
    expect(result.exitCode).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(message)
    expect(existsSync(old)).toBe(true)
  })

  it('accepts Go-style durations and days and weeks, and echoes --min-age normalised', () => {
    const fresh = makeTempDir(root, 'moat-aws-1', 60_000)
    const weekOld = makeTempDir(root, 'moat-aws-2', 8 * 86_400_000)
    expect(byName('90m')).toEqual({decisions: {'moat-aws-1': 'kept', 'moat-aws-2': 'orphan'}, minAge: '1h30m'})
    expect(byName('0s')).toEqual({decisions: {'moat-aws-1': 'orphan', 'moat-aws-2': 'orphan'}, minAge: '0s'})
    expect(byName('7d')).toEqual({decisions: {'moat-aws-1': 'kept', 'moat-aws-2': 'orphan'}, minAge: '168h'})
    expect(byName('1w2d')).toEqual({decisions: {'moat-aws-1': 'kept', 'moat-aws-2': 'kept'}, minAge: '216h'})
    expect(existsSync(fresh) && existsSync(weekOld)).toBe(true)
  })

  it('a quoted --tmp-dir glob scans every directory it matches; one that matches nothing is a note, exit 0', () => {
    const mine = makeTempDir(join(root, 'one', 'T'), 'moat-aws-1')
    const theirs = makeTempDir(join(root, 'two', 'T'), 'moat-aws-2')
    const nothing = join(root, 'none', '*')
    const result = runCli(['system', 'clean-temp', '--force', '--json', '--tmp-dir', join(root, '*', 'T'), '--tmp-dir', nothing])
    expect(result.exitCode).toBe(0)
    const doc = jsonOf(result)
    expect(Object.fromEntries((doc.items ?? []).map((item) => [item.name, item.decision]))).toEqual({[mine]: 'removed', [theirs]: 'removed'})
    expect(doc.warnings).toContain(`--tmp-dir '${nothing}' matches no directory: nothing scanned for it.`)
    expect(result.stderr).toContain(`Note: --tmp-dir '${nothing}' matches no directory`)
    expect(existsSync(mine) || existsSync(theirs)).toBe(false)
  })

  it('a --tmp-dir that does not exist is a usage error', () => {
    const result = runCli(['system', 'clean-temp', '--dry-run', '--tmp-dir', join(root, 'missing')])
    expect(result.exitCode).toBe(2)
    expect(result.stderr).toMatch(/--tmp-dir: .*missing.*e\.g\. --tmp-dir/)
  })

  it('a failed deletion exits 3 and says why', () => {
    const old = makeTempDir(root, 'moat-aws-1')
    // A read-only view of the root: no quarantine can be made there, so nothing can be moved or deleted.
    execFileSync('mount', ['--bind', root, root])
    try {
      execFileSync('mount', ['-o', 'remount,bind,ro', root])
      const result = cleanTemp('--force', '--json')
      expect(result.exitCode).toBe(3)
      expect(jsonOf(result)).toMatchObject({
        items: [expect.objectContaining({decision: 'failed', outcome: expect.stringContaining('cannot create a quarantine')})],
        totals: {failed: 1, removed: 0},
      })
      expect(existsSync(old)).toBe(true)

      const human = cleanTemp('--force')
      expect(human.exitCode).toBe(3)
      expect(human.stdout).toMatch(/moat-aws-1 +3\.0h +18 B +FAILED +cannot create a quarantine in .*EROFS/)
    } finally {
      execFileSync('umount', [root])
    }
  })

  it('a quarantine name squatted by another user does not block cleaning', () => {
    const old = makeTempDir(root, 'moat-aws-1')
    // Another user (nobody) pre-creates the names an older version would have used, open to all.
    for (const name of [`moat-system-quarantine-${process.getuid!()}`, `moat-system-quarantine-${process.getuid!()}-aaaaaa`]) {
      mkdirSync(join(root, name))
      chmodSync(join(root, name), 0o777)
      chownSync(join(root, name), 65_534, 65_534)
    }

    const result = cleanTemp('--force', '--json')
    expect(result.exitCode).toBe(0)
    expect(jsonOf(result)).toMatchObject({totals: {failed: 0, removed: 1}})
    expect(existsSync(old)).toBe(false)
    // The squatter's directories are neither used nor touched.
    expect(readdirSync(root).sort()).toEqual([`moat-system-quarantine-${process.getuid!()}`, `moat-system-quarantine-${process.getuid!()}-aaaaaa`])
  })

  it('an engine that is configured but cannot be asked keeps every candidate, naming the runtime and why', () => {
    const old = makeTempDir(root, 'moat-aws-1')
    const result = runCli(['system', 'clean-temp', '--tmp-dir', root, '--force', '--json'], {
      DOCKER_HOST: `unix://${join(root, 'no-such.sock')}`,
    })
    expect(result.exitCode).toBe(0)
    const doc = jsonOf(result)
    expect(doc).toMatchObject({totals: {kept: 1, removed: 0}})
    expect(doc.items).toEqual([
      expect.objectContaining({decision: 'kept', id: old, reason: expect.stringMatching(/^docker is present here but cannot be asked .*unreachable/i)}),
    ])
    expect(readdirSync(old).sort()).toEqual(['config', 'credentials', 'sub'])
  })

  it('with no container runtime on the host at all, age and process use decide, and the plan says so', () => {
    const old = makeTempDir(root, 'moat-aws-1')
    const result = runCli(['system', 'clean-temp', '--tmp-dir', root, '--force', '--json'], {
      DOCKER_CONFIG: root,
      PATH: dirname(process.execPath),
    })
    expect(result.exitCode).toBe(0)
    expect(jsonOf(result)).toMatchObject({totals: {removed: 1}, warnings: [expect.stringMatching(/^No container runtime on this host/)]})
    expect(existsSync(old)).toBe(false)
  })

  itAsRoot('without /proc (an empty one in a private mount namespace) the evidence says processes were not checked', () => {
    const old = makeTempDir(root, 'moat-aws-1')
    // unshare, sh and mount are found on this PATH; only the CLI gets the PATH without a container runtime (a Node
    // installed elsewhere, as CI's 22 and 24, has nothing else beside it).
    const script = 'mount -t tmpfs none /proc && exec env PATH="$CLI_PATH" "$@"'
    const result = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', process.execPath, BIN, 'system', 'clean-temp', '--tmp-dir', root, '--dry-run', '--json'], {
      encoding: 'utf8',
      env: {...process.env, CLI_PATH: dirname(process.execPath), DOCKER_CONFIG: root, DOCKER_HOST: '', MOAT_HOME: join(root, 'home')},
    })
    expect(result.status, result.stderr).toBe(0)
    expect(jsonOf({exitCode: 0, stderr: result.stderr, stdout: result.stdout}).items).toEqual([
      expect.objectContaining({
        decision: 'orphan',
        evidence: {
          age: 'whole tree older than --min-age 1h: the newest of its 6 entries is the directory itself, modified 3.0h ago',
          containers: 'not checked: no container runtime on this host (no Docker engine configured, no Apple container CLI)',
          processes: 'not checked: no /proc on this host',
        },
        id: old,
        reason: 'unchanged for 3.0h; processes and containers not checked',
      }),
    ])
  })

  it('a moat home that does not exist: only a run that takes the lock says where it takes it (not a dry run, not status)', () => {
    const typo = join(root, 'no-such-home')
    const fallback = join(tmpdir(), `moat-system-${process.getuid!()}`)
    const noRuntime = {DOCKER_CONFIG: root, PATH: dirname(process.execPath)}
    makeTempDir(root, 'moat-aws-1')
    const said = (stderr: string) => stderr.split('\n').filter((line) => line.includes(typo))
    const dry = runCli(['system', 'clean-temp', '--tmp-dir', root, '--dry-run', '--moat-home', typo], noRuntime)
    expect(dry.exitCode).toBe(0)
    expect(said(dry.stderr)).toEqual([`Note: moat home ${typo} does not exist (not created).`])
    const status = runCli(['system', 'status', '--tmp-dir', root, '--moat-home', typo, '--json'], noRuntime)
    expect(status.exitCode).toBe(4)
    expect(jsonOf(status).warnings).toContain(`moat home ${typo} does not exist (not created).`)
    const real = runCli(['system', 'clean-temp', '--tmp-dir', root, '--force', '--moat-home', typo], noRuntime)
    expect(real.exitCode).toBe(0)
    expect(said(real.stderr)).toEqual([`Note: moat home ${typo} does not exist (not created); the clean lock is taken in ${fallback} instead.`])
    expect(existsSync(typo)).toBe(false)
  })

  it('--tmp-dir "" is a usage error before anything is scanned', () => {
    const old = join(process.cwd(), 'moat-aws-4815162342')
    const result = runCli(['system', 'clean-temp', '--dry-run', '--json', '--tmp-dir', ''])
    expect(result.exitCode).toBe(2)
    expect(jsonOf(result)).toMatchObject({error: {code: 'USAGE', message: expect.stringMatching(/^--tmp-dir: an empty path.*e\.g\. --tmp-dir/)}})
    const human = runCli(['system', 'clean-temp', '--dry-run', '--tmp-dir', ''])
    expect(human.exitCode).toBe(2)
    expect(human.stderr.trim().split('\n')).toHaveLength(1)
    expect(existsSync(old)).toBe(false)
  })
})

describeEngine('moat system clean-temp with a running container', () => {
  it('keeps a dir a running container bind-mounts and names the container; removes it once the container is gone', async () => {
    const runId = newRunId()
    const mounted = makeTempDir(root, 'moat-aws-77')
    const free = makeTempDir(root, 'moat-aws-78')
    await createRunContainer(runId, {mounts: [`${mounted}:/moat/aws:ro`]})
    try {
      const result = runCli(['system', 'clean-temp', '--tmp-dir', root, '--force', '--json'], engineEnv())
      expect(result.exitCode).toBe(0)
      expect(jsonOf(result).items).toEqual(
        expect.arrayContaining([
          expect.objectContaining({decision: 'kept', id: mounted, reason: expect.stringContaining(`running container ${runId}`)}),
          expect.objectContaining({decision: 'removed', id: free}),
        ]),
      )
      expect(readdirSync(mounted)).toContain('credentials')
    } finally {
      await removeAllForRun(runId)
    }

    await expect(dockerOk(['ps', '-aq', '--filter', `name=${runId}`])).resolves.toBe('')
    const after = runCli(['system', 'clean-temp', '--tmp-dir', root, '--force', '--json'], engineEnv())
    expect(jsonOf(after).items).toEqual([expect.objectContaining({decision: 'removed', id: mounted})])
  })
})

describe('limits on one pass', () => {
  it('--max-delete refuses an oversized pass: nothing removed, exit 3, says why', () => {
    const dirs = ['moat-aws-1', 'moat-aws-2', 'moat-aws-3'].map((name) => makeTempDir(root, name))
    const result = cleanTemp('--force', '--json', '--max-delete', '2')
    expect(result.exitCode).toBe(3)
    const doc = jsonOf(result)
    expect(doc.refused).toMatch(/3 items to remove is more than --max-delete 2/)
    expect(doc.items?.map((item) => item.decision)).toEqual(['skipped', 'skipped', 'skipped'])
    for (const dir of dirs) expect(existsSync(dir)).toBe(true)
    expect(cleanTemp('--force', '--max-delete', '3').exitCode).toBe(0)
    for (const dir of dirs) expect(existsSync(dir)).toBe(false)
  })

  it('two forced runs started together: every orphan removed exactly once, the second reports the lock', async () => {
    const count = 2000
    for (let i = 0; i < count; i++) makeTempDir(root, `moat-build-${i}`)
    const home = realpathSync(makeTmpRoot())
    try {
      const args = ['system', 'clean-temp', '--tmp-dir', root, '--force', '--json']
      const results = await Promise.all([startCli(args, {MOAT_HOME: home}), startCli(args, {MOAT_HOME: home})])
      expect(results.map((result) => result.exitCode)).toEqual([0, 0])
      const docs = results.map((result) => jsonOf(result))
      const winner = docs.find((doc) => !doc.busy)
      const loser = docs.find((doc) => doc.busy)
      expect(winner).toMatchObject({totals: {failed: 0, removed: count, skipped: 0}})
      expect(loser).toMatchObject({busy: true, lockHolder: {command: 'system:clean-temp'}})
      expect(readdirSync(root)).toEqual([])
    } finally {
      removeTmpRoot(home)
    }
  })

  it('a run that finds the lock held by a live process does nothing and exits 0', () => {
    const old = makeTempDir(root, 'moat-aws-1')
    const home = realpathSync(makeTmpRoot())
    try {
      mkdirSync(join(home, '.moat-system.lock'))
      writeFileSync(
        join(home, '.moat-system.lock', 'owner.json'),
        JSON.stringify({command: 'system:reap', host: hostname(), pid: process.pid, startedAt: new Date().toISOString()}),
      )
      const result = runCli(['system', 'clean-temp', '--tmp-dir', root, '--force'], {MOAT_HOME: home})
      expect(result.exitCode).toBe(0)
      expect(result.stdout).toMatch(new RegExp(`Another clean is running .*pid ${process.pid}, system:reap.*nothing done`))
      // Under --json: the shape of every other clean-temp document, with zero totals and `busy: true`.
      const doc = jsonOf(runCli(['system', 'clean-temp', '--tmp-dir', root, '--force', '--json'], {MOAT_HOME: home}))
      const done = jsonOf(cleanTemp('--dry-run', '--json'))
      expect(Object.keys(doc).sort()).toEqual([...Object.keys(done), 'busy', 'lockHolder', 'message'].sort())
      expect(doc).toMatchObject({busy: true, items: [], lockHolder: {command: 'system:reap', pid: process.pid}, target: 'temp', totals: {candidates: 0, removed: 0}})
      expect(existsSync(old)).toBe(true)
    } finally {
      removeTmpRoot(home)
    }
  })

})

describe('at a terminal', () => {
  it('asks [y/N] on the terminal: no keeps everything, yes removes exactly the plan', async () => {
    const old = makeTempDir(root, 'moat-aws-1')
    const prompt = {waitFor: 'Remove these'}
    const args = ['system', 'clean-temp', '--tmp-dir', root]
    const no = await runOnTerminal(args, {...prompt, answer: 'n\r', env: {MOAT_HOME: root}})
    expect(no.exitCode).toBe(0)
    expect(no.output).toMatch(/Remove these 1 temporary directory \(18 B\)\?/)
    expect(no.output).toContain('Canceled.')
    expect(existsSync(old)).toBe(true)

    const yes = await runOnTerminal(args, {...prompt, answer: 'y\r', env: {MOAT_HOME: root}})
    expect(yes.exitCode).toBe(0)
    expect(yes.output).toMatch(/1 removed \(18 B freed\)/)
    expect(existsSync(old)).toBe(false)
  })
})

describe('a signal inside one large tree', () => {
  it('SIGTERM while one big tree is being deleted: it stops there, nothing more goes, the rest waits in quarantine', async () => {
    const big = join(root, 'moat-build-1')
    for (let d = 0; d < 20; d++) {
      mkdirSync(join(big, `d${d}`), {recursive: true})
      for (let f = 0; f < 500; f++) writeFileSync(join(big, `d${d}`, `f${f}`), '')
    }

    const other = makeTempDir(root, 'moat-build-2')
    const home = realpathSync(makeTmpRoot())
    const logFile = join(home, 'reap.log')
    try {
      const reaper = startCli(
        ['system', 'reap', '--once', '--tmp-dir', root, '--only', 'temp', '--min-age', '0s', '--log-file', logFile],
        {MOAT_HOME: home},
      )
      // Wait until the big tree is in quarantine and its first subdirectory is gone: deletion is under way inside it.
      let moved: string | undefined
      let left = 0
      await until(
        'the deletion inside the big tree',
        () => {
          const quarantine = readdirSync(root).find((name) => name.startsWith('moat-system-quarantine-'))
          const entry = quarantine && readdirSync(join(root, quarantine)).find((name) => name.startsWith('moat-build-1.'))
          left = entry ? readdirSync(join(root, quarantine, entry)).length : 0
          if (entry && left > 0 && left < 20) moved = join(root, quarantine, entry)
          return moved !== undefined
        },
        60_000,
        5,
      )
      // Frozen at once, so that the signal lands where the test saw it, however long this process waits for a CPU.
      reaper.child.kill('SIGSTOP')
      reaper.child.kill('SIGTERM')
      reaper.child.kill('SIGCONT')
      const result = await reaper
      expect(result.exitCode).toBe(0)
      // The tree is still there as it was seen: the walk saw the signal inside it, after the entry under way (one
      // subdirectory, and two more that may have gone between the look and the stop).
      expect(readdirSync(moved!).length).toBeGreaterThanOrEqual(Math.max(1, left - 3))
      const lines = readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line))
      expect(lines).toEqual(expect.arrayContaining([expect.objectContaining({id: big, outcome: expect.stringMatching(/^interrupted part-way: the rest stays in .* and the next run finishes it$/)})]))
      // A tree not begun yet is back under its name, whole.
      if (existsSync(other)) expect(readdirSync(other).sort()).toEqual(['config', 'credentials', 'sub'])

      const next = runCli(['system', 'clean-temp', '--tmp-dir', root, '--force', '--json', '--min-age', '0s'], {MOAT_HOME: home})
      expect(next.exitCode).toBe(0)
      expect(readdirSync(root)).toEqual([])
    } finally {
      removeTmpRoot(home)
    }
  }, 120_000)
})

describe.skipIf(process.getuid?.() !== 0)('as an ordinary user (uid 65534 via setpriv; needs root to switch)', () => {
  it('a candidate holding a subtree this user cannot delete is kept at scan, with the path; nothing is moved', () => {
    const home = realpathSync(makeTmpRoot())
    chownSync(root, 65_534, 65_534)
    chownSync(home, 65_534, 65_534)
    const locked = makeTempDir(root, 'moat-aws-1')
    const free = makeTempDir(root, 'moat-aws-2')
    for (const dir of [locked, free]) execFileSync('chown', ['-R', '65534:65534', dir])
    // Root's directory, not empty, inside the user's candidate: the user can never empty it.
    mkdirSync(join(locked, 'sub', 'roots'))
    writeFileSync(join(locked, 'sub', 'roots', 'file'), 'x')
    execFileSync('touch', ['-d', '3 hours ago', join(locked, 'sub', 'roots', 'file'), join(locked, 'sub', 'roots'), join(locked, 'sub')])
    try {
      const result = spawnSync(
        'setpriv',
        ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, 'system', 'clean-temp', '--tmp-dir', root, '--force', '--json'],
        {encoding: 'utf8', env: {HOME: home, MOAT_HOME: home, PATH: process.env.PATH}, input: ''},
      )
      expect(result.status).toBe(0)
      const doc = JSON.parse(result.stdout)
      expect(doc.items).toEqual(
        expect.arrayContaining([
          expect.objectContaining({decision: 'kept', id: locked, reason: 'sub/roots is not writable by you: the tree could not be removed'}),
          expect.objectContaining({decision: 'removed', id: free}),
        ]),
      )
      expect(readdirSync(root)).toEqual(['moat-aws-1'])
      expect(readdirSync(join(locked, 'sub', 'roots'))).toEqual(['file'])
    } finally {
      removeTmpRoot(home)
    }
  })
})
