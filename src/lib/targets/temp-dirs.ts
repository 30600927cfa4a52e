import type {Stats} from 'node:fs'

import {join} from 'node:path'

import type {IntentPlace} from '../pipeline/intents.js'
import type {PlannedItem, Settle, Target, TargetContext} from '../pipeline/pipeline.js'
import type {HostMount, MountProbe} from '../runtime/types.js'

import {formatAge, formatDuration} from '../duration.js'
import {InputError} from '../exit-codes.js'
import {entryStat} from '../host/checked-fs.js'
import {expandDirGlobs, hasGlobMagic, resolveDirectory} from '../host/dir-globs.js'
import {mountPointsIn, type MountTable, readMountTable, resolveHostPath} from '../host/mounts.js'
import {describeUse, ProcessUsage} from '../host/proc.js'
import {namesWhere, shortPath} from '../host/raw-path.js'
import {
  findQuarantines,
  type MovedEntry,
  quarantineEntries,
  type RemovalRequest,
  safeRemove,
  type SafeRemoveHooks,
} from '../host/safe-remove.js'
import {type Identity, sameIdentity, type TreeFacts, walkTree} from '../host/tree.js'
import {readRunEngines} from '../moat/engines.js'
import {AppleCli} from '../runtime/apple.js'
import {addressesOf, describeAddresses, dockerEngines} from '../runtime/engines.js'

export interface TempPattern {
  /** Environment variables that make a process a user of the dir they point at. */
  environ?: readonly string[]
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
  // §11: since fccdf982. The private CODEX_HOME of `moat grant codex` holds live ChatGPT tokens and is in use while
  // a codex process runs with CODEX_HOME pointing at it, even with no file open.
  {environ: ['CODEX_HOME'], glob: 'moat-codex-login-*', holds: 'Codex login home (live ChatGPT tokens)', test: /^moat-codex-login-\d+$/},
  {glob: 'moat-kiro-staging-*', holds: 'Kiro staging', test: /^moat-kiro-staging-\d+$/},
  {glob: 'moat-gh-config-*', holds: 'GitHub CLI config staging (older moat versions)', test: /^moat-gh-config-\d+$/},
  {glob: 'moat-init-gate<digits>', holds: 'moat-init build gate', test: /^moat-init-gate\d+$/},
]

/**
 * The write-ahead record of host deletions through safeRemove (issue 21): a move into the quarantine, or the deletion
 * of an entry already in one, with the identity a later pass looks for there or in place.
 */
export function recordMoves(ctx: TargetContext, entries: ReadonlyArray<{item: PlannedItem; request: RemovalRequest}>): boolean {
  const place = (request: RemovalRequest): IntentPlace => ({dev: request.expected.dev, engine: 'host', ino: request.expected.ino, object: 'dir'})
  const of = (quarantined: boolean) => entries.filter(({request}) => Boolean(request.quarantined) === quarantined).map(({item, request}) => ({item, place: place(request)}))
  const moves = of(false)
  const finishes = of(true)
  return (moves.length === 0 || ctx.intend('quarantine', moves)) && (finishes.length === 0 || ctx.intend('remove', finishes))
}

/** Every variable some pattern watches: a process environment is read only when a candidate needs it. */
function environOf(items: ReadonlyArray<PlannedItem<TempFingerprint>>): string[] {
  return [...new Set(items.flatMap((item) => matchPattern(item.id.slice(item.id.lastIndexOf('/') + 1))?.environ ?? []))]
}

const YIELD_EVERY_MS = 20

export function matchPattern(name: string): TempPattern | undefined {
  if (!mayMatter(name)) return undefined
  return TEMP_PATTERNS.find((pattern) => pattern.test.test(name))
}

/** A cheap prefix test for every name a scan looks at (the patterns, and our quarantines): a tmp dir may hold a million unrelated names. */
function mayMatter(name: string): boolean {
  return name.startsWith('moat-') || name.startsWith('agentops-')
}


export interface TempDirOptions {
  /** Check the mounts of Apple containers (when the `container` CLI is present). */
  apple: boolean
  /** Check the bind mounts of Docker containers (of every engine of the set that is there; false for `--runtime apple`). */
  docker: boolean
  /**
   * `--runtime docker` or `apple`: when no engine of it is there at all, every candidate is kept (it was asked for and
   * cannot be asked); only `--runtime auto` on a host without any runtime decides on age and process use alone.
   */
  explicit?: 'apple' | 'docker'
  /** Also ask the engines this moat home's runs used (moat-resources.md §11, §12.1). */
  moatHome?: string
  /** The runtimes to ask instead of the docker and Apple CLIs (tests). */
  probes?: readonly MountProbe[]
  /** Test hooks inside the deletion (host/safe-remove.ts). */
  removeHooks?: SafeRemoveHooks
  /** Directories to scan, or globs of them; default `$TMPDIR` and `/tmp` (moat-resources.md §1.1, §10.6). */
  roots?: readonly string[]
}

interface Root extends Identity {
  path: string
}

interface Scanned {
  facts?: ReturnType<typeof walkTree>
  /** Held in a quarantine after a put-back failed: reported, never deleted. */
  held?: boolean
  path: string
  pattern: TempPattern | undefined
  quarantined: boolean
  root: Root
  stat: Stats
}

export interface TempFingerprint extends Identity {
  newestMtimeMs: number
  /** The path it had before a move into quarantine (what a container's mount source names). */
  origin: string
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

/**
 * The mounts of running containers of every runtime to check, with which were asked (none: no runtime on this host),
 * or why one of them could not be asked.
 */
type ContainerMounts = {asked: string[]; mounts: ResolvedMount[]} | {unreachable: string}

interface ResolvedMount extends HostMount {
  resolved: string
}

export class TempDirTarget implements Target<Scanned, TempFingerprint> {
  readonly kind = 'temp'
  readonly noun = ['temporary directory', 'temporary directories'] as const
  /** --tmp-dir globs, expanded afresh at every scan (a reaper's pass sees users who logged in since). */
  private readonly globs: readonly string[]
  private readonly literalRoots: readonly string[]
  private readonly probes: readonly MountProbe[]
  private rootPaths: readonly string[]

  /** Throws InputError for a --tmp-dir that is empty, missing or not a directory: before any lock or engine. */
  constructor(private readonly options: TempDirOptions) {
    this.globs = options.roots?.filter((root) => hasGlobMagic(root)) ?? []
    this.literalRoots = resolveRoots(options.roots?.filter((root) => !hasGlobMagic(root)))
    this.rootPaths = this.literalRoots
    this.probes = options.probes ?? defaultProbes(options)
  }

  async classify(ctx: TargetContext, scanned: Scanned[]): Promise<PlannedItem<TempFingerprint>[]> {
    const mountTable = scanned.length > 0 ? readMountTable() : undefined
    const items = scanned.map((entry) => this.judgeOnDisk(ctx, entry, mountTable!))
    const orphans = items.filter((item) => item.decision === 'orphan')
    if (orphans.length === 0) return items

    const usage = ProcessUsage.read(this.rootPaths, environOf(orphans))
    if (!usage) ctx.warn('No /proc here: cannot tell whether a process uses a temp dir; relying on age and container mounts.')
    const mounts = await this.containerMounts(ctx)
    for (const item of orphans) {
      const busy = 'unreachable' in mounts ? mounts.unreachable : inUse(item, usage, mounts.mounts)
      if (busy) keep(item, busy)
      else if (!('unreachable' in mounts)) explainUnused(item, usage, mounts.asked)
    }

    return items
  }

  async remove(ctx: TargetContext, items: PlannedItem<TempFingerprint>[], settle: Settle): Promise<void> {
    // Step 1 (issue 9): each one re-verified in place, on raw names.
    const requests = new Map<RemovalRequest, PlannedItem<TempFingerprint>>()
    let yieldedAt = Date.now()
    for (const item of items) {
      // The walks are synchronous: let signal handlers run now and then, so a stop request is seen.
      if (Date.now() - yieldedAt > YIELD_EVERY_MS) {
        // eslint-disable-next-line no-await-in-loop
        await new Promise((resolve) => {
          setImmediate(resolve)
        })
        yieldedAt = Date.now()
      }

      if (ctx.signal?.aborted) return
      const drift = this.drift(ctx, item)
      if (drift) {
        settle(item, 'skipped', `drift: ${drift}`)
        continue
      }

      const {fingerprint} = item
      requests.set({expected: fingerprint, path: item.id, quarantined: fingerprint.quarantined}, item)
    }

    // A variable naming the dir still names its old path after the move: checked here, in place, once for all.
    const environ = environOf([...requests.values()])
    const named = environ.length > 0 ? ProcessUsage.read(this.rootPaths, environ) : undefined
    for (const [request, item] of requests) {
      const use = named?.userOf(item.id)
      if (!use?.how.startsWith('env ')) continue
      settle(item, 'skipped', `drift: in use: ${describeUse(use)}`)
      requests.delete(request)
    }

    // Steps 2-4: moved into quarantine, checked there once on fresh facts, deleted or put back.
    await safeRemove([...requests.keys()], {
      hooks: this.options.removeHooks,
      onOutcome: (request, outcome) => settle(requests.get(request)!, outcome.decision, outcome.reason),
      recheck: async (moved) => this.recheckMounts(ctx, moved, requests),
      record: (chunk) => recordMoves(ctx, chunk.map((request) => ({item: requests.get(request)!, request}))),
      signal: ctx.signal,
    })
  }

  async scan(ctx: TargetContext): Promise<Scanned[]> {
    if (this.globs.length > 0) this.rootPaths = [...this.literalRoots, ...(await expandDirGlobs(this.globs, (message) => ctx.warn(message)))]
    const found: Scanned[] = []
    for (const root of this.roots()) {
      const names = namesWhere(root.path, mayMatter)
      for (const quarantine of findQuarantines(root.path, root, names)) {
        for (const entry of quarantineEntries(quarantine)) {
          const facts = entry.stat.isDirectory() && !entry.held ? walkTree(entry.path, entry.stat) : undefined
          found.push({facts, held: entry.held, path: entry.path, pattern: undefined, quarantined: true, root, stat: entry.stat})
        }
      }

      for (const name of names) {
        const pattern = matchPattern(name)
        if (!pattern) continue
        const path = join(root.path, name)
        const stat = entryStat(path)
        if (!stat) continue
        const mine = stat.isDirectory() && stat.uid === MY_UID
        found.push({facts: mine ? walkTree(path, stat) : undefined, path, pattern, quarantined: false, root, stat})
      }
    }

    return found
  }

  /**
   * Every runtime that is present here is asked, once. One that is present but cannot be asked keeps every
   * candidate (its containers keep running when its daemon dies or hangs); with none present, age and process use
   * decide alone, and the plan says so.
   */
  private async containerMounts(ctx: TargetContext): Promise<ContainerMounts> {
    const present = this.probes.filter((probe) => probe.present())
    const {explicit} = this.options
    if (explicit && !present.some((probe) => probe.name === explicit)) {
      const what = explicit === 'docker' ? 'no Docker engine found here (no DOCKER_HOST, no docker context, no socket where moat looks)' : 'no Apple container CLI here'
      return {unreachable: `--runtime ${explicit}: ${what}, so its containers cannot be asked which dirs they mount: kept`}
    }

    if (present.length === 0) {
      ctx.warn('No container runtime on this host (no Docker engine configured, no Apple container CLI): age and process use decide alone.')
      return {asked: [], mounts: []}
    }

    const known = this.roots()
    // Every engine of the set is asked, side by side: a container on any of them may mount the dir (issue 19, case 1).
    const asked = await Promise.allSettled(present.map((probe) => probe.mountsOfRunningContainers()))
    const mounts: ResolvedMount[] = []
    for (const [index, outcome] of asked.entries()) {
      const probe = present[index]!
      if (outcome.status === 'rejected') {
        const why = (outcome.reason as Error).message.split('\n')[0]
        const where = addressesOf(probe).length > 0 ? ` [${describeAddresses(probe)}]` : ''
        return {unreachable: `${probe.name} is present here but cannot be asked which dirs its running containers mount (${why})${where}: kept`}
      }

      for (const mount of outcome.value) mounts.push({...mount, resolved: resolveHostPath(mount.source, known)})
    }

    return {asked: describeProbes(present), mounts}
  }

  private drift(ctx: TargetContext, item: PlannedItem<TempFingerprint>): string | undefined {
    const {fingerprint} = item
    const stat = entryStat(item.id)
    if (!stat) return 'gone since the scan'
    if (stat.isSymbolicLink()) return 'now a symlink'
    if (!stat.isDirectory()) return 'no longer a directory'
    if (!sameIdentity(stat, fingerprint)) return 'replaced by another directory of the same name since the scan'
    if (stat.uid !== fingerprint.uid) return `owner changed to uid ${stat.uid}`
    const facts = walkTree(item.id, stat)
    if (facts.error) return `could not re-read the tree (${facts.error})`
    if (facts.crossesDevice) return `a mount point appeared at ${facts.crossesDevice}`
    if (facts.undeletable) return `${facts.undeletable} is not writable by you: the tree could not be removed`
    if (fingerprint.quarantined) return undefined
    if (facts.newestMtimeMs > ctx.cutoffMs || facts.newestMtimeMs > fingerprint.newestMtimeMs) {
      return `modified since the scan (${facts.newestPath})`
    }

    return undefined
  }

  private judgeOnDisk(ctx: TargetContext, entry: Scanned, mountTable: MountTable): PlannedItem<TempFingerprint> {
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
        origin: entry.quarantined ? join(entry.root.path, path.slice(path.lastIndexOf('/') + 1).replace(/\.\d+$/, '')) : path,
        quarantined: entry.quarantined,
        root: entry.root,
        uid: stat.uid,
      },
      id: path,
      name: path,
      // Completed by classify once processes and containers are checked (explainUnused).
      reason: entry.quarantined ? 'left in quarantine by an interrupted clean' : `unchanged for ${formatAge(ctx.now - (facts?.newestMtimeMs ?? stat.mtimeMs))}`,
    }
    if (entry.held) return keep(item, 'held: moved aside by a clean and its name was taken meanwhile; never deleted (move it back by hand)')
    const unsafe = unsafeToRemove(entry, mountTable)
    if (unsafe) return keep(item, unsafe)
    if (facts && !entry.quarantined && facts.newestMtimeMs > ctx.cutoffMs) {
      return keep(item, `young: ${newestEntry(facts)} modified ${formatAge(ctx.now - facts.newestMtimeMs)} ago (--min-age ${formatDuration(ctx.minAgeMs)})`)
    }

    item.evidence = {age: ageEvidence(ctx, facts!, entry.quarantined)}
    return item
  }

  /** Step 3's container half: the mounts of running containers, read again with everything moved. */
  private async recheckMounts(
    ctx: TargetContext,
    moved: readonly MovedEntry[],
    requests: ReadonlyMap<RemovalRequest, PlannedItem<TempFingerprint>>,
  ): Promise<Map<RemovalRequest, string>> {
    const mounts = await this.containerMounts(ctx)
    if ('unreachable' in mounts) throw new Error(mounts.unreachable)
    const why = new Map<RemovalRequest, string>()
    for (const {request} of moved) {
      const busy = inUse(requests.get(request)!, undefined, mounts.mounts)
      if (busy) why.set(request, busy)
    }

    return why
  }

  private roots(): Root[] {
    const roots: Root[] = []
    for (const path of this.rootPaths) {
      const stat = entryStat(path)
      if (stat?.isDirectory() && !roots.some((root) => sameIdentity(root, stat))) roots.push({dev: stat.dev, ino: stat.ino, path})
    }

    return roots
  }
}

function defaultProbes(options: TempDirOptions): MountProbe[] {
  // Loaded lazily by the command; constructing them spawns nothing.
  const probes: MountProbe[] = []
  // The Engine API where the engine can be reached that way: no docker process, no execa (select.ts).
  // Every engine of the set (runtime/engines.ts), and the ones runs used that cannot be known (issue 20).
  if (options.docker) probes.push(...dockerEngines({moatHome: options.moatHome}), ...(options.moatHome ? [unknownRunEngines(options.moatHome)] : []))
  if (options.apple) probes.push(new AppleCli())
  return probes
}

/**
 * The engines runs used that cannot be known, read afresh at each look: a run whose metadata.json (or runs/ itself)
 * exists but cannot be read may have used an engine whose running containers mount any temp dir (issue 20). Present
 * while there is one, and never answers: every candidate is kept, with the path and the error.
 */
function unknownRunEngines(moatHome: string): MountProbe {
  let problems: string[] = []
  return {
    async mountsOfRunningContainers() {
      if (problems.length === 0) return []
      const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''
      throw new Error(`the engine a run used is unknown: ${problems[0]}${more}`)
    },
    name: 'docker',
    present() {
      problems = readRunEngines(moatHome).problems
      return problems.length > 0
    },
  }
}

/** --tmp-dir values resolved (symlinks too: a mount source may name either form) or one clear usage error. */
function resolveRoots(explicit: readonly string[] | undefined): string[] {
  const paths: string[] = []
  for (const candidate of explicit ?? defaultTempRoots()) {
    if (explicit && candidate.trim() === '') {
      throw new InputError('--tmp-dir: an empty path names no directory; give one, e.g. --tmp-dir /var/tmp')
    }

    let resolved: ReturnType<typeof resolveDirectory>
    try {
      resolved = resolveDirectory(candidate)
    } catch (error) {
      if (explicit) throw new InputError(`--tmp-dir: cannot read ${candidate} (${(error as NodeJS.ErrnoException).code}); give an existing directory, e.g. --tmp-dir /var/tmp`)
      continue
    }

    const {path, stat} = resolved
    if (!stat.isDirectory()) {
      if (explicit) throw new InputError(`--tmp-dir: ${candidate} is not a directory; give a directory, e.g. --tmp-dir /var/tmp`)
      continue
    }

    if (!paths.includes(path)) paths.push(path)
  }

  return paths
}

/** Why this entry is not a plain, readable directory tree of ours that may be removed at all. */
function unsafeToRemove({facts, path, root, stat}: Scanned, mountTable: MountTable): string | undefined {
  if (stat.isSymbolicLink()) return 'symlink: never followed'
  if (!stat.isDirectory()) return 'not a directory'
  if (stat.uid !== MY_UID) return `owned by uid ${stat.uid}, not by you`
  if (mountTable.problem) return mountTable.problem
  const points = mountPointsIn(mountTable, path)
  if (stat.dev !== root.dev || points.includes(path)) return 'a mount point'
  if (!facts) return 'not scanned'
  if (facts.error) return `could not read the whole tree (${facts.error})`
  if (facts.crossesDevice) return `holds a mount point at ${facts.crossesDevice}`
  if (points.length > 0) return `holds a mount point at ${shortPath(points[0]!)}`
  if (facts.undeletable) return `${facts.undeletable} is not writable by you: the tree could not be removed`
  return undefined
}

function newestEntry(facts: TreeFacts): string {
  return facts.newestPath === '.' ? 'the directory itself' : facts.newestPath
}

/** The age half of an orphan's evidence: the whole tree against --min-age, by its newest entry. */
function ageEvidence(ctx: TargetContext, facts: TreeFacts, quarantined: boolean): string {
  if (quarantined) return 'not applied: moved into quarantine by an interrupted clean after it had passed every check'
  const entries = `${facts.entries} entr${facts.entries === 1 ? 'y' : 'ies'}`
  const age = formatAge(ctx.now - facts.newestMtimeMs)
  return `whole tree older than --min-age ${formatDuration(ctx.minAgeMs)}: the newest of its ${entries} is ${newestEntry(facts)}, modified ${age} ago`
}

function keep<T extends PlannedItem>(item: T, reason: string): T {
  item.decision = 'kept'
  item.reason = reason
  item.evidence = undefined
  return item
}

/**
 * The evidence that nothing uses an orphan, and the reason that sums it up with its age: how processes were checked
 * (or that they could not be), and which runtimes were asked for the mounts of their running containers.
 */
function explainUnused(item: PlannedItem<TempFingerprint>, usage: ProcessUsage | undefined, asked: readonly string[]): void {
  item.evidence = {
    ...item.evidence,
    containers:
      asked.length > 0
        ? `no running container mounts it, anything in it or a parent of it: asked ${asked.join('; ')}`
        : 'not checked: no container runtime on this host (no Docker engine configured, no Apple container CLI)',
    processes: usage ? `none uses it: checked ${usage.describeCheck()}` : 'not checked: no /proc on this host',
  }
  const unused =
    usage && asked.length > 0
      ? 'no process or container uses it'
      : usage
        ? 'no process uses it; no container runtime here'
        : asked.length > 0
          ? 'no container uses it; processes not checked (no /proc)'
          : 'processes and containers not checked'
  item.reason = `${item.reason}; ${unused}`
}

/**
 * The runtimes asked, for the evidence: each Docker engine of the set by its addresses and where each came from
 * (`docker at unix:///var/run/docker.sock (the default socket)`), and `Apple container`.
 */
function describeProbes(probes: readonly MountProbe[]): string[] {
  return probes.map((probe) => {
    if (probe.name === 'apple') return 'Apple container'
    return addressesOf(probe).length > 0 ? `docker at ${describeAddresses(probe)}` : 'docker'
  })
}

function inUse(
  item: PlannedItem<TempFingerprint>,
  usage: ProcessUsage | undefined,
  mounts: readonly ResolvedMount[],
): string | undefined {
  const use = usage?.userOf(item.id)
  if (use) return `in use: ${describeUse(use)}`
  // A mount of the dir, of something inside it, or of a parent (the BuildKit sidecar mounts all of /tmp, §3.1),
  // compared on resolved paths (issue 9, class 2); for a leftover in quarantine, also under its old name.
  for (const path of new Set([item.fingerprint.origin, item.id])) {
    const mount = mounts.find(
      (m) => m.resolved === path || m.resolved.startsWith(path + '/') || path.startsWith(m.resolved.replace(/\/$/, '') + '/'),
    )
    if (mount) return `bind-mounted into running container ${mount.container} (${mount.runtime}: ${shortPath(mount.source)})`
  }

  return undefined
}
