// Every read of moat's state and every file or directory this tool creates goes through here (issue 20), so two rules
// hold everywhere:
// - a fact is absent only when the system says so (ENOENT, or ENOTDIR where a parent is a file); any other error
//   (EACCES, ELOOP, EIO, EMFILE, a FIFO, a file over its cap) makes it unreadable, and the caller keeps what it
//   protects, naming the path and the error;
// - what the tool creates it creates itself: files with O_CREAT|O_EXCL|O_NOFOLLOW under unpredictable names, directories
//   with a mkdir that fails on an existing name, published under their final name without replacing anything. An
//   existing symlink or foreign file at such a name is an error, never followed.
// A state file is opened O_RDONLY|O_NOFOLLOW|O_NONBLOCK and checked with fstat to be a regular file before a byte is
// read: a planted link is never followed and a FIFO never waited on. (A device node cannot be planted by an ordinary
// user: mknod needs CAP_MKNOD, /dev is another file system for hard links, and links are not followed.)
import {
  closeSync,
  constants,
  createReadStream,
  createWriteStream,
  fstatSync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  type ReadStream,
  readSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  unlinkSync,
  type WriteStream,
  writeSync,
} from 'node:fs'
import {basename, dirname, join} from 'node:path'

import type {RawPath} from './raw-path.js'

/* eslint-disable no-bitwise -- open(2) flags and permission bits */
export const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK
export const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW
export const APPEND_FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW | constants.O_NONBLOCK
const GROUP_OTHER_WRITE = 0o022
/* eslint-enable no-bitwise */

const KIB = 1024
const MIB = 1024 * KIB

/**
 * The state files read, each with the most it may hold: anything larger is not what its writer writes, and reading it
 * whole would only let a planted file exhaust memory.
 */
export const STATE_FILES = {
  'daemon.lock': {cap: 64 * KIB, why: 'five JSON fields, about 150 bytes: moat-resources.md §6.1'},
  journal: {cap: 32 * MIB, why: "this tool's own write-ahead record, emptied after each pass and cut down past 256 KiB"},
  'lock owner.json': {cap: 64 * KIB, why: "this tool's own five fields, about 200 bytes"},
  'metadata.json': {cap: MIB, why: 'moat writes 1-2 KB, one field per line, §2.2; room for long service maps and provider_meta'},
  'metrics file': {cap: 4 * MIB, why: "this tool's own text, about 100 samples per target and runtime"},
  'reaper state': {cap: 64 * KIB, why: "this tool's own reaper state file: a few fields and one line per engine watched"},
  'runs.json': {cap: 16 * MIB, why: 'a few KB per registered run with its grants, MCP servers and network rules, §6.2: thousands fit'},
  'snapshots.json': {cap: 4 * MIB, why: 'one short record per snapshot, §5.1: thousands fit'},
} as const

export type StateFileKind = keyof typeof STATE_FILES

/** A fact that exists, or may exist, and cannot be read: never to be taken for "absent". */
export class Unreadable extends Error {
  override name = 'Unreadable'

  constructor(
    readonly path: string,
    readonly code: string,
    /** What is wrong, to follow the path: `cannot be read (EACCES)`, `is not a regular file (a FIFO)` ... */
    readonly why = `cannot be read (${code})`,
  ) {
    super(`${path} ${why}`)
  }
}

/** The only answers that mean "not there": no such entry, or a parent that is not a directory. */
export function isAbsent(error: unknown): boolean {
  const {code} = error as NodeJS.ErrnoException
  return code === 'ENOENT' || code === 'ENOTDIR'
}

function codeOf(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message ?? String(error)
}

/** `noFollow`: the open was O_NOFOLLOW, so ELOOP means the entry itself is a symlink. */
function unreadable(path: RawPath, error: unknown, noFollow = false): Unreadable {
  const code = codeOf(error)
  return new Unreadable(String(path), code, noFollow && code === 'ELOOP' ? 'is a symlink (ELOOP): never followed' : undefined)
}

const KIND_OF: Array<[(stat: Stats) => boolean, string]> = [
  [(stat) => stat.isDirectory(), 'a directory'],
  [(stat) => stat.isFIFO(), 'a FIFO'],
  [(stat) => stat.isSocket(), 'a socket'],
  [(stat) => stat.isCharacterDevice() || stat.isBlockDevice(), 'a device'],
  [(stat) => stat.isSymbolicLink(), 'a symlink'],
]

export function describeType(stat: Stats): string {
  return KIND_OF.find(([is]) => is(stat))?.[1] ?? 'not a regular file'
}

/**
 * lstat (stat with `follow`) of an entry: undefined when it is absent; any other error throws Unreadable naming the
 * path and the error.
 */
export function entryStat(path: RawPath, options: {follow?: boolean} = {}): Stats | undefined {
  try {
    return options.follow ? statSync(path) : lstatSync(path)
  } catch (error) {
    if (isAbsent(error)) return undefined
    throw unreadable(path, error)
  }
}

/**
 * The names in a directory of moat's state; undefined when it does not exist. Throws Unreadable when it cannot be
 * listed, and also when it can be listed but not searched (mode r--): every entry in it would then be unreadable, and
 * a caller that took each for absent would judge every run ended.
 */
export function listDirectory(path: string): string[] | undefined {
  let names: string[]
  try {
    names = readdirSync(path)
  } catch (error) {
    if (isAbsent(error)) return undefined
    throw unreadable(path, error)
  }

  try {
    // Looking up `.` inside it needs search permission, as looking up any entry does (not path.join: it drops `.`).
    lstatSync(`${path}/.`)
  } catch (error) {
    throw new Unreadable(path, codeOf(error), `can be listed but not searched (${codeOf(error)})`)
  }

  return names
}

/**
 * A state file's text: undefined when it is absent. Opened without following a final symlink and without blocking,
 * checked with fstat to be a regular file within its kind's cap, else Unreadable.
 */
export function readStateFile(path: string, kind: StateFileKind): string | undefined {
  const {cap} = STATE_FILES[kind]
  let fd: number
  try {
    fd = openSync(path, READ_FLAGS)
  } catch (error) {
    if (isAbsent(error)) return undefined
    throw unreadable(path, error, true)
  }

  try {
    const stat = fstatSync(fd)
    if (!stat.isFile()) throw new Unreadable(path, 'ENOTREG', `is not a regular file (${describeType(stat)})`)
    if (stat.size > cap) throw new Unreadable(path, 'EFBIG', `is larger than a ${kind} can be (${stat.size} bytes, at most ${cap})`)
    // One byte more than the cap: a file that grew since the fstat is caught too.
    const buffer = Buffer.alloc(Math.min(stat.size, cap) + 1)
    let length = 0
    for (let read = -1; read !== 0 && length < buffer.length; length += read) read = readSync(fd, buffer, length, buffer.length - length, null)
    if (length > cap) throw new Unreadable(path, 'EFBIG', `is larger than a ${kind} can be (at most ${cap} bytes)`)
    return buffer.toString('utf8', 0, length)
  } catch (error) {
    throw error instanceof Unreadable ? error : unreadable(path, error)
  } finally {
    closeSync(fd)
  }
}

/**
 * A file of this tool's own cache, whole (a code cache: src/lib/cli/code-cache.ts), or undefined when it cannot be
 * used: absent, a symlink (never followed), not a regular file, not this user's, empty, over `cap`, or shorter than
 * fstat said. A cache is only ever an optimisation, so every failure is "no cache".
 */
export function readCacheFile(path: string, cap: number): Buffer | undefined {
  let fd: number
  try {
    fd = openSync(path, READ_FLAGS)
  } catch {
    return undefined
  }

  try {
    const stat = fstatSync(fd)
    const uid = process.getuid?.()
    if (!stat.isFile() || (uid !== undefined && stat.uid !== uid) || stat.size === 0 || stat.size > cap) return undefined
    const data = Buffer.allocUnsafe(stat.size)
    for (let length = 0, read = -1; length < data.length; length += read) {
      read = readSync(fd, data, length, data.length - length, length)
      if (read === 0) return undefined
    }

    return data
  } catch {
    return undefined
  } finally {
    closeSync(fd)
  }
}

/** A regular file opened for reading as a stream: O_NOFOLLOW|O_NONBLOCK, fstat-checked (a backup read back). */
export function readStream(path: string): ReadStream {
  const fd = openRegular(path, READ_FLAGS)
  return createReadStream(path, {fd})
}

function openRegular(path: string, flags: number, mode?: number): number {
  const fd = openSync(path, flags, mode)
  const stat = fstatSync(fd)
  if (stat.isFile()) return fd
  closeSync(fd)
  throw Object.assign(new Error(`${path} is not a regular file (${describeType(stat)})`), {code: 'ENOTREG'})
}

// --- Creating ---------------------------------------------------------------------------------------------------

/**
 * Random hex, from node:crypto loaded only when a name is made (loading it costs every run some 2 ms of start-up).
 * process.getBuiltinModule, not createRequire: node:module itself is some ms of start-up to load.
 */
export function randomHex(bytes = 8): string {
  const {randomBytes} = process.getBuiltinModule('node:crypto')
  return randomBytes(bytes).toString('hex')
}

/** A hidden name beside `path` nobody can predict: `.<name>.<random>.<suffix>` (never `*.prom`, `*.tar.gz`, ...). */
export function temporaryName(path: string, suffix = 'tmp'): string {
  return join(dirname(path), `.${basename(path)}.${randomHex()}.${suffix}`)
}

function existing(path: string, error: unknown): Error {
  if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return error as Error
  const stat = entryStat(path)
  const what = stat?.isSymbolicLink() ? 'a symlink' : stat ? describeType(stat).replace('not a regular file', 'a file') : 'something'
  return Object.assign(new Error(`${path} already exists (${what} this tool did not make): never followed or replaced`), {code: 'EEXIST'})
}

/** A new file made by this call (O_CREAT|O_EXCL|O_NOFOLLOW): an existing entry of any kind at the name is an error. */
export function createFile(path: string, mode: number): number {
  try {
    return openSync(path, CREATE_FLAGS, mode)
  } catch (error) {
    throw existing(path, error)
  }
}

/** createFile, written whole and synced. */
export function writeNewFile(path: string, data: Buffer | string, mode: number): void {
  const fd = createFile(path, mode)
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data
    if (writeSync(fd, bytes) !== bytes.length) throw Object.assign(new Error('short write'), {code: 'ENOSPC'})
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** createFile as a stream (a backup being written). */
export function createFileStream(path: string, mode: number): WriteStream {
  return createWriteStream(path, {fd: createFile(path, mode)})
}

/**
 * Gives a file this tool just made its final name without replacing anything: link(2) fails on any existing entry
 * (a foreign file, a planted symlink), then the temporary name goes. Where a file system has no hard links, a rename
 * into a name checked absent right before.
 */
export function publishFile(temporary: string, final: string): void {
  try {
    linkSync(temporary, final)
  } catch (error) {
    const {code} = error as NodeJS.ErrnoException
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw existing(final, error)
    moveEntry(temporary, final)
    return
  }

  unlinkSync(temporary)
}

/**
 * Replaces whatever entry is at `final` with a file this tool made (the metrics file, for readers that must never see
 * half of it): rename(2) replaces the entry itself, a symlink too, and never writes through it.
 */
export function replaceFile(temporary: string, final: string): void {
  renameSync(temporary, final)
}

/** Renames an entry to a name checked free right before (rename would replace an empty directory there). */
export function moveEntry(from: string, to: string): void {
  if (entryStat(to)) throw Object.assign(new Error(`${to} already exists: not replaced`), {code: 'EEXIST'})
  renameSync(from, to)
}

/** Removes a file (never a directory; never follows a symlink); false when it was already gone. */
export function removeFile(path: string): boolean {
  try {
    unlinkSync(path)
    return true
  } catch (error) {
    if (isAbsent(error)) return false
    throw error
  }
}

/** A directory made by this call (mkdir fails on an existing name, a symlink too): false when the name is taken. */
export function makeDirectory(path: string, mode = 0o700): boolean {
  try {
    mkdirSync(path, {mode})
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  }
}

/**
 * Why the directory at `path` cannot be one of this user's private ones (reaped/, the lock parent in /tmp), or
 * undefined when it can, or when nothing is there yet. It must be a real directory (not a symlink, so it resolves
 * where its parent does), owned by this user and writable by nobody else.
 */
export function whyNotOwnDirectory(path: string): string | undefined {
  const stat = entryStat(path)
  if (!stat) return undefined
  const uid = process.getuid?.()
  if (stat.isSymbolicLink()) return `${path} is a symlink: never followed`
  if (!stat.isDirectory()) return `${path} is ${describeType(stat)}, not a directory`
  if (uid !== undefined && stat.uid !== uid) return `${path} belongs to uid ${stat.uid}, not to this user`
  // eslint-disable-next-line no-bitwise
  if ((stat.mode & GROUP_OTHER_WRITE) !== 0) return `${path} is writable by others`
  return undefined
}

/** A private directory of this user at `path`: made 0700 when absent, else checked (whyNotOwnDirectory); throws. */
export function ownDirectory(path: string): void {
  makeDirectory(path)
  const why = whyNotOwnDirectory(path) ?? (entryStat(path) ? undefined : `${path} vanished as it was made`)
  if (why) throw Object.assign(new Error(why), {code: 'EUNSAFE'})
}

/**
 * A directory the user named for files this tool writes (backups): made 0700 with its missing parents; the directory
 * itself must be a real one, not a symlink. The files in it are created O_EXCL under random names and published with
 * link(2), so nothing that exists there is ever written through or replaced.
 */
export function outputDirectory(path: string): void {
  makeDirectories(path)
  const stat = entryStat(path)
  if (stat?.isSymbolicLink()) throw Object.assign(new Error(`${path} is a symlink: files are written only into a real directory`), {code: 'ELOOP'})
  if (!stat?.isDirectory()) throw Object.assign(new Error(`${path} is not a directory`), {code: 'ENOTDIR'})
}

/** A directory and its missing parents, made 0700 (where the user's --log-file goes). */
export function makeDirectories(path: string): void {
  mkdirSync(path, {mode: 0o700, recursive: true})
}

/**
 * The user's --log-file, for appending: an existing regular file is opened O_APPEND|O_NOFOLLOW (a symlink at the name
 * is never followed: ELOOP); an absent one is created here with O_EXCL (a dangling symlink planted at the name cannot
 * make it create the file it points to). Throws errors with a `code` to explain.
 */
export function openAppendFile(path: string, mode = 0o600): number {
  for (let attempt = 0; ; attempt++) {
    try {
      return openRegular(path, APPEND_FLAGS)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 0) throw error
    }

    try {
      // eslint-disable-next-line no-bitwise
      return openRegular(path, CREATE_FLAGS | constants.O_APPEND, mode)
    } catch (error) {
      // Made by someone else in between: open what is there now, once, by the rules above.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
  }
}

/** fsync of a file or a directory this tool wrote into (so a rename into it survives a crash). */
export function syncEntry(path: string): void {
  const fd = openSync(path, READ_FLAGS)
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Removes a directory tree this tool made and owns (its lock), without following a symlink inside. */
export function removeOwnTree(path: string): void {
  rmSync(path, {force: true, recursive: true})
}
