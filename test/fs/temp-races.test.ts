// The ways issue 9 found clean-temp deleting what it must not, each injected at the moment that matters against real
// directories, real bind mounts (the suite runs as root), real processes and the fake Apple CLI.
import {execFileSync} from 'node:child_process'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  realpathSync,
  renameSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import type {FakeHandle} from '../fixtures/fake-container/state.js'

import {useFakeContainer} from '../fixtures/fake-container/state.js'
import {holdSync, killChildren, unmountBelow} from '../helpers/host-fixtures.js'
import {ageTree, HOUR, itemAt, makeTempDir, makeTmpRoot, removeTmpRoot, runTemp} from '../helpers/temp-fixtures.js'

const root0 = process.getuid?.() === 0
let root: string
let outside: string
let fake: FakeHandle | undefined

beforeEach(() => {
  root = realpathSync(makeTmpRoot())
  outside = realpathSync(makeTmpRoot())
  mkdirSync(join(outside, 'dir'))
  writeFileSync(join(outside, 'dir', 'precious'), 'keep me')
})

afterEach(() => {
  killChildren()
  fake?.restore()
  fake = undefined
  unmountBelow(root, outside)
  removeTmpRoot(root)
  removeTmpRoot(outside)
})

function expectOutsideIntact(): void {
  expect(readdirSync(join(outside, 'dir'))).toEqual(['precious'])
}

const WHOLE = ['config', 'credentials', 'sub']

describe.skipIf(!root0)('bind mounts made after the plan (class 1; needs root for mount --bind)', () => {
  it('a same-file-system bind mount made inside a candidate after the plan: skipped, the mounted dir untouched', async () => {
    const path = makeTempDir(root, 'moat-aws-1')
    const report = await runTemp(root, {
      hooks: {
        beforeRemove() {
          // The same file system: the mount point has the tree's st_dev, so only mountinfo shows it. What is mounted
          // is as old as the tree, so only the mount itself may keep it.
          ageTree(join(outside, 'dir'), 4 * HOUR)
          execFileSync('mount', ['--bind', join(outside, 'dir'), join(path, 'sub')])
        },
      },
    })
    expect(itemAt(report, path)).toMatchObject({decision: 'skipped', outcome: expect.stringMatching(/^drift: .*mount point/)})
    expectOutsideIntact()
    expect(readdirSync(path).sort()).toEqual(WHOLE)
  })

  it('a bind mount made inside a candidate after its move into quarantine: put back, never entered', async () => {
    const path = makeTempDir(root, 'moat-aws-1')
    const report = await runTemp(root, {
      removeHooks: {
        afterMove(moved) {
          execFileSync('mount', ['--bind', join(outside, 'dir'), join(moved[0]!.at, 'sub')])
        },
      },
    })
    expect(itemAt(report, path)).toMatchObject({
      decision: 'skipped',
      outcome: expect.stringMatching(/^drift: holds a mount point at .*; put back untouched$/),
    })
    expectOutsideIntact()
    expect(readdirSync(path).sort()).toEqual(WHOLE)
  })
})

describe('processes using a candidate (class 4)', () => {
  it('a file opened in a later candidate just before its re-check keeps it (no 200 ms staleness)', async () => {
    const first = makeTempDir(root, 'moat-aws-1')
    const second = makeTempDir(root, 'moat-aws-2')
    let holder: ReturnType<typeof holdSync> | undefined
    const openSecond = () => {
      if (holder) return
      holder = holdSync(['sh', '-c', `exec 3<"${second}/credentials"; exec sleep 60`], second)
    }

    const report = await runTemp(root, {
      // Whichever comes first while the first candidate is handled: its move, or its deletion.
      removeHooks: {beforeDescend: openSecond, beforeMove: (path) => path === first && openSecond()},
    })
    expect(holder).toBeDefined()
    expect(itemAt(report, second)).toMatchObject({
      decision: 'skipped',
      outcome: expect.stringContaining(`in use: process ${holder!.pid} (sleep) holds`),
    })
    expect(readdirSync(second).sort()).toEqual(WHOLE)
    expect(itemAt(report, first).decision).toBe('removed')
  })

  it('a process running a program from inside the tree, with no open file there, keeps it', async () => {
    const path = makeTempDir(root, 'moat-aws-1')
    mkdirSync(join(path, 'bin'))
    copyFileSync('/bin/sleep', join(path, 'bin', 'sleep'))
    execFileSync('chmod', ['755', join(path, 'bin', 'sleep')])
    ageTree(path, 3 * HOUR)
    const report = await runTemp(root, {
      hooks: {
        beforeRemove() {
          // Started from inside the tree with its working directory at /: no open file, no cwd there.
          holdSync([join(path, 'bin', 'sleep'), '60'], path)
        },
      },
    })
    expect(itemAt(report, path)).toMatchObject({
      decision: 'skipped',
      outcome: expect.stringMatching(/in use: process \d+ \(sleep\) runs a program from inside it/),
    })
    expect(existsSync(join(path, 'bin', 'sleep'))).toBe(true)
  })
})

describe('names that are not valid UTF-8 (class 5)', () => {
  const rawName = Buffer.from([0x66, 0xff, 0xfe, 0x2e, 0x6b]) // "f\xff\xfe.k"
  const inside = (dir: string, ...parts: Buffer[]) => Buffer.concat([Buffer.from(dir + '/'), ...parts.flatMap((part, i) => (i ? [Buffer.from('/'), part] : [part]))])

  it('a young file under such a name keeps the tree, and the reason shows the name escaped', async () => {
    const path = makeTempDir(root, 'moat-aws-1')
    const report = await runTemp(root, {
      hooks: {
        beforeRemove() {
          // Only the new file is young: its directory gets back the very mtime the scan saw.
          const sub = statSync(join(path, 'sub'))
          writeFileSync(inside(join(path, 'sub'), rawName), 'fresh token')
          utimesSync(join(path, 'sub'), sub.atime, sub.mtime)
          expect(statSync(join(path, 'sub')).mtimeMs).toBeLessThanOrEqual(sub.mtimeMs)
        },
      },
    })
    expect(itemAt(report, path)).toMatchObject({
      decision: 'skipped',
      outcome: String.raw`drift: modified since the scan (sub/f\xff\xfe.k)`,
    })
    expect(readdirSync(join(path, 'sub'), {encoding: 'buffer'}).some((name) => name.equals(rawName))).toBe(true)
  })

  it('an old tree with such names (a file and a directory) is removed whole, leaving nothing behind', async () => {
    const path = makeTempDir(root, 'moat-aws-1')
    mkdirSync(inside(path, rawName))
    writeFileSync(inside(path, rawName, rawName), 'old')
    const old = new Date(Date.now() - 3 * HOUR)
    utimesSync(inside(path, rawName, rawName), old, old)
    utimesSync(inside(path, rawName), old, old)
    utimesSync(path, old, old)
    const report = await runTemp(root)
    expect(itemAt(report, path)).toMatchObject({decision: 'removed'})
    expect(readdirSync(root)).toEqual([])
  })
})

describe('Apple containers (class 6; the Apple CLI is a SIMULATION: test/fixtures/fake-container replays its JSON)', () => {
  const running = (mounts: Array<{destination: string; source: string}>) => ({
    containers: [{created: '2026-12-01T10:00:00Z', id: 'run_0123456789ab', image: 'moat/run:1', mounts, state: 'running' as const}],
    networks: [],
  })

  it.each(['1.0.0', 'legacy'] as const)('a dir shared into a running Apple container with --volume is kept (%s schema)', async (schema) => {
    const mounted = makeTempDir(root, 'moat-aws-1')
    const free = makeTempDir(root, 'moat-aws-2')
    fake = useFakeContainer({...running([{destination: '/moat/aws', source: mounted}]), schema})
    const report = await runTemp(root, {apple: true})
    expect(itemAt(report, mounted)).toMatchObject({
      decision: 'kept',
      reason: 'bind-mounted into running container run_0123456789ab (apple: ' + mounted + ')',
    })
    expect(itemAt(report, free).decision).toBe('removed')
    expect(readdirSync(mounted).sort()).toEqual(WHOLE)
  })

  it('an Apple container started after the plan that shares a candidate: put back after the move', async () => {
    const path = makeTempDir(root, 'moat-aws-1')
    fake = useFakeContainer({...running([]), schema: '1.0.0'})
    const report = await runTemp(root, {
      apple: true,
      hooks: {
        beforeRemove() {
          fake!.write({...fake!.read(), ...running([{destination: '/moat/aws', source: path}])})
        },
      },
    })
    expect(itemAt(report, path)).toMatchObject({
      decision: 'skipped',
      outcome: expect.stringMatching(/^drift: bind-mounted into running container run_0123456789ab .*put back untouched$/),
    })
    expect(readdirSync(path).sort()).toEqual(WHOLE)
  })

  it('an Apple CLI that is present but failing keeps every candidate, naming the runtime and why', async () => {
    const path = makeTempDir(root, 'moat-aws-1')
    fake = useFakeContainer({...running([]), down: true, schema: '1.0.0'})
    const report = await runTemp(root, {apple: true})
    expect(itemAt(report, path)).toMatchObject({
      decision: 'kept',
      reason: expect.stringMatching(/^apple is present here but cannot be asked .*XPC connection/),
    })
    expect(readdirSync(path).sort()).toEqual(WHOLE)
  })

  it('the Apple CLI failing only after the move: everything is put back', async () => {
    const path = makeTempDir(root, 'moat-aws-1')
    fake = useFakeContainer({...running([]), schema: '1.0.0'})
    const report = await runTemp(root, {
      apple: true,
      hooks: {
        beforeRemove() {
          fake!.write({...fake!.read(), down: true})
        },
      },
    })
    expect(itemAt(report, path)).toMatchObject({
      decision: 'skipped',
      outcome: expect.stringMatching(/^drift: could not be checked again \(apple is present here but cannot be asked/),
    })
    expect(readdirSync(path).sort()).toEqual(WHOLE)
  })
})

describe('reasons and restores', () => {
  it('a reason about a very deep tree stays short', async () => {
    const path = makeTempDir(root, 'moat-aws-1')
    let deep = join(path, 'sub')
    for (let i = 0; i < 300; i++) deep = join(deep, `level-${i}`)
    mkdirSync(deep, {recursive: true})
    // Everything old first, so the one fresh file is the newest entry (mkdir -p leaves equal mtimes to pick from).
    ageTree(path, 3 * HOUR)
    writeFileSync(join(deep, 'fresh'), 'x')
    const report = await runTemp(root)
    const {reason} = itemAt(report, path)
    expect(reason).toMatch(/^young: sub\/level-0\/…\/level-29\d\/\S+ modified/)
    expect(reason.length).toBeLessThan(200)
  })

  it('an entry in use whose name was taken meanwhile is held in the quarantine, never deleted, and reported', async () => {
    const path = makeTempDir(root, 'moat-aws-1')
    const report = await runTemp(root, {
      removeHooks: {
        afterMove(moved) {
          holdSync(['sh', '-c', `exec 3<"${moved[0]!.at}/credentials"; exec sleep 60`], moved[0]!.at)
          mkdirSync(path) // someone else takes the name
          writeFileSync(join(path, 'theirs'), 'x')
        },
      },
    })
    expect(itemAt(report, path)).toMatchObject({decision: 'failed', outcome: expect.stringMatching(/held untouched at .*held-moat-aws-1\.1, never deleted/)})
    expect(readdirSync(path)).toEqual(['theirs'])
    const quarantine = readdirSync(root).find((name) => name.startsWith('moat-system-quarantine-'))!
    expect(readdirSync(join(root, quarantine))).toEqual(['held-moat-aws-1.1'])
    expect(readdirSync(join(root, quarantine, 'held-moat-aws-1.1')).sort()).toEqual(WHOLE)
    killChildren()
    // Later runs report it as held and never delete it.
    const next = await runTemp(root)
    expect(next.targets[0]!.items.find((item) => item.id.endsWith('held-moat-aws-1.1'))).toMatchObject({decision: 'kept', reason: expect.stringMatching(/^held: /)})
    expect(readdirSync(join(root, quarantine, 'held-moat-aws-1.1')).sort()).toEqual(WHOLE)
  })

  it('an interrupted deletion left under the older quarantine name is still found and finished', async () => {
    const legacy = join(root, `moat-system-quarantine-${process.getuid!()}`)
    mkdirSync(legacy, {mode: 0o700})
    const path = makeTempDir(root, 'moat-aws-1')
    renameSync(path, join(legacy, 'moat-aws-1.deadbeef'))
    const report = await runTemp(root)
    expect(report.targets[0]!.items).toEqual([expect.objectContaining({decision: 'removed', outcome: 'finished an interrupted deletion'})])
    expect(readdirSync(root)).toEqual([])
  })
})
