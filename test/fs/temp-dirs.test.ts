import {type ChildProcess, spawn} from 'node:child_process'
import {execFileSync} from 'node:child_process'
import {
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  renameSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {readMountTable} from '../../src/lib/host/mounts.js'
import {matchPattern, TEMP_PATTERNS} from '../../src/lib/targets/temp-dirs.js'
import {ageTree, HOUR, itemAt, makeTempDir, makeTmpRoot, removeTmpRoot, runTemp} from '../helpers/temp-fixtures.js'
import {until} from '../helpers/until.js'

let root: string
let outside: string
const children: ChildProcess[] = []

beforeEach(() => {
  root = realpathSync(makeTmpRoot())
  // Something that must survive every test: a directory outside the scanned root.
  outside = realpathSync(makeTmpRoot())
  writeFileSync(join(outside, 'precious'), 'keep me')
  mkdirSync(join(outside, 'dir'))
  writeFileSync(join(outside, 'dir', 'also-precious'), 'keep me too')
})

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL')
  for (const dir of [root, outside]) {
    for (const point of [...readMountTable().points].filter((p) => p.startsWith(dir + '/')).sort().reverse()) {
      execFileSync('umount', [point])
    }

    removeTmpRoot(dir)
  }
})

function expectOutsideIntact(): void {
  expect(readdirSync(outside).sort()).toEqual(['dir', 'precious'])
  expect(readdirSync(join(outside, 'dir'))).toEqual(['also-precious'])
}

/** The quarantines a clean left in `dir`: `moat-system-quarantine-<uid>-<random>`. */
function quarantinesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.startsWith(`moat-system-quarantine-${process.getuid!()}-`))
    .map((name) => join(dir, name))
}

/** A name moat's os.MkdirTemp would produce for a pattern glob. */
function exampleName(glob: string): string {
  return glob.replace('<digits>', '4815162342').replace('*', '4815162342')
}

/** Starts a child process and waits until /proc shows it holding `path` (as cwd or open file). */
async function holdOpen(args: string[], cwd: string, path: string): Promise<ChildProcess> {
  const child = spawn(args[0]!, args.slice(1), {cwd, stdio: 'ignore'})
  children.push(child)
  await until(`a child holding ${path}`, () => {
    const links = [`/proc/${child.pid}/cwd`, ...safeFds(child.pid!)].map((link) => safeReadlink(link))
    return links.some((link) => link === path || link?.startsWith(path + '/'))
  })
  return child
}

function safeFds(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/fd`).map((fd) => `/proc/${pid}/fd/${fd}`)
  } catch {
    return []
  }
}

function safeReadlink(link: string): string | undefined {
  try {
    return readlinkSync(link)
  } catch {
    return undefined
  }
}

describe('which entries are candidates', () => {
  it('finds every pattern moat creates, including moat-claude-* and the legacy agentops-aws-*', async () => {
    const globs = TEMP_PATTERNS.map((pattern) => pattern.glob)
    expect(globs).toEqual(expect.arrayContaining(['moat-claude-*', 'agentops-aws-*', 'moat-aws-*', 'moat-vol-snap-<digits>']))
    const paths = globs.map((glob) => makeTempDir(root, exampleName(glob)))
    const report = await runTemp(root, {dryRun: true})
    for (const [index, path] of paths.entries()) {
      const item = itemAt(report, path)
      expect(item.decision).toBe('orphan')
      expect(item.details.pattern).toBe(globs[index])
      expect(item.details.holds).toBeTruthy()
      expect(item.bytes).toBe(Buffer.byteLength('secret[default]\n{}'))
    }

    expect(report.targets[0]!.items).toHaveLength(paths.length)
    for (const path of paths) expect(existsSync(path)).toBe(true)
  })

  it('never lists look-alikes that moat did not create', async () => {
    // moat-resources.md §11: never the bare generic claude-* or codex-*.
    const names = ['moat-build-cache', 'moat-awsx-1', 'notmoat-aws-1', 'moat-aws-', 'moat-shared', 'moat-claude-abc', 'other', 'claude-12', 'codex-12', 'moat-init-gate', 'moat-codex-login-x']
    for (const name of names) makeTempDir(root, name)

    const report = await runTemp(root)
    expect(report.targets[0]!.items).toEqual([])
    expect(readdirSync(root)).toHaveLength(names.length)
    expect(matchPattern('moat-doctor-proxy-12')?.glob).toBe('moat-doctor-proxy-*')
  })
})

/** How the process check reads, as root or not (another user's processes cannot be read then). */
const checkedProcesses = (environ = '') =>
  new RegExp(String.raw`^none uses it: checked \d+ processes in /proc \(fds, cwd, root, exe, maps${environ}\)(; \d+ of them not readable \(another user's\))?$`)

describe('what an orphan is removed on: the evidence', () => {
  it('the whole tree against --min-age with its newest entry, how processes were checked, which runtimes were asked', async () => {
    const dir = makeTempDir(root, 'moat-aws-1')
    const newest = new Date(Date.now() - 2 * HOUR)
    utimesSync(join(dir, 'sub', 'deeper', 'settings.json'), newest, newest)
    const asked: string[] = []
    const docker = {async mountsOfRunningContainers() {
      asked.push('docker')
      return [{container: 'elsewhere', runtime: 'docker' as const, source: outside}]
    }, name: 'docker' as const, present: () => true}
    const report = await runTemp(root, {dryRun: true, probes: [docker]})
    expect(asked).toEqual(['docker'])
    const item = itemAt(report, dir)
    expect(item).toMatchObject({
      decision: 'orphan',
      evidence: {
        age: 'whole tree older than --min-age 1h: the newest of its 6 entries is sub/deeper/settings.json, modified 2.0h ago',
        containers: 'no running container mounts it, anything in it or a parent of it: asked docker',
        processes: expect.stringMatching(checkedProcesses()),
      },
      reason: 'unchanged for 2.0h; no process or container uses it',
    })
    expect(Object.keys(item.evidence!)).toEqual(['age', 'containers', 'processes'])
  })

  it('a Codex login home: its CODEX_HOME check is named; with no runtime on the host the evidence says containers were not checked', async () => {
    const dir = makeTempDir(root, 'moat-codex-login-7', 5 * HOUR)
    const report = await runTemp(root, {dryRun: true, minAgeMs: 0})
    expect(itemAt(report, dir)).toMatchObject({
      decision: 'orphan',
      evidence: {
        age: 'whole tree older than --min-age 0s: the newest of its 6 entries is the directory itself, modified 5.0h ago',
        containers: 'not checked: no container runtime on this host (no Docker engine configured, no Apple container CLI)',
        processes: expect.stringMatching(checkedProcesses(', environ CODEX_HOME')),
      },
      reason: 'unchanged for 5.0h; no process uses it; no container runtime here',
    })
  })

  it('a kept dir carries its reason and no evidence', async () => {
    const young = makeTempDir(root, 'moat-aws-2', 60_000)
    const item = itemAt(await runTemp(root, {dryRun: true}), young)
    expect(item).toMatchObject({decision: 'kept', reason: 'young: the directory itself modified 1m ago (--min-age 1h)'})
    expect(item.evidence).toBeUndefined()
  })
})

describe('what is kept, and why', () => {
  it('keeps young dirs and dirs with one fresh file deep inside, removes the old one', async () => {
    const old = makeTempDir(root, 'moat-aws-1')
    const young = makeTempDir(root, 'moat-claude-2', 10 * 60_000)
    const deepFresh = makeTempDir(root, 'moat-npm-3')
    writeFileSync(join(deepFresh, 'sub', 'deeper', 'fresh'), 'just written')
    ageTree(join(deepFresh, 'sub'), 3 * HOUR) // only the file keeps its fresh mtime
    utimesSync(join(deepFresh, 'sub', 'deeper', 'fresh'), new Date(), new Date())
    utimesSync(deepFresh, new Date(Date.now() - 3 * HOUR), new Date(Date.now() - 3 * HOUR))

    const report = await runTemp(root)
    expect(itemAt(report, old).decision).toBe('removed')
    expect(itemAt(report, young)).toMatchObject({decision: 'kept', reason: expect.stringMatching(/^young: /)})
    expect(itemAt(report, deepFresh)).toMatchObject({decision: 'kept', reason: expect.stringContaining('sub/deeper/fresh')})
    expect(existsSync(old)).toBe(false)
    expect(existsSync(join(deepFresh, 'sub', 'deeper', 'fresh'))).toBe(true)
    expect(existsSync(young)).toBe(true)
  })

  it("keeps another user's dir, a symlink, a plain file and a mount point", async () => {
    const foreign = makeTempDir(root, 'moat-aws-10')
    chownSync(foreign, 65_534, 65_534) // nobody
    const link = join(root, 'moat-aws-11')
    symlinkSync(outside, link)
    const file = join(root, 'moat-aws-12')
    writeFileSync(file, 'not a dir')
    utimesSync(file, new Date(0), new Date(0))
    const mounted = makeTempDir(root, 'moat-aws-13')
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', mounted])
    const holdsMount = makeTempDir(root, 'moat-aws-14')
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', join(holdsMount, 'sub')])
    ageTree(holdsMount, 3 * HOUR)

    const report = await runTemp(root, {minAgeMs: 0})
    expect(itemAt(report, foreign)).toMatchObject({decision: 'kept', reason: 'owned by uid 65534, not by you'})
    expect(itemAt(report, link)).toMatchObject({decision: 'kept', reason: 'symlink: never followed'})
    expect(itemAt(report, file)).toMatchObject({decision: 'kept', reason: 'not a directory'})
    expect(itemAt(report, mounted)).toMatchObject({decision: 'kept', reason: 'a mount point'})
    expect(itemAt(report, holdsMount)).toMatchObject({decision: 'kept', reason: expect.stringContaining('holds a mount point')})
    for (const path of [foreign, link, file, mounted, holdsMount]) expect(lstatSync(path)).toBeTruthy()
    expectOutsideIntact()
    expect(report.totals.removed).toBe(0)
  })

  it('keeps a dir a live process has as working directory or holds a file open in', async () => {
    const cwdUser = makeTempDir(root, 'moat-aws-20')
    const fileUser = makeTempDir(root, 'moat-aws-21')
    const byCwd = await holdOpen(['sleep', '60'], cwdUser, cwdUser)
    // Only the open file may count: the holder's working directory is elsewhere (/).
    const byFile = await holdOpen(['sh', '-c', `exec 3<"${fileUser}/sub/deeper/settings.json"; exec sleep 60`], '/', fileUser)
    expect(readlinkSync(`/proc/${byFile.pid}/cwd`)).toBe('/')
    const report = await runTemp(root)
    expect(itemAt(report, cwdUser)).toMatchObject({
      decision: 'kept',
      reason: expect.stringContaining(`process ${byCwd.pid} (sleep) has it as working directory`),
    })
    expect(itemAt(report, fileUser)).toMatchObject({
      decision: 'kept',
      reason: `in use: process ${byFile.pid} (sleep) holds ${fileUser}/sub/deeper/settings.json open`,
    })
    expect(existsSync(cwdUser) && existsSync(fileUser)).toBe(true)
  })
})

/** A process with no file open and its working directory elsewhere: only its environment names the dir. */
async function withCodexHome(dir: string): Promise<ChildProcess> {
  const child = spawn('sleep', ['60'], {cwd: '/', env: {...process.env, CODEX_HOME: `${dir}/`}, stdio: 'ignore'})
  children.push(child)
  await until('sleep to start', () => safeReadlink(`/proc/${child.pid}/exe`)?.endsWith('sleep') ?? false)
  return child
}

describe('a Codex login home is in use while a process has CODEX_HOME pointing at it (moat-resources.md §11)', () => {
  it('keeps it at the plan, and skips it when such a process starts between the plan and the removal', async () => {
    const [held, late, free] = ['moat-codex-login-1', 'moat-codex-login-2', 'moat-codex-login-3'].map((name) => makeTempDir(root, name))
    const holder = await withCodexHome(held!)
    let latecomer: ChildProcess | undefined
    const report = await runTemp(root, {
      hooks: {
        async beforeRemove() {
          latecomer = await withCodexHome(late!)
        },
      },
    })
    expect(itemAt(report, held!)).toMatchObject({decision: 'kept', reason: `in use: process ${holder.pid} (sleep) has CODEX_HOME pointing at it`})
    expect(itemAt(report, late!)).toMatchObject({decision: 'skipped', outcome: `drift: in use: process ${latecomer!.pid} (sleep) has CODEX_HOME pointing at it`})
    expect(itemAt(report, free!)).toMatchObject({decision: 'removed', details: {holds: 'Codex login home (live ChatGPT tokens)', pattern: 'moat-codex-login-*'}})
    expect([existsSync(held!), existsSync(late!), existsSync(free!)]).toEqual([true, true, false])
  })
})

describe('dry run and confirmation', () => {
  it('dry run deletes nothing and plans exactly what a real run removes', async () => {
    const old = ['moat-aws-1', 'moat-claude-2', 'moat-build-3'].map((name) => makeTempDir(root, name))
    const young = makeTempDir(root, 'moat-npm-4', 60_000)
    const dry = await runTemp(root, {dryRun: true})
    for (const path of [...old, young]) expect(existsSync(path)).toBe(true)
    const planned = dry.targets[0]!.items.map(({decision, id, reason}) => ({decision, id, reason}))

    const real = await runTemp(root)
    const done = real.targets[0]!.items.map(({decision, id, reason}) => ({decision, id, reason}))
    expect(done.map((item) => item.id)).toEqual(planned.map((item) => item.id))
    expect(done.filter((item) => item.decision === 'removed').map((item) => item.id).sort()).toEqual(old.sort())
    expect(planned.filter((item) => item.decision === 'orphan').map((item) => item.id).sort()).toEqual(old.sort())
    expect(planned.find((item) => item.id === young)).toEqual(done.find((item) => item.id === young))
  })

  it('a cancelled prompt deletes nothing', async () => {
    const old = makeTempDir(root, 'moat-aws-1')
    const report = await runTemp(root, {confirm: async () => false})
    expect(report.canceled).toBe(true)
    expect(itemAt(report, old)).toMatchObject({decision: 'skipped', outcome: 'canceled at the prompt'})
    expect(readdirSync(old).sort()).toEqual(['config', 'credentials', 'sub'])
  })
})

describe('races injected between scan and delete', () => {
  it('a file touched deep inside: skipped as drift, nothing deleted', async () => {
    const path = makeTempDir(root, 'moat-aws-1')
    const report = await runTemp(root, {
      hooks: {beforeRemove: () => writeFileSync(join(path, 'sub', 'deeper', 'new-token'), 'fresh')},
    })
    expect(itemAt(report, path)).toMatchObject({decision: 'skipped', outcome: expect.stringMatching(/^drift: modified since the scan/)})
    expect(readdirSync(join(path, 'sub', 'deeper')).sort()).toEqual(['new-token', 'settings.json'])
  })

  it('the directory replaced by a new one of the same name: the new one is untouched', async () => {
    const path = makeTempDir(root, 'moat-aws-1')
    const report = await runTemp(root, {
      hooks: {
        beforeRemove() {
          renameSync(path, join(outside, 'moved-away'))
          makeTempDir(root, 'moat-aws-1') // same name, same old age, another inode
          writeFileSync(join(path, 'marker'), 'new run')
          ageTree(path, 3 * HOUR)
        },
      },
    })
    expect(itemAt(report, path)).toMatchObject({decision: 'skipped', outcome: expect.stringMatching(/^drift: replaced/)})
    expect(existsSync(join(path, 'marker'))).toBe(true)
    expect(existsSync(join(outside, 'moved-away', 'credentials'))).toBe(true)
  })

  it('the directory replaced by a symlink to a directory outside: nothing outside is touched', async () => {
    const path = makeTempDir(root, 'moat-aws-1')
    const report = await runTemp(root, {
      hooks: {
        beforeRemove() {
          renameSync(path, join(root, 'elsewhere'))
          symlinkSync(outside, path)
        },
      },
    })
    expect(itemAt(report, path)).toMatchObject({decision: 'skipped', outcome: 'drift: now a symlink'})
    expect(lstatSync(path).isSymbolicLink()).toBe(true)
    expectOutsideIntact()
  })

  it('a symlink planted inside is skipped as drift when fresh, and unlinked (never followed) when it looks old', async () => {
    const fresh = makeTempDir(root, 'moat-aws-1')
    const aged = makeTempDir(root, 'moat-aws-2')
    const report = await runTemp(root, {
      hooks: {
        beforeRemove() {
          symlinkSync(outside, join(fresh, 'sub', 'escape'))
          symlinkSync(outside, join(aged, 'sub', 'escape'))
          // An attacker can backdate the link and its parent; the walk must still never follow it.
          execFileSync('touch', ['-h', '-d', '4 hours ago', join(aged, 'sub', 'escape'), join(aged, 'sub')])
        },
      },
    })
    expect(itemAt(report, fresh)).toMatchObject({decision: 'skipped', outcome: expect.stringMatching(/^drift: modified/)})
    expect(itemAt(report, aged)).toMatchObject({decision: 'removed'})
    expect(existsSync(aged)).toBe(false)
    expectOutsideIntact()
  })

  it('a file held open by a child process after the scan: skipped, nothing deleted', async () => {
    const path = makeTempDir(root, 'moat-aws-1')
    let holder: ChildProcess | undefined
    const report = await runTemp(root, {
      hooks: {
        async beforeRemove() {
          holder = await holdOpen(['sh', '-c', `exec 3<"${path}/credentials"; exec sleep 60`], '/', path)
        },
      },
    })
    expect(itemAt(report, path)).toMatchObject({
      decision: 'skipped',
      outcome: expect.stringContaining(`drift: in use: process ${holder!.pid}`),
    })
    expect(readdirSync(path).sort()).toEqual(['config', 'credentials', 'sub'])
  })

  it('a subdirectory swapped for a symlink during deletion stops there, fails with exit 3, and the next run finishes', async () => {
    const path = makeTempDir(root, 'moat-aws-1')
    mkdirSync(join(path, 'sub', 'target'))
    writeFileSync(join(path, 'sub', 'target', 'data'), 'x')
    ageTree(path, 3 * HOUR)
    let swapped = false
    const report = await runTemp(root, {
      removeHooks: {
        beforeDescend(name) {
          // Runs with the working directory inside the tree: swap the checked directory for a link outside.
          if (name !== 'target' || swapped) return
          swapped = true
          renameSync('target', 'target-moved')
          symlinkSync(join(outside, 'dir'), 'target')
        },
      },
    })
    expect(swapped).toBe(true)
    expect(itemAt(report, path)).toMatchObject({decision: 'failed', outcome: expect.stringContaining('stopped there')})
    expect(report.totals.failed).toBe(1)
    expectOutsideIntact()
    const [quarantine, ...others] = quarantinesIn(root)
    expect(others).toEqual([])
    expect(readdirSync(quarantine!)).toHaveLength(1)

    const next = await runTemp(root)
    const leftover = next.targets[0]!.items
    expect(leftover).toHaveLength(1)
    expect(leftover[0]).toMatchObject({
      decision: 'removed',
      details: {pattern: 'quarantine'},
      evidence: {age: 'not applied: moved into quarantine by an interrupted clean after it had passed every check'},
      reason: 'left in quarantine by an interrupted clean; no process uses it; no container runtime here',
    })
    expect(existsSync(quarantine!)).toBe(false)
    expectOutsideIntact()
  })

  it('a subdirectory replaced by a symlink after it was listed is unlinked, not followed', async () => {
    const path = makeTempDir(root, 'moat-aws-1')
    const report = await runTemp(root, {
      removeHooks: {
        beforeDescend(name) {
          if (name !== 'sub') return
          // The walk is inside moat-aws-1 and about to enter `sub`; `deeper` inside it is next.
          renameSync(join('sub', 'deeper'), join('sub', 'gone'))
          symlinkSync(join(outside, 'dir'), join('sub', 'deeper'))
        },
      },
    })
    expect(itemAt(report, path).decision).toBe('removed')
    expect(existsSync(path)).toBe(false)
    expectOutsideIntact()
  })
})
