// The one deleting module: moves verified directories into a private quarantine, re-checks them there on fresh
// facts, puts back whatever turned out to be in use, and deletes the rest without following a symlink or entering
// a mount point. Options in, one outcome per path out (in the manner of sindresorhus/del). Any target that deletes
// host directories (temp dirs; later $MOAT_HOME/sockets/<run-id>/) calls safeRemove and never renames or unlinks
// by itself.
import {lstatSync, mkdtempSync, readdirSync, renameSync, rmdirSync, type Stats} from 'node:fs'
import {dirname, join} from 'node:path'

import {mountPointsIn, type MountTable, readMountTable} from './mounts.js'
import {describeUse, ProcessUsage} from './proc.js'
import {shortPath} from './raw-path.js'
import {type Identity, Pacer, removeTree, type RemoveTreeHooks, sameIdentity} from './tree.js'

const MY_UID = process.getuid?.() ?? -1
/**
 * Quarantines are `moat-system-quarantine-<uid>-<random>`, made by mkdtemp: another user who creates any name in a
 * shared /tmp cannot pre-empt it, and ours are found again by prefix, owner, mode and file system. The bare
 * `moat-system-quarantine-<uid>` of older versions is still found, so what they left is finished.
 */
export const QUARANTINE_PREFIX = `moat-system-quarantine-${MY_UID}`
/** An entry moved out of the way that could not be put back under its name (it was taken): never deleted. */
export const HELD_PREFIX = 'held-'
/** Moves recorded per synced append: a few hundred moves cost a few syncs, and a SIGKILL leaves at most this many unmoved ones open. */
const RECORD_AHEAD = 32

export interface RemovalRequest {
  /** Its identity when verified: anything else found under that name is never deleted. */
  readonly expected: Identity
  /** Resolved absolute path of a directory the caller has just verified in place. */
  readonly path: string
  /** Already inside one of our quarantines (an interrupted deletion): deleted there, never moved or put back. */
  readonly quarantined?: boolean
}

export interface RemovalOutcome {
  decision: 'failed' | 'removed' | 'skipped'
  reason: string
}

export interface MovedEntry {
  /** Where it is now, inside the quarantine. */
  readonly at: string
  readonly request: RemovalRequest
}

export interface SafeRemoveHooks extends RemoveTreeHooks {
  /** With every entry moved and before the fresh facts are read: where tests start a process or mount. */
  afterMove?(moved: readonly MovedEntry[]): Promise<void> | void
  /** Just before one verified entry is moved: where tests start a container or process on a later one. */
  beforeMove?(path: string): void
}

export interface SafeRemoveOptions {
  hooks?: SafeRemoveHooks
  /** Each outcome as soon as it is known (progress, audit log); also returned at the end. */
  onOutcome?(request: RemovalRequest, outcome: RemovalOutcome): void
  /**
   * Extra facts read once with everything moved (the mounts of running containers): why an entry must not be
   * deleted, keyed by request. Throwing puts every moved entry back: what cannot be checked is kept.
   */
  recheck?(moved: readonly MovedEntry[]): Map<RemovalRequest, string> | Promise<Map<RemovalRequest, string>>
  /**
   * The write-ahead record (issue 21): called right before these requests' moves (a few at a time, one synced append
   * each). False: it could not be written; none of them nor any later one is moved (they are reported not reached).
   */
  record?(requests: readonly RemovalRequest[]): boolean
  /** After abort: the entry under way is finished, moved entries not yet begun are put back, nothing more goes. */
  signal?: AbortSignal
}

export interface QuarantineEntry {
  held: boolean
  path: string
  stat: Stats
}

interface Quarantine extends Identity {
  path: string
}

/** Our quarantines in `dir`: private (0700) directories of ours on its file system, whatever their suffix. */
export function findQuarantines(dir: string, dirStat: Identity, names: readonly string[] = readdirSync(dir)): string[] {
  return names
    .filter((name) => name === QUARANTINE_PREFIX || name.startsWith(QUARANTINE_PREFIX + '-'))
    .map((name) => join(dir, name))
    .filter((path) => privateDir(path, dirStat) !== undefined)
}

/** What a quarantine holds: interrupted deletions to finish, and held entries that are never deleted. */
export function quarantineEntries(quarantine: string): QuarantineEntry[] {
  const entries: QuarantineEntry[] = []
  for (const name of readdirSync(quarantine)) {
    const path = join(quarantine, name)
    const stat = lstatSync(path, {throwIfNoEntry: false})
    if (stat) entries.push({held: name.startsWith(HELD_PREFIX), path, stat})
  }

  return entries
}

function privateDir(path: string, parent: Identity): Stats | undefined {
  const stat = lstatSync(path, {throwIfNoEntry: false})
  // eslint-disable-next-line no-bitwise -- permission bits: no access for group or others
  if (!stat?.isDirectory() || stat.uid !== MY_UID || (stat.mode & 0o077) !== 0 || stat.dev !== parent.dev) return undefined
  return stat
}

/**
 * A fresh quarantine in `dir`: mkdtemp makes it 0700 under a random name nobody could have taken (a mkdir that fails
 * on an existing one), in a directory that is itself no symlink; then checked.
 */
function createQuarantine(dir: string): Error | Quarantine {
  let path: string
  let parent: Stats
  try {
    parent = lstatSync(dir)
    if (!parent.isDirectory()) return new Error(`cannot create a quarantine in ${dir}: not a real directory (a symlink is never followed)`)
    path = mkdtempSync(join(dir, QUARANTINE_PREFIX + '-'))
  } catch (error) {
    return new Error(`cannot create a quarantine in ${dir}: ${(error as NodeJS.ErrnoException).code ?? error}`)
  }

  const stat = privateDir(path, parent)
  if (!stat) return new Error(`quarantine ${path} is not a private directory of yours on ${dir}'s file system; refusing to use it`)
  return {dev: stat.dev, ino: stat.ino, path}
}

/**
 * Deletes these directories in four steps whose cost does not grow with a process or engine call per path:
 * 1. (the caller) verified each one in place;
 * 2. each is renamed into a private quarantine next to it (atomic: no new process or container can reach it by its
 *    old name afterwards), and checked to be the very directory that was verified;
 * 3. with everything moved, fresh facts are read once: mountinfo, every process's fds, cwd, root, executable and
 *    maps, and whatever `recheck` reads; an entry that holds a mount point or is in use is put back under its name
 *    (held in the quarantine, never deleted, when the name was taken meanwhile) and reported skipped with why;
 * 4. the rest is deleted (removeTree), never entering a mount point of the fresh mountinfo.
 */
export async function safeRemove(
  requests: readonly RemovalRequest[],
  options: SafeRemoveOptions = {},
): Promise<Map<RemovalRequest, RemovalOutcome>> {
  const outcomes = new Map<RemovalRequest, RemovalOutcome>()
  const settle = (request: RemovalRequest, outcome: RemovalOutcome) => {
    outcomes.set(request, outcome)
    options.onOutcome?.(request, outcome)
  }

  const quarantines = new Map<string, Error | Quarantine>()
  const quarantineOf = (request: RemovalRequest): Error | Quarantine => {
    const parent = dirname(request.path)
    if (request.quarantined) {
      const stat = privateDir(parent, lstatSync(dirname(parent)))
      return stat ? {dev: stat.dev, ino: stat.ino, path: parent} : new Error(`${parent} is no longer a private quarantine of yours`)
    }

    if (!quarantines.has(parent)) quarantines.set(parent, createQuarantine(parent))
    return quarantines.get(parent)!
  }

  // Step 2: move, each recorded (RECORD_AHEAD at a time) before it goes.
  const moved: Moved[] = []
  let counter = 0
  const recorded = recordAhead(requests, options.record)
  const mayMove = (index: number) => !options.signal?.aborted && recorded(index)
  for (const [index, request] of requests.entries()) {
    if (!mayMove(index)) break

    const quarantine = quarantineOf(request)
    if (quarantine instanceof Error) {
      settle(request, {decision: 'failed', reason: quarantine.message})
      continue
    }

    if (request.quarantined) {
      moved.push({at: request.path, quarantine, request})
      continue
    }

    const result = moveOne(request, quarantine, ++counter, options.hooks)
    if ('decision' in result) settle(request, result)
    else moved.push(result)
  }

  await options.hooks?.afterMove?.(moved)

  // Step 3: fresh facts, read once for every moved entry.
  const mounts = readMountTable()
  const why = await freshReasons(moved, mounts, options.recheck)

  // Step 4: delete, or put back.
  const rootsByDev = new Map<number, Set<string>>()
  const pacer = new Pacer()
  for (const entry of moved) {
    const reason = why.get(entry.request)
    if (reason) {
      settle(entry.request, setAside(entry, `drift: ${reason}`))
      continue
    }

    // eslint-disable-next-line no-await-in-loop
    await pacer.pace()
    if (options.signal?.aborted) {
      settle(entry.request, setAside(entry, 'not reached: the run was interrupted'))
      continue
    }

    const {dev} = entry.request.expected
    if (!rootsByDev.has(dev)) rootsByDev.set(dev, mounts.rootsOn(dev))
    // eslint-disable-next-line no-await-in-loop
    settle(entry.request, await deleteMoved(entry, rootsByDev.get(dev)!, pacer, options))
  }

  for (const [, quarantine] of quarantines) {
    // Left only while it holds something to finish or held; rmdir refuses a non-empty one.
    if (quarantine instanceof Error) continue
    try {
      rmdirSync(quarantine.path)
    } catch {}
  }

  for (const dir of new Set(moved.filter((entry) => entry.request.quarantined).map((entry) => dirname(entry.at)))) {
    try {
      rmdirSync(dir)
    } catch {}
  }

  return outcomes
}

type Moved = MovedEntry & {quarantine: Quarantine}

/** Whether request `index` is recorded: records it and the next ones (RECORD_AHEAD in one append) when it is not yet. */
function recordAhead(requests: readonly RemovalRequest[], record: SafeRemoveOptions['record']): (index: number) => boolean {
  let upTo = 0
  return (index) => {
    if (!record || index < upTo) return true
    upTo = index + RECORD_AHEAD
    return record(requests.slice(index, upTo))
  }
}

/** Step 2 for one entry: the checked rename into the quarantine, or the outcome when it could not be moved. */
function moveOne(request: RemovalRequest, quarantine: Quarantine, counter: number, hooks?: SafeRemoveHooks): Moved | RemovalOutcome {
  const at = join(quarantine.path, `${request.path.slice(request.path.lastIndexOf('/') + 1)}.${counter}`)
  hooks?.beforeMove?.(request.path)
  try {
    renameSync(request.path, at)
  } catch (error) {
    const {code} = (error as NodeJS.ErrnoException)
    if (code === 'ENOENT') return {decision: 'skipped', reason: 'drift: gone since the scan'}
    if (code === 'EBUSY') return {decision: 'skipped', reason: 'drift: now a mount point'}
    return {decision: 'failed', reason: `could not move into quarantine: ${code ?? error}`}
  }

  // The rename moves whatever had the name at that instant; make sure it was the directory we verified.
  const stat = lstatSync(at, {throwIfNoEntry: false})
  if (!stat?.isDirectory() || !sameIdentity(stat, request.expected)) return putBack(request, at, 'drift: replaced just before the move')
  return {at, quarantine, request}
}

/**
 * Step 3: why moved entries must not be deleted, from facts read once now: the mount table, every process, and
 * the caller's recheck. A recheck that fails gives every entry a reason: what cannot be checked is kept.
 */
async function freshReasons(
  moved: readonly Moved[],
  mounts: MountTable,
  recheck: SafeRemoveOptions['recheck'],
): Promise<Map<RemovalRequest, string>> {
  const why = new Map<RemovalRequest, string>()
  for (const entry of moved) {
    if (mounts.problem) why.set(entry.request, `could not be checked again (${mounts.problem})`)
    const inner = why.has(entry.request) ? undefined : mountPointsIn(mounts, entry.at)[0]
    if (inner) why.set(entry.request, `holds a mount point at ${shortPath(inner)}`)
  }

  const usage = ProcessUsage.read([...new Set(moved.map((entry) => entry.quarantine.path))])
  for (const entry of moved) {
    const use = why.has(entry.request) ? undefined : usage?.userOf(entry.at)
    if (use) why.set(entry.request, `in use: ${describeUse(use)}`)
  }

  if (!recheck || moved.length === 0) return why
  try {
    for (const [request, reason] of await recheck(moved)) if (!why.has(request)) why.set(request, reason)
  } catch (error) {
    for (const entry of moved) why.set(entry.request, `could not be checked again (${(error as Error).message})`)
  }

  return why
}

/** Not to be deleted: put back under its name, or, for a leftover already in quarantine, left where it is. */
function setAside(entry: Moved, reason: string): RemovalOutcome {
  if (!entry.request.quarantined) return putBack(entry.request, entry.at, reason)
  return {decision: 'skipped', reason: reason.startsWith('drift:') ? `${reason}; left in ${dirname(entry.at)}` : reason}
}

async function deleteMoved(
  entry: Moved,
  mountRoots: ReadonlySet<string>,
  pacer: Pacer,
  options: SafeRemoveOptions,
): Promise<RemovalOutcome> {
  const where = dirname(entry.at)
  try {
    const done = await removeTree(entry.at, entry.request.expected, entry.quarantine, {
      hooks: options.hooks,
      mountRoots,
      pacer,
      signal: options.signal,
    })
    if (!done) return {decision: 'skipped', reason: `interrupted part-way: the rest stays in ${where} and the next run finishes it`}
  } catch (error) {
    const {code, message} = error as NodeJS.ErrnoException
    // Promise the next run only what it can do: a permission problem stays one.
    const next = code === 'EACCES' || code === 'EPERM' ? 'this user cannot remove it' : 'the next run finishes it'
    return {decision: 'failed', reason: `deletion stopped half-way (${message}); the rest stays in ${where} and ${next}`}
  }

  return {decision: 'removed', reason: entry.request.quarantined ? 'finished an interrupted deletion' : 'removed'}
}

/**
 * Moves an entry back under its name, untouched; when the name was taken meanwhile it is held in the quarantine
 * (`held-...`), never deleted, and the outcome says where.
 */
function putBack(request: RemovalRequest, at: string, why: string): RemovalOutcome {
  // `why` reads as a reason on its own (`drift: ...`, `not reached: ...`).
  // rename() would replace an empty directory now at the name: only an absent name is reused.
  if (!lstatSync(request.path, {throwIfNoEntry: false})) {
    try {
      renameSync(at, request.path)
      return {decision: 'skipped', reason: `${why}; put back untouched`}
    } catch {}
  }

  const held = join(dirname(at), HELD_PREFIX + at.slice(at.lastIndexOf('/') + 1))
  try {
    renameSync(at, held)
  } catch {
    return {decision: 'failed', reason: `${why}, and its name was taken: left untouched at ${at}`}
  }

  return {decision: 'failed', reason: `${why}, and its name was taken: held untouched at ${held}, never deleted`}
}
