import {accessSync, closeSync, constants, lstatSync, openSync, rmdirSync, type Stats, unlinkSync} from 'node:fs'
import {setImmediate as nextTick} from 'node:timers/promises'

import {joinRaw, listNames, type RawPath, shortPath, showPath} from './raw-path.js'
import {procFdWorks, removeTreeByFd} from './remove-by-fd.js'

export interface Identity {
  dev: number
  ino: number
}

export interface TreeFacts {
  /** Bytes in regular files. */
  bytes: number
  /** Path (relative to the root) of an entry on another file system: a mount point inside the tree. */
  crossesDevice?: string
  entries: number
  /** The first entry that could not be read; the tree's age is then unknown. */
  error?: string
  newestMtimeMs: number
  /** Path (relative to the root, '.' for the root itself) of the most recently modified entry, shown escaped. */
  newestPath: string
  /** A non-empty directory (relative path, shown escaped) whose entries this user cannot remove. */
  undeletable?: string
}

export function sameIdentity(a: Identity, b: Identity): boolean {
  return a.dev === b.dev && a.ino === b.ino
}

const MY_UID = process.getuid?.() ?? -1
/* eslint-disable no-bitwise -- permission bits */
const WRITE_SEARCH = 0o300

/** Whether this user may remove entries of a directory: its owner with u+wx needs no syscall; root may always. */
function mayEmpty(path: RawPath, stat: Stats): boolean {
  if (MY_UID === 0) return true
  if (stat.uid === MY_UID && (stat.mode & WRITE_SEARCH) === WRITE_SEARCH) return true
  try {
    accessSync(path, constants.W_OK | constants.X_OK)
    return true
  } catch {
    return false
  }
}
/* eslint-enable no-bitwise */

/**
 * Newest mtime and size of a whole tree, read with lstat only: symlinks are never followed and directories on
 * another device are not entered. Names that are not valid UTF-8 are read as raw bytes (listNames), so no entry is
 * invisible. A non-empty directory this user cannot empty is noted (`undeletable`): the tree could not be removed.
 * Synchronous on purpose: one syscall after another is several times faster than a promise per entry for trees of
 * small files, and nothing else runs meanwhile.
 */
export function walkTree(root: string, rootStat: Stats): TreeFacts {
  const facts: TreeFacts = {bytes: 0, entries: 1, newestMtimeMs: rootStat.mtimeMs, newestPath: '.'}
  let newest: RawPath = '.'
  let undeletable: RawPath | undefined
  const pending: Array<{relative: RawPath; stat: Stats}> = [{relative: '', stat: rootStat}]
  while (pending.length > 0) {
    const {relative, stat: dirStat} = pending.pop()!
    const dir = relative === '' ? root : joinRaw(root, relative)
    let names: RawPath[]
    try {
      names = listNames(dir)
    } catch (error) {
      facts.error ??= `${shortPath(showPath(relative || '.'))}: ${(error as NodeJS.ErrnoException).code ?? error}`
      continue
    }

    if (names.length > 0 && undeletable === undefined && !mayEmpty(dir, dirStat)) undeletable = relative || '.'
    for (const name of names) {
      const child = relative === '' ? name : joinRaw(relative, name)
      let stat: Stats | undefined
      try {
        stat = lstatSync(joinRaw(root, child))
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue
        facts.error ??= `${shortPath(showPath(child))}: ${(error as NodeJS.ErrnoException).code ?? error}`
        continue
      }

      facts.entries++
      if (stat.mtimeMs > facts.newestMtimeMs) {
        facts.newestMtimeMs = stat.mtimeMs
        newest = child
      }

      if (stat.isFile()) facts.bytes += stat.size
      else if (stat.isDirectory()) {
        if (stat.dev === rootStat.dev) pending.push({relative: child, stat})
        else facts.crossesDevice ??= shortPath(showPath(child))
      }
    }
  }

  facts.newestPath = shortPath(showPath(newest))
  if (undeletable !== undefined) facts.undeletable = shortPath(showPath(undeletable))
  return facts
}

export interface RemoveTreeHooks {
  /** Called after each entry is removed (tests signal or race here). */
  afterRemove?(name: RawPath): void
  /** Called after a subdirectory was checked and before it is entered: tests swap it for a symlink here. */
  beforeDescend?(name: RawPath): void
}

export interface RemoveTreeOptions {
  /** Walk by descriptor (Linux) or by working directory; the default is the first wherever /proc allows it. */
  byDescriptor?: boolean
  hooks?: RemoveTreeHooks
  /**
   * `dev:ino` of every mount point on this file system, read afresh from mountinfo (host/mounts.ts): a directory
   * with one of these identities is never entered, so a same-file-system bind mount (same st_dev) is caught too.
   */
  mountRoots?: ReadonlySet<string>
  /** Shared by the deletions of one pass, so many small trees yield as one large one does. */
  pacer?: Pacer
  /** Once aborted, the entry under way is finished and nothing more is removed. */
  signal?: AbortSignal
}

/** How often the deletion lets timers and signal handlers run, so a stop request is seen within ~100 ms. */
const YIELD_EVERY_MS = 20
const CHECK_CLOCK_EVERY = 64

/**
 * Lets timers and signal handlers run every ~20 ms of synchronous deletion, so a stop request is seen within about
 * 100 ms even inside one large tree. Cheap to ask: the clock is read once every 64 calls.
 */
export class Pacer {
  private calls = 0
  private yieldedAt = Date.now()

  /** True when it yielded: whoever relies on the working directory checks it again. */
  async pace(): Promise<boolean> {
    if (++this.calls < CHECK_CLOCK_EVERY) return false
    this.calls = 0
    if (Date.now() - this.yieldedAt <= YIELD_EVERY_MS) return false
    await nextTick()
    this.yieldedAt = Date.now()
    return true
  }
}

/** The walk found something other than what it checked a moment before: it stops there. */
export class TreeMoved extends Error {}

export function expectSame(stat: Stats, expected: Identity, what: RawPath): void {
  if (!sameIdentity(stat, expected)) throw new TreeMoved(`${shortPath(showPath(what))} changed during deletion; stopped there`)
}

/**
 * Enters a child directory by its single-component name. A name that is not valid UTF-8 cannot be given to chdir,
 * so it is opened (O_NOFOLLOW: a symlink fails) and entered through its descriptor's /proc link.
 */
function enter(name: RawPath): void {
  if (typeof name === 'string') {
    process.chdir(name)
    return
  }

  // eslint-disable-next-line no-bitwise
  const fd = openSync(name, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW)
  try {
    process.chdir(`/proc/self/fd/${fd}`)
  } finally {
    closeSync(fd)
  }
}

/**
 * Deletes a directory tree without ever following a symlink, leaving its file system or entering a mount point.
 *
 * Node has no unlinkat/openat, so every entry is reached through a directory already checked by identity (dev+ino)
 * and then by its single-component name: on Linux through that directory's descriptor (`/proc/self/fd/<fd>/<name>`,
 * remove-by-fd.ts, several unlinks at a time); elsewhere by entering it as the working directory and checking
 * lstat('.'). A symlink swapped in for a subdirectory is caught before anything is removed through it; a symlink that
 * is an entry is unlinked itself. It yields every ~20 ms and stops after the entries under way once `signal` is
 * aborted, returning false: the rest stays in place. Throws on the first problem, leaving the rest in place too.
 *
 * The walk by working directory leaves the process's working directory inside the tree while it runs: nothing else
 * may use relative paths meanwhile. Either way `hooks.beforeDescend` runs with the working directory at the
 * directory holding the entry it names.
 */
export async function removeTree(
  path: string,
  expected: Identity,
  parent: Identity,
  options: RemoveTreeOptions = {},
): Promise<boolean> {
  const paced = {...options, pacer: options.pacer ?? new Pacer()}
  const byDescriptor = options.byDescriptor ?? procFdWorks()
  return byDescriptor ? removeTreeByFd(path, expected, parent, paced) : removeTreeByCwd(path, expected, parent, paced)
}

/** removeTree where there is no /proc (macOS): the walk described above, by working directory. */
async function removeTreeByCwd(
  path: string,
  expected: Identity,
  parent: Identity,
  options: RemoveTreeOptions & {pacer: Pacer},
): Promise<boolean> {
  const {hooks = {}, mountRoots, pacer, signal} = options
  let home: string | undefined
  try {
    home = process.cwd()
  } catch {}

  try {
    process.chdir(path)
    expectSame(lstatSync('.'), expected, path)
    const stack: Array<{id: Identity; name: RawPath; names: RawPath[]}> = [
      {id: expected, name: path, names: listNames('.')},
    ]
    while (stack.length > 0) {
      // eslint-disable-next-line no-await-in-loop
      if (await pacer.pace()) {
        // Something may have run meanwhile: make sure the walk still stands where it thinks.
        expectSame(lstatSync('.'), stack.at(-1)!.id, stack.at(-1)!.name)
      }

      if (signal?.aborted) return false
      const frame = stack.at(-1)!
      const name = frame.names.pop()
      if (name === undefined) {
        stack.pop()
        process.chdir('..')
        expectSame(lstatSync('.'), stack.at(-1)?.id ?? parent, `the parent of ${showPath(frame.name)}`)
        rmdirSync(stack.length > 0 ? frame.name : basename(path))
        hooks.afterRemove?.(frame.name)
        continue
      }

      if (unlinkUnlessDirectory(name)) {
        hooks.afterRemove?.(name)
        continue
      }

      const stat = lstatSync(name, {throwIfNoEntry: false})
      if (!stat) continue
      if (!stat.isDirectory()) {
        unlinkSync(name)
        continue
      }

      if (stat.dev !== expected.dev) throw new Error(`${showPath(name)} is on another file system; not crossing into it`)
      if (mountRoots?.has(`${stat.dev}:${stat.ino}`)) throw new Error(`${showPath(name)} is a mount point; not entering it`)
      hooks.beforeDescend?.(name)
      enter(name)
      expectSame(lstatSync('.'), stat, name)
      stack.push({id: stat, name, names: listNames('.')})
    }

    return true
  } finally {
    process.chdir(home ?? '/')
  }
}

function basename(path: string): string {
  return path.slice(path.replace(/\/+$/, '').lastIndexOf('/') + 1).replace(/\/+$/, '')
}

/** Unlinks anything but a directory (unlink never follows a symlink); false when it is a directory. */
function unlinkUnlessDirectory(name: RawPath): boolean {
  try {
    unlinkSync(name)
    return true
  } catch (error) {
    const {code} = (error as NodeJS.ErrnoException)
    if (code === 'ENOENT') return true
    if (code === 'EISDIR' || code === 'EPERM') return false
    throw error
  }
}
