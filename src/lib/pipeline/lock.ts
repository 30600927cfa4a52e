import {hostname} from 'node:os'
import {join} from 'node:path'

import {entryStat, makeDirectory, moveEntry, randomHex, readStateFile, removeOwnTree, Unreadable, writeNewFile} from '../host/checked-fs.js'
import {processStartTime} from '../host/proc.js'

// One deleting pass at a time per MOAT_HOME and user. Node has no flock, so the lock is a directory created with
// mkdir (atomic) holding the owner's PID and process start time; a lock whose owner is gone (or whose PID now
// belongs to another process) is stale and is taken over. Both are created by this tool (host/checked-fs.ts): the
// directory by a mkdir that fails on any existing name, the owner file with O_EXCL|O_NOFOLLOW.

export const LOCK_NAME = '.moat-system.lock'

/** A lock that is held longer than this is reported with how to clear it (a clean pass takes seconds to minutes). */
export const STUCK_LOCK_MS = 3_600_000

/** The lock cannot be taken or judged at all (not ours, not writable): one clear line, nothing moved aside. */
export class LockError extends Error {
  override name = 'LockError'
}

export interface LockOwner {
  command: string
  host: string
  pid: number
  /** Kernel start time of the owner (/proc/<pid>/stat field 22), to tell a reused PID from the owner. */
  processStart?: string
  startedAt: string
}

export interface HeldLock {
  release(): void
}

export function ownerAlive(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return true // cannot tell: assume alive
  try {
    process.kill(owner.pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false
  }

  const start = processStartTime(owner.pid)
  return !(owner.processStart && start && start !== owner.processStart)
}

/**
 * The lock's owner: undefined while its file does not exist yet (between the mkdir and the write). One that exists and
 * cannot be read (EACCES, a FIFO, a symlink, a half-written or foreign file) is an owner that cannot be told dead:
 * `unknown`, never taken over.
 */
function readOwner(dir: string): LockOwner | undefined | {unknown: string} {
  const path = join(dir, 'owner.json')
  try {
    const text = readStateFile(path, 'lock owner.json')
    // Empty: made and not yet written, one syscall before its text.
    if (text === undefined || text === '') return undefined
    const owner = JSON.parse(text) as LockOwner
    if (owner && typeof owner.pid === 'number' && typeof owner.startedAt === 'string') return owner
    return {unknown: `${path} names no owner`}
  } catch (error) {
    return {unknown: error instanceof Unreadable ? error.message : `${path} does not parse`}
  }
}

function known(owner: ReturnType<typeof readOwner>): LockOwner | undefined {
  return owner && 'unknown' in owner ? undefined : owner
}

export type LockAttempt = {held: HeldLock; ok: true} | {ok: false; owner?: LockOwner}

/** How long a lock directory may lack its owner file before its creator is taken to have died in between. */
const OWNERLESS_GRACE_MS = 10_000

export function lockDirOf(lockParent: string): string {
  return join(lockParent, LOCK_NAME)
}

/**
 * One attempt: take the lock in `lockParent` (the moat home, which must exist: it is never created here), or take
 * over a stale one, or report who holds it.
 */
export function tryLock(lockParent: string, command: string): LockAttempt {
  const dir = lockDirOf(lockParent)
  const owner: LockOwner = {
    command,
    host: hostname(),
    pid: process.pid,
    processStart: processStartTime(process.pid),
    startedAt: new Date().toISOString(),
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      if (makeDirectory(dir)) {
        writeNewFile(join(dir, 'owner.json'), JSON.stringify(owner), 0o600)
        const release = () => {
          // Only our own lock: a takeover after we were judged stale must not be undone by us.
          const now = known(readOwner(dir))
          if (now?.pid === owner.pid && now.startedAt === owner.startedAt) removeOwnTree(dir)
        }

        return {held: {release}, ok: true}
      }
    } catch (error) {
      const {code} = error as NodeJS.ErrnoException
      throw new LockError(`cannot take the clean lock ${dir} (${code ?? (error as Error).message}): ${lockParent} must be a directory this user can write`)
    }

    // Another user's lock can be neither read nor removed by us: never move it aside (it would stay as .stale-*).
    const uid = process.getuid?.()
    const stat = lockStat(dir)
    if (stat && uid !== undefined && uid !== 0 && stat.uid !== uid) {
      throw new LockError(
        `the clean lock ${dir} belongs to another user (uid ${stat.uid}): a clean of theirs may be running; if none is, they or root must remove it`,
      )
    }

    const found = readOwner(dir)
    // An owner file that exists and cannot be read is an owner that cannot be told dead: never taken over.
    if (found && 'unknown' in found) return {ok: false}
    const current = found ?? ownerOfNewLock(dir)
    if (current ? ownerAlive(current) : !ownerlessTooLong(dir)) return {ok: false, owner: current}
    const taken = moveStaleAside(dir, current)
    if (taken) return taken
  }

  return {ok: false, owner: known(readOwner(dir))}
}

/**
 * A stale lock moved aside atomically and removed; only one taker wins the rename. If what was moved is not the
 * stale lock (another taker already replaced it), it is put back and its owner returned. Undefined: try again.
 */
function moveStaleAside(dir: string, stale: LockOwner | undefined): LockAttempt | undefined {
  const aside = `${dir}.stale-${randomHex(4)}`
  try {
    moveEntry(dir, aside)
  } catch {
    return undefined
  }

  const moved = known(readOwner(aside))
  if (moved && (moved.pid !== stale?.pid || moved.startedAt !== stale.startedAt)) {
    try {
      moveEntry(aside, dir)
    } catch {}

    return {ok: false, owner: moved}
  }

  removeOwnTree(aside)
  return undefined
}

/** The lock dir's lstat (undefined: gone); anything but a directory there is not a lock this tool made. */
function lockStat(dir: string) {
  let stat
  try {
    stat = entryStat(dir)
  } catch (error) {
    throw new LockError(`cannot check the clean lock: ${(error as Error).message}`)
  }

  if (stat && !stat.isDirectory()) throw new LockError(`the clean lock ${dir} is not a directory this tool made (${stat.isSymbolicLink() ? 'a symlink' : 'a file'}): remove it and run again`)
  return stat
}

/** How long a run that finds a lock without its owner file waits for the file: its creator is between two syscalls. */
const NEW_LOCK_WAIT_MS = 200
const pause = new Int32Array(new SharedArrayBuffer(4))

/**
 * The owner of a lock made a moment ago: mkdir and the owner file's write are two steps, and a run started at the
 * same instant can look in between (seen on a 2-core machine); the loser then reports who holds the lock.
 */
function ownerOfNewLock(dir: string): LockOwner | undefined {
  const deadline = Date.now() + NEW_LOCK_WAIT_MS
  while (Date.now() < deadline && lockStat(dir) && !ownerlessTooLong(dir)) {
    Atomics.wait(pause, 0, 0, 5)
    const owner = known(readOwner(dir))
    if (owner) return owner
  }

  return undefined
}

/** A lock dir without an owner file is being created right now, or its creator died in between. */
function ownerlessTooLong(dir: string): boolean {
  const stat = lockStat(dir)
  return stat !== undefined && Date.now() - stat.mtimeMs > OWNERLESS_GRACE_MS
}

/** Waits up to `timeoutMs` (0: one attempt) for the lock. */
export async function acquireLock(lockParent: string, command: string, timeoutMs: number): Promise<LockAttempt> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const attempt = tryLock(lockParent, command)
    if (attempt.ok || Date.now() >= deadline) return attempt
    // eslint-disable-next-line no-await-in-loop
    await new Promise((resolve) => {
      setTimeout(resolve, Math.min(250, Math.max(10, deadline - Date.now())))
    })
  }
}
