import {lstatSync, readdirSync, readFileSync, rmdirSync, type Stats, unlinkSync} from 'node:fs'
import {join} from 'node:path'

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
  /** Path (relative to the root, '.' for the root itself) of the most recently modified entry. */
  newestPath: string
}

export function sameIdentity(a: Identity, b: Identity): boolean {
  return a.dev === b.dev && a.ino === b.ino
}

/**
 * Newest mtime and size of a whole tree, read with lstat only: symlinks are never followed and directories on
 * another device are not entered. Synchronous on purpose: one syscall after another is several times faster than
 * a promise per entry for trees of small files, and nothing else runs meanwhile.
 */
export function walkTree(root: string, rootStat: Stats): TreeFacts {
  const facts: TreeFacts = {bytes: 0, entries: 1, newestMtimeMs: rootStat.mtimeMs, newestPath: '.'}
  const pending: string[] = ['']
  while (pending.length > 0) {
    const relative = pending.pop()!
    let names: string[]
    try {
      names = readdirSync(relative ? join(root, relative) : root)
    } catch (error) {
      facts.error ??= `${relative || '.'}: ${(error as NodeJS.ErrnoException).code ?? error}`
      continue
    }

    for (const name of names) {
      const child = relative ? `${relative}/${name}` : name
      let stat: Stats | undefined
      try {
        stat = lstatSync(join(root, child))
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue
        facts.error ??= `${child}: ${(error as NodeJS.ErrnoException).code ?? error}`
        continue
      }

      facts.entries++
      if (stat.mtimeMs > facts.newestMtimeMs) {
        facts.newestMtimeMs = stat.mtimeMs
        facts.newestPath = child
      }

      if (stat.isFile()) facts.bytes += stat.size
      else if (stat.isDirectory()) {
        if (stat.dev === rootStat.dev) pending.push(child)
        else facts.crossesDevice ??= child
      }
    }
  }

  return facts
}

/** Mount points of this process's mount namespace (Linux); empty where there is no /proc. */
export function readMountPoints(): Set<string> {
  const points = new Set<string>()
  let text: string
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8')
  } catch {
    return points
  }

  for (const line of text.split('\n')) {
    const field = line.split(' ')[4]
    if (field) points.add(field.replaceAll(/\\([0-7]{3})/g, (_, octal: string) => String.fromCodePoint(Number.parseInt(octal, 8))))
  }

  return points
}

export interface RemoveTreeHooks {
  /** Called after a subdirectory was checked and before it is entered: tests swap it for a symlink here. */
  beforeDescend?(name: string): void
}

class TreeMoved extends Error {}

function expectSame(stat: Stats, expected: Identity, what: string): void {
  if (!sameIdentity(stat, expected)) throw new TreeMoved(`${what} changed during deletion; stopped there`)
}

/**
 * Deletes a directory tree without ever following a symlink or leaving its file system.
 *
 * Node has no unlinkat/openat, so the walk works from the process's working directory instead: it enters each
 * directory with chdir, checks with lstat('.') that it landed in the very directory it inspected (dev+ino), and
 * then removes entries by their single-component name. A symlink swapped in for a subdirectory is caught by that
 * check before anything is removed through it; a symlink that is an entry is unlinked itself. Throws on the first
 * problem, leaving the rest in place for the next run.
 */
export function removeTree(path: string, expected: Identity, parent: Identity, hooks: RemoveTreeHooks = {}): void {
  let home: string | undefined
  try {
    home = process.cwd()
  } catch {}

  try {
    process.chdir(path)
    expectSame(lstatSync('.'), expected, path)
    const stack: Array<{id: Identity; name: string; names: string[]}> = [
      {id: expected, name: path, names: readdirSync('.')},
    ]
    while (stack.length > 0) {
      const frame = stack.at(-1)!
      const name = frame.names.pop()
      if (name === undefined) {
        stack.pop()
        process.chdir('..')
        expectSame(lstatSync('.'), stack.at(-1)?.id ?? parent, `the parent of ${frame.name}`)
        rmdirSync(stack.length > 0 ? frame.name : basename(path))
        continue
      }

      if (unlinkUnlessDirectory(name)) continue
      const stat = lstatSync(name, {throwIfNoEntry: false})
      if (!stat) continue
      if (!stat.isDirectory()) {
        unlinkSync(name)
        continue
      }

      if (stat.dev !== expected.dev) throw new Error(`${name} is on another file system; not crossing into it`)
      hooks.beforeDescend?.(name)
      process.chdir(name)
      expectSame(lstatSync('.'), stat, name)
      stack.push({id: stat, name, names: readdirSync('.')})
    }
  } finally {
    process.chdir(home ?? '/')
  }
}

function basename(path: string): string {
  return path.slice(path.replace(/\/+$/, '').lastIndexOf('/') + 1).replace(/\/+$/, '')
}

/** Unlinks anything but a directory (unlink never follows a symlink); false when it is a directory. */
function unlinkUnlessDirectory(name: string): boolean {
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
