// The file-system primitives the journal (output/journal.ts) needs, on the checked helpers of checked-fs.ts (issue 20):
// a private directory of this user, a file created exclusively (O_EXCL) and never opened through a symlink, synced
// appends, a whole-file replacement through a temp file of a random name, and a read that never follows a link.
import {closeSync, fstatSync, fsyncSync, ftruncateSync, writeSync} from 'node:fs'
import {dirname} from 'node:path'

import {
  makeDirectories,
  openAppendFile,
  ownDirectory,
  readStateFile,
  replaceFile,
  syncEntry,
  temporaryName,
  writeNewFile,
} from '../host/checked-fs.js'

const MY_UID = process.getuid?.() ?? -1

/** A directory of ours that nobody else may write to: made 0700 (with its parents) when missing; a symlink or another user's is refused. */
export function privateDirectory(path: string): void {
  makeDirectories(dirname(path))
  ownDirectory(path)
}

/** Opens a file of ours for appending: created exclusively (0600) when missing, never through a symlink, one name only. */
export function openPrivateAppend(path: string): number {
  const fd = openAppendFile(path, 0o600)
  const stat = fstatSync(fd)
  // A hard link elsewhere could be anyone's file: only a plain file of ours with one name is written.
  if ((MY_UID >= 0 && stat.uid !== MY_UID) || stat.nlink !== 1) {
    closeSync(fd)
    throw Object.assign(new Error(`${path} is not a private file of yours with one name`), {code: 'EPERM'})
  }

  return fd
}

/** The journal's text ('' when there is none); over its cap (host/checked-fs.ts STATE_FILES) it is unreadable. */
export function readPrivateFile(path: string): string {
  return readStateFile(path, 'journal') ?? ''
}

/** One write(2) of all of it and, when asked, an fsync: a short write is an error (a full disk). */
export function appendSynced(fd: number, text: string, sync: boolean): void {
  const data = Buffer.from(text)
  const written = writeSync(fd, data)
  if (written !== data.length) throw Object.assign(new Error('short write'), {code: 'ENOSPC'})
  if (sync) fsyncSync(fd)
}

/** Empties a file of ours through its descriptor (a journal whose every intent was closed). */
export function truncateFile(fd: number): void {
  ftruncateSync(fd)
}

/** Replaces a file of ours with this text: a new file of a random name, synced, renamed over it, the directory synced. */
export function replacePrivateFile(path: string, text: string): void {
  const temporary = temporaryName(path)
  writeNewFile(temporary, text, 0o600)
  replaceFile(temporary, path)
  syncEntry(dirname(path))
}
