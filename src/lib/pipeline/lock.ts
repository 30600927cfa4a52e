import {lstatSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {hostname} from 'node:os'
import {join} from 'node:path'

// One deleting pass at a time per MOAT_HOME and user. Node has no flock, so the lock is a directory created with
// mkdir (atomic) holding the owner's PID and process start time; a lock whose owner is gone (or whose PID now
// belongs to another process) is stale and is taken over.

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

function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Field 2 (comm) may hold spaces and parentheses: count fields after its closing parenthesis.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

export function ownerAlive(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return true // cannot tell: assume alive
  try {
    process.kill(owner.pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false
  }

  const start = processStart(owner.pid)
  return !(owner.processStart && start && start !== owner.processStart)
}

function readOwner(dir: string): LockOwner | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'owner.json'), 'utf8')) as LockOwner
  } catch {
    return undefined
  }
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
    processStart: processStart(process.pid),
    startedAt: new Date().toISOString(),
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      mkdirSync(dir, {mode: 0o700})
      writeFileSync(join(dir, 'owner.json'), JSON.stringify(owner))
      const release = () => {
        // Only our own lock: a takeover after we were judged stale must not be undone by us.
        const now = readOwner(dir)
        if (now?.pid === owner.pid && now.startedAt === owner.startedAt) rmSync(dir, {force: true, recursive: true})
      }

      return {held: {release}, ok: true}
    } catch (error) {
      const {code} = error as NodeJS.ErrnoException
      if (code !== 'EEXIST') {
        throw new LockError(`cannot take the clean lock ${dir} (${code}): ${lockParent} must be a directory this user can write`)
      }
    }

    // Another user's lock can be neither read nor removed by us: never move it aside (it would stay as .stale-*).
    const uid = process.getuid?.()
    const stat = lstatSync(dir, {throwIfNoEntry: false})
    if (stat && uid !== undefined && uid !== 0 && stat.uid !== uid) {
      throw new LockError(
        `the clean lock ${dir} belongs to another user (uid ${stat.uid}): a clean of theirs may be running; if none is, they or root must remove it`,
      )
    }

    const current = readOwner(dir) ?? ownerOfNewLock(dir)
    if (current ? ownerAlive(current) : !ownerlessTooLong(dir)) return {ok: false, owner: current}
    // Stale: move it aside atomically; only one taker wins the rename. If what was moved is not the stale lock
    // (another taker already replaced it), put it back.
    // node:crypto only here, for a stale lock: loading it costs every run some 2 ms of start-up.
    const {randomBytes} = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto')
    const aside = `${dir}.stale-${randomBytes(4).toString('hex')}`
    try {
      renameSync(dir, aside)
    } catch {
      continue
    }

    const moved = readOwner(aside)
    if (moved && (moved.pid !== current?.pid || moved.startedAt !== current.startedAt)) {
      try {
        renameSync(aside, dir)
      } catch {}

      return {ok: false, owner: moved}
    }

    rmSync(aside, {force: true, recursive: true})
  }

  return {ok: false, owner: readOwner(dir)}
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
  while (Date.now() < deadline && lstatSync(dir, {throwIfNoEntry: false}) && !ownerlessTooLong(dir)) {
    Atomics.wait(pause, 0, 0, 5)
    const owner = readOwner(dir)
    if (owner) return owner
  }

  return undefined
}

/** A lock dir without an owner file is being created right now, or its creator died in between. */
function ownerlessTooLong(dir: string): boolean {
  const stat = lstatSync(dir, {throwIfNoEntry: false})
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
