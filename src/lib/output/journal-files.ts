// The file-system primitives the journal needs, kept apart so they can move onto the host module's checked helpers
// (issue 20): a private directory, a file created exclusively and never through a symlink, appends that are synced,
// and a whole-file replacement through a temp file of a random name.
/* eslint-disable no-bitwise -- open(2) flags */
import {randomBytes} from 'node:crypto'
import {chmodSync, closeSync, constants, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readSync, renameSync, unlinkSync, writeSync} from 'node:fs'
import {dirname, join} from 'node:path'

const MY_UID = process.getuid?.() ?? -1
const {O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, O_WRONLY} = constants

/** A directory of ours that nobody else may write to: made 0700 when missing; a symlink or another user's is refused. */
export function privateDirectory(path: string): void {
  mkdirSync(path, {mode: 0o700, recursive: true})
  const stat = lstatSync(path)
  if (!stat.isDirectory()) throw Object.assign(new Error(`${path} is not a directory`), {code: 'ENOTDIR'})
  if (MY_UID >= 0 && stat.uid !== MY_UID) throw Object.assign(new Error(`${path} belongs to uid ${stat.uid}`), {code: 'EPERM'})
  if ((stat.mode & 0o077) !== 0) chmodSync(path, 0o700)
}

/** Refuses what is not a plain file of ours with one name (a hard link elsewhere could be anyone's file). */
function checkOwnFile(fd: number, path: string): void {
  const stat = fstatSync(fd)
  if (!stat.isFile() || (MY_UID >= 0 && stat.uid !== MY_UID) || stat.nlink !== 1) {
    closeSync(fd)
    throw Object.assign(new Error(`${path} is not a private regular file of yours`), {code: 'EPERM'})
  }
}

/** Opens a file of ours for appending: created exclusively (0600) when missing, never through a symlink. */
export function openPrivateAppend(path: string): number {
  let fd: number
  try {
    fd = openSync(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    fd = openSync(path, O_WRONLY | O_APPEND | O_NOFOLLOW)
  }

  checkOwnFile(fd, path)
  return fd
}

/** The last `maxBytes` of a file of ours ('' when there is none), never read through a symlink. */
export function readPrivateTail(path: string, maxBytes: number): string {
  let fd: number
  try {
    fd = openSync(path, O_RDONLY | O_NOFOLLOW)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return ''
    throw error
  }

  try {
    checkOwnFile(fd, path)
    const {size} = fstatSync(fd)
    const length = Math.min(size, maxBytes)
    const buffer = Buffer.alloc(length)
    let read = 0
    while (read < length) {
      const got = readSync(fd, buffer, read, length - read, size - length + read)
      if (got === 0) break
      read += got
    }

    return buffer.subarray(0, read).toString('utf8')
  } finally {
    try {
      closeSync(fd)
    } catch {}
  }
}

/** One write(2) of all of it and an fsync: short writes are errors (a full disk). */
export function appendSynced(fd: number, text: string, sync: boolean): void {
  const data = Buffer.from(text)
  const written = writeSync(fd, data)
  if (written !== data.length) throw Object.assign(new Error('short write'), {code: 'ENOSPC'})
  if (sync) fsyncSync(fd)
}

/** Replaces a file of ours with this text: a temp file of a random name (exclusive, no symlink), synced, renamed over it. */
export function replacePrivateFile(path: string, text: string): void {
  const temp = join(dirname(path), `.${randomBytes(8).toString('hex')}.tmp`)
  const fd = openSync(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600)
  try {
    appendSynced(fd, text, true)
  } catch (error) {
    closeSync(fd)
    unlinkSync(temp)
    throw error
  }

  closeSync(fd)
  renameSync(temp, path)
  const dir = openSync(dirname(path), O_RDONLY)
  try {
    fsyncSync(dir)
  } finally {
    closeSync(dir)
  }
}
