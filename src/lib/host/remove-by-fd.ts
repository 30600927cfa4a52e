// The Linux form of removeTree (tree.ts): directories held open by descriptor and every entry reached as
// `/proc/self/fd/<dirfd>/<name>`, so the kernel never re-resolves a path above it, and a directory's entries are
// unlinked several at a time (issue 13: deletion near `rm`). The rules are removeTree's, unchanged.
import {closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, rmdirSync, unlinkSync} from 'node:fs'
import {unlink} from 'node:fs/promises'

import {joinRaw, type RawPath, shortPath, showPath} from './raw-path.js'
import {expectSame, type Identity, type Pacer, type RemoveTreeOptions, sameIdentity, TreeMoved} from './tree.js'

/** Unlinks under way at once in one directory: enough to keep libuv's four threads busy, measured in npm run bench. */
const UNLINKS_IN_FLIGHT = 16
// eslint-disable-next-line no-bitwise
const OPEN_DIRECTORY = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW
const REPLACEMENT = '\uFFFD'

let works: boolean | undefined

/**
 * Whether `/proc/self/fd/<fd>` reaches the very directory a descriptor holds (Linux with /proc mounted). Elsewhere
 * (macOS, a container without /proc) removeTree walks by working directory instead.
 */
export function procFdWorks(): boolean {
  if (works !== undefined) return works
  works = false
  let fd: number | undefined
  try {
    fd = openSync('/', OPEN_DIRECTORY)
    works = sameIdentity(lstatSync(`/proc/self/fd/${fd}/.`), fstatSync(fd))
  } catch {} finally {
    if (fd !== undefined) closeSync(fd)
  }

  return works
}

interface Entry {
  isDirectory: boolean
  name: RawPath
}

/** A directory's entries, unsorted, with the type the listing gives; names that are not valid UTF-8 as raw bytes. */
function listEntries(dir: string): Entry[] {
  const entries = readdirSync(dir, {withFileTypes: true})
  if (entries.some((entry) => entry.name.includes(REPLACEMENT))) {
    return readdirSync(dir, {encoding: 'buffer', withFileTypes: true}).map((entry) => {
      const text = entry.name.toString('utf8')
      return {isDirectory: entry.isDirectory(), name: text.includes(REPLACEMENT) ? entry.name : text}
    })
  }

  return entries.map((entry) => ({isDirectory: entry.isDirectory(), name: entry.name}))
}

/** Opens a directory by descriptor-relative path without following a symlink; a swapped-in symlink stops the walk. */
function openDirectory(path: RawPath, shown: RawPath): number {
  try {
    return openSync(path, OPEN_DIRECTORY)
  } catch (error) {
    const {code} = error as NodeJS.ErrnoException
    if (code === 'ELOOP' || code === 'ENOTDIR') throw new TreeMoved(`${shortPath(showPath(shown))} changed during deletion; stopped there`)
    throw error
  }
}

class Walk {
  failure?: unknown
  private readonly home: string | undefined

  constructor(private readonly expectedDev: number, private readonly options: RemoveTreeOptions & {pacer: Pacer}) {
    try {
      this.home = process.cwd()
    } catch {}
  }

  get stopped(): boolean {
    return this.failure !== undefined || this.options.signal?.aborted === true
  }

  /**
   * Empties the directory open as `fd`, unless stopped (a failure or the signal) on the way: its non-directories
   * are unlinked up to 16 at a time while its subdirectories are emptied one after another alongside (unlinks in
   * one directory queue on its lock in the kernel; in two they do not).
   */
  async empty(fd: number): Promise<void> {
    await this.options.pacer.pace()
    const base = `/proc/self/fd/${fd}`
    const entries = listEntries(base)
    const others = entries.filter((entry) => !entry.isDirectory).map((entry) => entry.name)
    /** Listed as something else, found to be a directory now: walked once the rest is done. */
    const late: RawPath[] = []
    let next = 0
    const unlinker = async () => {
      while (next < others.length && !this.stopped) {
        const child = others[next++]!
        try {
          // eslint-disable-next-line no-await-in-loop
          await unlink(joinRaw(base, child))
          this.options.hooks?.afterRemove?.(child)
        } catch (error) {
          const {code} = error as NodeJS.ErrnoException
          if (code === 'EISDIR' || code === 'EPERM') late.push(child)
          else if (code !== 'ENOENT') this.failure ??= error
        }
      }
    }

    const subdirectories = async (names: RawPath[]) => {
      for (const child of names) {
        if (this.stopped) return
        try {
          // eslint-disable-next-line no-await-in-loop
          await this.removeDirectory(fd, child)
        } catch (error) {
          this.failure ??= error
        }
      }
    }

    const directories = entries.filter((entry) => entry.isDirectory).map((entry) => entry.name)
    await Promise.all([subdirectories(directories), ...Array.from({length: Math.min(UNLINKS_IN_FLIGHT, others.length)}, unlinker)])
    await subdirectories(late)
  }

  /** The test hook runs where removeTree's other form runs it: with the working directory at the parent. */
  private beforeDescend(parentFd: number, name: RawPath): void {
    const hook = this.options.hooks?.beforeDescend
    if (!hook) return
    process.chdir(`/proc/self/fd/${parentFd}`)
    try {
      hook(name)
    } finally {
      process.chdir(this.home ?? '/')
    }
  }

  /** Removes the entry `name` of the directory open as `parentFd`, a directory when it was listed. */
  private async removeDirectory(parentFd: number, name: RawPath): Promise<void> {
    const path = joinRaw(`/proc/self/fd/${parentFd}`, name)
    const stat = lstatSync(path, {throwIfNoEntry: false})
    if (!stat) return
    if (!stat.isDirectory()) {
      unlinkSync(path)
      this.options.hooks?.afterRemove?.(name)
      return
    }

    if (stat.dev !== this.expectedDev) throw new Error(`${showPath(name)} is on another file system; not crossing into it`)
    if (this.options.mountRoots?.has(`${stat.dev}:${stat.ino}`)) throw new Error(`${showPath(name)} is a mount point; not entering it`)
    this.beforeDescend(parentFd, name)
    const fd = openDirectory(path, name)
    try {
      expectSame(fstatSync(fd), stat, name)
      await this.empty(fd)
    } finally {
      closeSync(fd)
    }

    if (this.stopped) return
    rmdirSync(path)
    this.options.hooks?.afterRemove?.(name)
  }
}

/**
 * removeTree on Linux: the tree's root and its parent (the quarantine) are opened and checked by identity, each
 * subdirectory is checked by lstat (file system, mount point), opened O_NOFOLLOW|O_DIRECTORY and checked again with
 * fstat, and every name is reached through its directory's descriptor. The non-directories of one directory are
 * unlinked up to 16 at a time, its subdirectories walked one after another alongside: one tree at a time, as the
 * signal rule asks (nothing more deleted than the entry under way). The first problem stops the walk after the
 * unlinks under way, and so does an aborted signal (returning false).
 */
export async function removeTreeByFd(
  path: string,
  expected: Identity,
  parent: Identity,
  options: RemoveTreeOptions & {pacer: Pacer},
): Promise<boolean> {
  const slash = path.replace(/\/+$/, '').lastIndexOf('/')
  const parentPath = path.slice(0, Math.max(slash, 1))
  const name = path.slice(slash + 1).replace(/\/+$/, '')
  const parentFd = openDirectory(parentPath, parentPath)
  try {
    expectSame(fstatSync(parentFd), parent, `the parent of ${path}`)
    const rootPath = `/proc/self/fd/${parentFd}/${name}`
    const fd = openDirectory(rootPath, path)
    const walk = new Walk(expected.dev, options)
    try {
      expectSame(fstatSync(fd), expected, path)
      await walk.empty(fd)
    } finally {
      closeSync(fd)
    }

    if (walk.failure !== undefined) throw walk.failure
    if (walk.stopped) return false
    rmdirSync(rootPath)
    options.hooks?.afterRemove?.(path)
    return true
  } finally {
    closeSync(parentFd)
  }
}
