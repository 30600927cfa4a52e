import {randomBytes} from 'node:crypto'
import {lstatSync, mkdirSync, readdirSync, realpathSync, renameSync, rmdirSync, type Stats} from 'node:fs'
import {delimiter, join} from 'node:path'

import type {PlannedItem, Settle, Target, TargetContext} from '../pipeline/pipeline.js'

import {formatAge, formatDuration} from '../duration.js'
import {InputError} from '../exit-codes.js'
import {describeUse, ProcessUsage} from '../host/proc.js'
import {type Identity, readMountPoints, removeTree, type RemoveTreeHooks, sameIdentity, walkTree} from '../host/tree.js'
import {type BindMount, DockerCli} from '../runtime/docker.js'

export interface TempPattern {
  glob: string
  holds: string
  test: RegExp
}

// moat-resources.md §1.1: every os.MkdirTemp pattern moat uses. The random part Go substitutes for `*` is a
// decimal number, so a look-alike such as `moat-build-cache` is never a candidate.
export const TEMP_PATTERNS: readonly TempPattern[] = [
  {glob: 'moat-aws-*', holds: 'AWS credential helper', test: /^moat-aws-\d+$/},
  {glob: 'agentops-aws-*', holds: 'AWS credential helper (legacy name)', test: /^agentops-aws-\d+$/},
  {glob: 'moat-claude-*', holds: 'Claude Code staging (credentials, settings)', test: /^moat-claude-\d+$/},
  // §1.2: the name moat's own clean-temp looks for; kept so dirs of older moat versions are found too.
  {glob: 'moat-claude-staging-*', holds: 'Claude Code staging (older name)', test: /^moat-claude-staging-\d+$/},
  {glob: 'moat-codex-staging-*', holds: 'Codex staging (auth.json, config)', test: /^moat-codex-staging-\d+$/},
  {glob: 'moat-gemini-staging-*', holds: 'Gemini staging (settings, OAuth creds)', test: /^moat-gemini-staging-\d+$/},
  {glob: 'moat-copilot-staging-*', holds: 'Copilot staging (config)', test: /^moat-copilot-staging-\d+$/},
  {glob: 'moat-pi-staging-*', holds: 'Pi staging (runtime context)', test: /^moat-pi-staging-\d+$/},
  {glob: 'moat-npm-*', holds: 'npm stub .npmrc', test: /^moat-npm-\d+$/},
  {glob: 'moat-build-*', holds: 'image build context', test: /^moat-build-\d+$/},
  {glob: 'moat-marketplace-*', holds: 'Claude plugin marketplace clone', test: /^moat-marketplace-\d+$/},
  {glob: 'moat-vol-snap-<digits>', holds: 'volume snapshot export', test: /^moat-vol-snap-\d+$/},
  {glob: 'moat-doctor-proxy-*', holds: 'moat doctor throwaway CA', test: /^moat-doctor-proxy-\d+$/},
  {glob: 'moat-doctor-*', holds: 'moat doctor workspace', test: /^moat-doctor-\d+$/},
]

const QUARANTINE_PREFIX = 'moat-system-quarantine-'
/** Entries of the quarantine that were moved back out of a race and could not be restored: never deleted. */
const HELD_PREFIX = 'held-'
/** How stale the picture of which processes use which paths may get while deleting. */
const USAGE_REFRESH_MS = 200
const YIELD_EVERY_MS = 20

export function matchPattern(name: string): TempPattern | undefined {
  // Cheap prefix test first: a tmp dir may hold 100,000 unrelated names.
  if (!name.startsWith('moat-') && !name.startsWith('agentops-')) return undefined
  return TEMP_PATTERNS.find((pattern) => pattern.test.test(name))
}

export interface TempDirOptions {
  /** Apple containers may run here; their mounts cannot be checked, which the user is told once. */
  apple: boolean
  /** Check bind mounts of running Docker containers (false for `--runtime apple`). */
  docker: boolean
  /** Test hooks inside the deletion of one tree. */
  removeHooks?: RemoveTreeHooks
  /** Directories to scan; default `$TMPDIR` and `/tmp` (moat-resources.md §1.1, §10.6). */
  roots?: readonly string[]
}

interface Root {
  path: string
  stat: Stats
}

interface Scanned {
  facts?: ReturnType<typeof walkTree>
  path: string
  pattern: TempPattern | undefined
  quarantined: boolean
  root: Root
  stat: Stats
}

export interface TempFingerprint extends Identity {
  newestMtimeMs: number
  quarantined: boolean
  root: Root
  uid: number
}

export function defaultTempRoots(env: NodeJS.ProcessEnv = process.env): string[] {
  // Go's os.TempDir(): $TMPDIR, else /tmp. A run started with another $TMPDIR still used /tmp or vice versa.
  return [env.TMPDIR || '/tmp', '/tmp']
}

// Asked once: the scan compares it against every entry of a tmp dir that may hold 100,000.
const MY_UID = process.getuid?.() ?? -1
const QUARANTINE_NAME = QUARANTINE_PREFIX + MY_UID

export class TempDirTarget implements Target<Scanned, TempFingerprint> {
  readonly kind = 'temp'
  readonly noun = ['temporary directory', 'temporary directories'] as const

  constructor(private readonly options: TempDirOptions) {}

  async classify(ctx: TargetContext, scanned: Scanned[]): Promise<PlannedItem<TempFingerprint>[]> {
    const mountPoints = scanned.length > 0 ? readMountPoints() : new Set<string>()
    const items = scanned.map((entry) => this.judgeOnDisk(ctx, entry, mountPoints))
    const unused = items.filter((item) => item.decision === 'orphan' && !item.fingerprint.quarantined)
    if (unused.length === 0) return items

    const usage = ProcessUsage.read()
    if (!usage) ctx.warn('No /proc here: cannot tell whether a process uses a temp dir; relying on age alone.')
    const mounts = await this.bindMounts(ctx)
    if (this.options.apple) ctx.warn('Bind mounts of Apple containers are not checked; relying on age and open files.')
    for (const item of unused) {
      const busy = inUse(item.id, usage, mounts)
      if (busy) keep(item, busy)
    }

    return items
  }

  async remove(ctx: TargetContext, items: PlannedItem<TempFingerprint>[], settle: Settle): Promise<void> {
    let usage = ProcessUsage.read()
    let usageReadAt = Date.now()
    const mounts = await this.bindMounts(ctx)
    const quarantines = new Map<string, Error | Identity>()
    let yieldedAt = Date.now()
    for (const item of items) {
      // The walk and deletion are synchronous: let signal handlers run now and then, so a stop request is seen.
      if (Date.now() - yieldedAt > YIELD_EVERY_MS) {
        // eslint-disable-next-line no-await-in-loop
        await new Promise((resolve) => {
          setImmediate(resolve)
        })
        yieldedAt = Date.now()
      }

      if (ctx.signal?.aborted) break
      const {fingerprint} = item
      if (!quarantines.has(fingerprint.root.path)) {
        quarantines.set(fingerprint.root.path, openQuarantine(fingerprint.root))
      }

      const quarantine = quarantines.get(fingerprint.root.path)!
      if (quarantine instanceof Error) {
        settle(item, 'failed', quarantine.message)
        continue
      }

      if (Date.now() - usageReadAt > USAGE_REFRESH_MS) {
        usage = ProcessUsage.read()
        usageReadAt = Date.now()
      }

      const drift = this.drift(ctx, item, usage, mounts)
      if (drift) {
        settle(item, 'skipped', `drift: ${drift}`)
        continue
      }

      const outcome = this.removeOne(item, quarantine)
      settle(item, outcome.decision, outcome.reason)
    }

    for (const [root, quarantine] of quarantines) {
      // Left only while it holds something to finish; rmdir refuses a non-empty one.
      if (quarantine instanceof Error) continue
      try {
        rmdirSync(join(root, QUARANTINE_NAME))
      } catch {}
    }
  }

  async scan(_ctx: TargetContext): Promise<Scanned[]> {
    const found: Scanned[] = []
    for (const root of this.roots()) {
      for (const name of readdirSync(root.path)) {
        if (name === QUARANTINE_NAME) {
          found.push(...scanQuarantine(root, join(root.path, name)))
          continue
        }

        const pattern = matchPattern(name)
        if (!pattern) continue
        const path = join(root.path, name)
        const stat = lstatSync(path, {throwIfNoEntry: false})
        if (!stat) continue
        const mine = stat.isDirectory() && stat.uid === MY_UID
        found.push({facts: mine ? walkTree(path, stat) : undefined, path, pattern, quarantined: false, root, stat})
      }
    }

    return found
  }

  private async bindMounts(ctx: TargetContext): Promise<BindMount[]> {
    if (!this.options.docker) return []
    if (DockerCli.obviouslyAbsent()) {
      ctx.warn('No Docker engine configured (no DOCKER_HOST, context or /var/run/docker.sock): bind mounts not checked.')
      return []
    }

    try {
      return await new DockerCli().runningBindMounts()
    } catch (error) {
      // Not an error for this command: the engine is only a safety check here.
      ctx.warn(`Docker engine not reachable, bind mounts of running containers not checked: ${(error as Error).message}`)
      return []
    }
  }

  private drift(
    ctx: TargetContext,
    item: PlannedItem<TempFingerprint>,
    usage: ProcessUsage | undefined,
    mounts: BindMount[],
  ): string | undefined {
    const {fingerprint} = item
    const stat = lstatSync(item.id, {throwIfNoEntry: false})
    if (!stat) return 'gone since the scan'
    if (stat.isSymbolicLink()) return 'now a symlink'
    if (!stat.isDirectory()) return 'no longer a directory'
    if (!sameIdentity(stat, fingerprint)) return 'replaced by another directory of the same name since the scan'
    if (stat.uid !== fingerprint.uid) return `owner changed to uid ${stat.uid}`
    if (fingerprint.quarantined) return undefined
    const facts = walkTree(item.id, stat)
    if (facts.error) return `could not re-read the tree (${facts.error})`
    if (facts.crossesDevice) return `a mount point appeared at ${facts.crossesDevice}`
    if (facts.newestMtimeMs > ctx.cutoffMs || facts.newestMtimeMs > fingerprint.newestMtimeMs) {
      return `modified since the scan (${facts.newestPath})`
    }

    return inUse(item.id, usage, mounts)
  }

  private judgeOnDisk(ctx: TargetContext, entry: Scanned, mountPoints: Set<string>): PlannedItem<TempFingerprint> {
    const {facts, path, pattern, stat} = entry
    const item: PlannedItem<TempFingerprint> = {
      ageMs: facts ? ctx.now - facts.newestMtimeMs : ctx.now - stat.mtimeMs,
      bytes: facts?.bytes ?? 0,
      decision: 'orphan',
      details: {holds: pattern?.holds ?? 'left by an interrupted clean', pattern: pattern?.glob ?? 'quarantine'},
      fingerprint: {
        dev: stat.dev,
        ino: stat.ino,
        newestMtimeMs: facts?.newestMtimeMs ?? stat.mtimeMs,
        quarantined: entry.quarantined,
        root: entry.root,
        uid: stat.uid,
      },
      id: path,
      name: path,
      reason: entry.quarantined ? 'left in quarantine by an interrupted clean' : 'orphan',
    }
    const unsafe = unsafeToRemove(entry, mountPoints)
    if (unsafe) return keep(item, unsafe)
    if (facts && !entry.quarantined && facts.newestMtimeMs > ctx.cutoffMs) {
      const where = facts.newestPath === '.' ? 'the directory itself' : facts.newestPath
      return keep(item, `young: ${where} modified ${formatAge(ctx.now - facts.newestMtimeMs)} ago (--min-age ${formatDuration(ctx.minAgeMs)})`)
    }

    return item
  }

  private removeOne(
    item: PlannedItem<TempFingerprint>,
    quarantine: Identity,
  ): {decision: 'failed' | 'removed' | 'skipped'; reason: string} {
    const {fingerprint} = item
    const quarantinePath = join(fingerprint.root.path, QUARANTINE_NAME)
    let target = item.id
    if (!fingerprint.quarantined) {
      target = join(quarantinePath, `${item.id.slice(item.id.lastIndexOf('/') + 1)}.${randomBytes(4).toString('hex')}`)
      try {
        renameSync(item.id, target)
      } catch (error) {
        const {code} = (error as NodeJS.ErrnoException)
        if (code === 'ENOENT') return {decision: 'skipped', reason: 'drift: gone since the scan'}
        return {decision: 'failed', reason: `could not move into quarantine: ${code ?? error}`}
      }

      // The rename moves whatever had the name at that instant; make sure it was the directory we verified.
      const moved = lstatSync(target, {throwIfNoEntry: false})
      if (!moved || !moved.isDirectory() || !sameIdentity(moved, fingerprint)) return restore(item.id, target)
    }

    try {
      removeTree(target, fingerprint, quarantine, this.options.removeHooks)
    } catch (error) {
      return {
        decision: 'failed',
        reason: `deletion stopped half-way (${(error as Error).message}); the rest stays in ${quarantinePath} and the next run finishes it`,
      }
    }

    return {decision: 'removed', reason: fingerprint.quarantined ? 'finished an interrupted deletion' : 'removed'}
  }

  private roots(): Root[] {
    const seen: Root[] = []
    const explicit = this.options.roots !== undefined
    for (const candidate of this.options.roots ?? defaultTempRoots()) {
      let path: string
      let stat: Stats
      try {
        path = realpathSync(candidate)
        stat = lstatSync(path)
      } catch (error) {
        if (explicit) throw new InputError(`--tmp-dir: cannot read ${candidate} (${(error as NodeJS.ErrnoException).code}); give an existing directory, e.g. --tmp-dir /var/tmp`)
        continue
      }

      if (!stat.isDirectory()) {
        if (explicit) throw new InputError(`--tmp-dir: ${candidate} is not a directory; give a directory, e.g. --tmp-dir /var/tmp`)
        continue
      }

      if (!seen.some((root) => sameIdentity(root.stat, stat))) seen.push({path, stat})
    }

    return seen
  }
}

/** Why this entry is not a plain, readable directory tree of ours that may be removed at all. */
function unsafeToRemove({facts, path, root, stat}: Scanned, mountPoints: Set<string>): string | undefined {
  if (stat.isSymbolicLink()) return 'symlink: never followed'
  if (!stat.isDirectory()) return 'not a directory'
  if (stat.uid !== MY_UID) return `owned by uid ${stat.uid}, not by you`
  if (stat.dev !== root.stat.dev || mountPoints.has(path)) return 'a mount point'
  if (!facts) return 'not scanned'
  if (facts.error) return `could not read the whole tree (${facts.error})`
  if (facts.crossesDevice) return `holds a mount point at ${facts.crossesDevice}`
  const inner = [...mountPoints].find((point) => point.startsWith(path + '/'))
  if (inner) return `holds a mount point at ${inner}`
  return undefined
}

function keep<T extends PlannedItem>(item: T, reason: string): T {
  item.decision = 'kept'
  item.reason = reason
  return item
}

function inUse(path: string, usage: ProcessUsage | undefined, mounts: readonly BindMount[]): string | undefined {
  const use = usage?.userOf(path)
  if (use) return `in use: ${describeUse(use)}`
  // A mount of the dir, of something inside it, or of a parent (the BuildKit sidecar mounts all of /tmp, §3.1).
  const mount = mounts.find(
    (m) => m.source === path || m.source.startsWith(path + '/') || path.startsWith(m.source.replace(/\/$/, '') + '/'),
  )
  if (mount) return `bind-mounted into running container ${mount.container} (${mount.source})`
  return undefined
}

/** The private directory deletions go through: ours, 0700, a real directory on the root's file system. */
function openQuarantine(root: Root): Error | Identity {
  const path = join(root.path, QUARANTINE_NAME)
  try {
    mkdirSync(path, {mode: 0o700})
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      return new Error(`cannot create quarantine ${path}: ${(error as NodeJS.ErrnoException).code}`)
    }
  }

  const stat = lstatSync(path)
  // eslint-disable-next-line no-bitwise -- permission bits: no access for group or others
  if (!stat.isDirectory() || stat.uid !== MY_UID || (stat.mode & 0o077) !== 0 || stat.dev !== root.stat.dev) {
    return new Error(`quarantine ${path} is not a private directory of yours on ${root.path}'s file system; refusing to use it`)
  }

  return stat
}

function restore(original: string, moved: string): {decision: 'failed' | 'skipped'; reason: string} {
  if (!lstatSync(original, {throwIfNoEntry: false})) {
    try {
      renameSync(moved, original)
      return {decision: 'skipped', reason: 'drift: replaced just before the move; put back untouched'}
    } catch {}
  }

  const held = join(moved, '..', HELD_PREFIX + moved.slice(moved.lastIndexOf('/') + 1))
  try {
    renameSync(moved, held)
  } catch {}

  return {decision: 'failed', reason: `replaced just before the move and could not be put back: left untouched at ${held}`}
}

function scanQuarantine(root: Root, path: string): Scanned[] {
  const stat = lstatSync(path, {throwIfNoEntry: false})
  if (!stat?.isDirectory() || stat.uid !== MY_UID) return []
  const found: Scanned[] = []
  for (const name of readdirSync(path)) {
    if (name.startsWith(HELD_PREFIX)) continue
    const entry = join(path, name)
    const entryStat = lstatSync(entry, {throwIfNoEntry: false})
    if (!entryStat) continue
    const facts = entryStat.isDirectory() ? walkTree(entry, entryStat) : undefined
    found.push({facts, path: entry, pattern: undefined, quarantined: true, root, stat: entryStat})
  }

  return found
}

/** `container` on PATH means this host may run Apple containers, whose mounts this command cannot see. */
export function appleCliPresent(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      return lstatSync(join(dir, 'container')).isFile()
    } catch {
      return false
    }
  })
}
