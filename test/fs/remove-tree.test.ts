// removeTree's two walks, by descriptor (Linux, several unlinks at a time) and by working directory (macOS), held
// to the same rules on real trees: no symlink followed, no mount point entered, a swapped directory stops the walk,
// an abort leaves the rest. The clean-temp suites run the descriptor walk end to end; this runs both directly.
import {execFileSync} from 'node:child_process'
import {existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {readMountTable} from '../../src/lib/host/mounts.js'
import {procFdWorks} from '../../src/lib/host/remove-by-fd.js'
import {removeTree, type RemoveTreeOptions} from '../../src/lib/host/tree.js'
import {unmountBelow} from '../helpers/host-fixtures.js'
import {makeTmpRoot, removeTmpRoot} from '../helpers/temp-fixtures.js'

const isRoot = process.getuid?.() === 0
let parent: string
let outside: string

beforeEach(() => {
  parent = realpathSync(makeTmpRoot())
  outside = realpathSync(makeTmpRoot())
  writeFileSync(join(outside, 'precious'), 'keep me')
  mkdirSync(join(outside, 'dir'))
  writeFileSync(join(outside, 'dir', 'also-precious'), 'keep me too')
})

afterEach(() => {
  unmountBelow(parent, outside)
  removeTmpRoot(parent)
  removeTmpRoot(outside)
})

function expectOutsideIntact(): void {
  expect(readFileSync(join(outside, 'precious'), 'utf8')).toBe('keep me')
  expect(readFileSync(join(outside, 'dir', 'also-precious'), 'utf8')).toBe('keep me too')
}

/** A tree of 3 levels, 40 files per directory, a symlink out of it and a name that is not valid UTF-8. */
function makeTree(): string {
  const tree = join(parent, 'tree')
  for (const dir of ['a/b', 'c', 'sub/deeper']) {
    mkdirSync(join(tree, dir), {recursive: true})
    for (let i = 0; i < 40; i++) writeFileSync(join(tree, dir, `f${i}`), 'x')
  }

  symlinkSync(join(outside, 'dir'), join(tree, 'a', 'link-out'))
  writeFileSync(Buffer.concat([Buffer.from(`${tree}/c/`), Buffer.from([0x66, 0xff, 0xfe])]), 'raw')
  return tree
}

async function remove(tree: string, options: RemoveTreeOptions): Promise<boolean> {
  return removeTree(tree, lstatSync(tree), lstatSync(parent), options)
}

describe('the walk chosen', () => {
  it('is by descriptor on Linux: /proc/self/fd reaches what a descriptor holds', () => {
    expect(procFdWorks()).toBe(process.platform === 'linux' && existsSync('/proc/self/fd'))
  })
})

describe.each([
  {byDescriptor: true, walk: 'by descriptor'},
  {byDescriptor: false, walk: 'by working directory'},
])('removeTree $walk', ({byDescriptor}) => {
  it('removes the whole tree and only it, unlinking a symlink without following it', async () => {
    const tree = makeTree()
    const cwd = process.cwd()
    const cwds = new Set<string>()
    expect(await remove(tree, {byDescriptor, hooks: {afterRemove: () => cwds.add(process.cwd())}})).toBe(true)
    expect(existsSync(tree)).toBe(false)
    expect(readdirSync(parent)).toEqual([])
    expectOutsideIntact()
    expect(process.cwd()).toBe(cwd)
    // The descriptor walk never moves the working directory; the other one lives inside the tree.
    if (byDescriptor) expect([...cwds]).toEqual([cwd])
    else expect([...cwds].some((dir) => dir.startsWith(tree))).toBe(true)
  })

  it('a checked subdirectory swapped for a symlink before it is entered: stops there, nothing outside touched', async () => {
    const tree = makeTree()
    let swapped = false
    const failure = await remove(tree, {
      byDescriptor,
      hooks: {
        beforeDescend(name) {
          if (name !== 'sub' || swapped) return
          swapped = true
          renameSync('sub', 'sub-moved')
          symlinkSync(join(outside, 'dir'), 'sub')
        },
      },
    }).catch((error: Error) => error)
    expect(swapped).toBe(true)
    expect(failure).toBeInstanceOf(Error)
    expect((failure as Error).message).toMatch(/sub changed during deletion; stopped there/)
    expectOutsideIntact()
    expect(readdirSync(join(tree, 'sub-moved', 'deeper'))).toHaveLength(40)
  })

  it('a subdirectory replaced by a symlink after its parent was listed is unlinked, not followed', async () => {
    const tree = makeTree()
    const done = await remove(tree, {
      byDescriptor,
      hooks: {
        beforeDescend(name) {
          if (name !== 'sub') return
          renameSync(join('sub', 'deeper'), join('sub', 'gone'))
          symlinkSync(join(outside, 'dir'), join('sub', 'deeper'))
        },
      },
    })
    expect(done).toBe(true)
    expect(existsSync(tree)).toBe(false)
    expectOutsideIntact()
  })

  it.skipIf(!isRoot)('a same-file-system bind mount inside is never entered (needs root for mount --bind)', async () => {
    const tree = makeTree()
    execFileSync('mount', ['--bind', join(outside, 'dir'), join(tree, 'c')])
    const {dev} = lstatSync(tree)
    const failure = await remove(tree, {byDescriptor, mountRoots: readMountTable().rootsOn(dev)}).catch((error: Error) => error)
    expect((failure as Error).message).toMatch(/c is a mount point; not entering it/)
    expectOutsideIntact()
  })

  it('after an abort, the entries under way finish and the rest stays', async () => {
    const tree = makeTree()
    const controller = new AbortController()
    let removed = 0
    const done = await remove(tree, {
      byDescriptor,
      hooks: {
        afterRemove() {
          if (++removed === 5) controller.abort()
        },
      },
      signal: controller.signal,
    })
    expect(done).toBe(false)
    // At most the unlinks already under way finish after the abort: 16 in each directory being emptied (3 levels).
    expect(removed).toBeLessThanOrEqual(5 + 16 * 3)
    expect(existsSync(tree)).toBe(true)
    expectOutsideIntact()
  })

  it('a root that is not the directory verified is not touched', async () => {
    const tree = makeTree()
    const other = join(parent, 'other')
    mkdirSync(other)
    const failure = await removeTree(tree, lstatSync(other), lstatSync(parent), {byDescriptor}).catch((error: Error) => error)
    expect((failure as Error).message).toMatch(/changed during deletion; stopped there/)
    expect(readdirSync(join(tree, 'c'))).toHaveLength(41)
  })
})
