// moat's own leftovers in $MOAT_HOME (moat-resources.md §2.1, §6, §8), each listed with its decision like every
// other target's items:
// - sockets/<run-id>/ of ended runs (moat never removes the directory, §8) whose agent socket is not listening;
// - proxy/.runs-*.json.tmp and proxy/routes-*.json.tmp older than --min-age (crash leftovers of atomic writes, §8);
// - daemon registrations that never got a container (§6.4), removed only through the daemon's own API;
// - opt-in: run dirs without metadata.json past a long grace whose run has no runtime object left (§2.1), moved into
//   $MOAT_HOME/reaped/ so their logs survive (or deleted with purge);
// - leaked `moat _daemon` processes that daemon.lock does not name: reported, never killed.
import type {Stats} from 'node:fs'

import {join} from 'node:path'

import type {RunRegistry} from '../moat/registry.js'
import type {IntentPlace} from '../pipeline/intents.js'
import type {PlannedItem, Settle, Target, TargetContext} from '../pipeline/pipeline.js'
import type {Runtime} from '../runtime/types.js'

import {formatAge, formatDuration} from '../duration.js'
import {entryStat, listDirectory, moveEntry, ownDirectory, removeFile, Unreadable, whyNotOwnDirectory} from '../host/checked-fs.js'
import {describeUse, listeningSocketPaths, ProcessUsage} from '../host/proc.js'
import {safeRemove} from '../host/safe-remove.js'
import {type Identity, sameIdentity, walkTree} from '../host/tree.js'
import {listRegistrations, type Registration, unregister} from '../moat/daemon.js'
import {RUN_ID} from '../moat/run-id.js'
import {DAEMON_TMP_FILE, daemonProcesses, lockedDaemonPid, proxyDir, readRegistrationTokens, socketsDir} from '../moat/state-files.js'
import {RuntimeAbsentError, RuntimeUnreachableError} from '../runtime/errors.js'
import {defaultRuntimes, type RuntimeChoice, selectRuntimes} from '../runtime/select.js'
import {backupStamp} from '../runtime/volume-archive.js'
import {readRuns, rereadRuns, revived} from './engine-target.js'
import {recordMoves} from './temp-dirs.js'

const MY_UID = process.getuid?.() ?? -1

export interface RunDirOptions {
  /** Unchanged for at least this long (default 24h): moat's create never takes that long (§2.1). */
  graceMs: number
  /** Delete instead of moving into $MOAT_HOME/reaped/. */
  purge: boolean
}

export interface StateTargetOptions {
  daemonTimeoutMs?: number
  moatHome: string
  /** Also consider run dirs without metadata.json (opt-in); undefined leaves them alone. */
  runDirs?: RunDirOptions
  runtime: RuntimeChoice
  runtimes?: readonly Runtime[]
}

type Kind = 'daemon process' | 'daemon tmp file' | 'registration' | 'run dir' | 'socket dir'

interface Scanned {
  kind: Kind
  /** Why a fact its verdict needs cannot be read (runs.json, daemon.lock; issue 20): said in the reason. */
  missing?: string
  path: string
  pid?: number
  /** Why the entry itself cannot be checked (issue 20): it is kept, with this. */
  problem?: string
  registration?: Registration
  runId?: string
  stat?: Stats
  token?: string
}

export interface StateFingerprint {
  identity?: Identity
  kind: Kind
  newestMtimeMs?: number
  runId?: string
  /** Secret: the report drops fingerprints, so it never reaches the output or the audit log. */
  token?: string
}

type Planned = PlannedItem<StateFingerprint>

/** What the runtimes say about runs, for the run-dir rule: which runs still have objects, or why nobody knows. */
interface RuntimeView {
  /** The runtimes that were asked (none: no runtime on this host). */
  asked: string[]
  problem?: string
  runsWithObjects: Map<string, string>
}

/** Kept, and why; or removable, with a short reason for the table and the evidence it sums up. */
type Verdict = {evidence: Record<string, string>; orphan: string} | {keep: string}

export class StateTarget implements Target<Scanned, StateFingerprint> {
  readonly kind = 'state'
  readonly noun = ['state leftover', 'state leftovers'] as const
  private registry?: RunRegistry
  private view?: RuntimeView

  constructor(private readonly options: StateTargetOptions) {}

  async classify(ctx: TargetContext, scanned: Scanned[]): Promise<Planned[]> {
    const listening = scanned.some((entry) => entry.kind === 'socket dir') ? listeningSocketPaths() : new Set<string>()
    if (!listening) ctx.warn('No /proc/net/unix here: whether an SSH agent socket is listening is not checked; the run having ended decides.')
    const files = scanned.filter((entry) => entry.kind === 'daemon tmp file')
    const usage = files.length > 0 ? ProcessUsage.read([proxyDir(this.options.moatHome)]) : undefined
    return scanned.map((entry) => this.judge(ctx, entry, listening, usage))
  }

  async remove(ctx: TargetContext, items: Planned[], settle: Settle): Promise<void> {
    const of = (kind: Kind) => items.filter((item) => item.fingerprint.kind === kind)
    await this.removeRegistrations(ctx, of('registration'), settle)
    if (!ctx.signal?.aborted) this.removeTmpFiles(ctx, of('daemon tmp file'), settle)
    if (!ctx.signal?.aborted) await this.removeSocketDirs(ctx, of('socket dir'), settle)
    if (!ctx.signal?.aborted) await this.reapRunDirs(ctx, of('run dir'), settle)
  }

  async scan(ctx: TargetContext): Promise<Scanned[]> {
    const {moatHome} = this.options
    // No moat home at all: none of moat's state exists to clean (the pass has already said the home is missing).
    if (!entryStat(moatHome, {follow: true})) return []
    // §10.1: runtime resources first, run dirs after.
    if (this.options.runDirs) this.view = await this.askRuntimes(ctx)
    this.registry = await readRuns(this.options)
    if (this.registry.daemon.problem) ctx.warn(`${this.registry.daemon.problem}; runs only the daemon knows are not protected.`)
    const found: Scanned[] = []
    for (const name of listState(ctx, socketsDir(moatHome), 'socket dirs')) {
      if (RUN_ID.test(name)) found.push(scannedEntry('socket dir', join(socketsDir(moatHome), name), name))
    }

    for (const name of listState(ctx, proxyDir(moatHome), 'daemon temp files')) {
      if (DAEMON_TMP_FILE.test(name)) found.push(scannedEntry('daemon tmp file', join(proxyDir(moatHome), name)))
    }

    const listed = await listRegistrations(moatHome, this.options.daemonTimeoutMs)
    if (listed.ok) {
      const {problem, tokens} = readRegistrationTokens(moatHome)
      for (const registration of listed.registrations) {
        if (registration.containerId) continue
        for (const token of tokens.get(registration.runId) ?? [undefined]) {
          const path = `daemon registration of ${registration.runId}`
          found.push({kind: 'registration', missing: problem, path, registration, runId: registration.runId, token})
        }
      }
    }

    if (this.options.runDirs) {
      for (const run of this.registry.runs.values()) {
        // A dir whose metadata.json exists, readable or not, is a run moat saved; one that cannot be checked is kept.
        if (run.metadata || run.metadataError || run.unreadable) continue
        found.push(scannedEntry('run dir', run.dir, run.id))
      }
    }

    const locked = lockedDaemonPid(moatHome)
    for (const pid of daemonProcesses(moatHome)) {
      if (pid !== locked.pid) found.push({kind: 'daemon process', missing: locked.problem, path: `moat _daemon process ${pid}`, pid})
    }

    return found
  }

  /** Run IDs that still have a container, network or volume on some runtime; a runtime that cannot be asked says so. */
  private async askRuntimes(ctx: TargetContext): Promise<RuntimeView> {
    const silent: string[] = []
    let runtimes: Runtime[]
    try {
      runtimes = await selectRuntimes(this.options.runtime, (message) => {
        silent.push(message)
        ctx.warn(message)
      }, this.options.runtimes ?? defaultRuntimes(this.options.moatHome))
    } catch (error) {
      if (!(error instanceof RuntimeUnreachableError)) throw error
      // No runtime on this host at all: no run can have objects anywhere.
      if (error instanceof RuntimeAbsentError) return {asked: [], runsWithObjects: new Map()}
      return {asked: [], problem: error.message, runsWithObjects: new Map()}
    }

    const runsWithObjects = new Map<string, string>()
    const note = (text: string, what: string) => {
      for (const runId of text.match(/run_[0-9a-f]{12}/g) ?? []) if (!runsWithObjects.has(runId)) runsWithObjects.set(runId, what)
    }

    await Promise.all(
      runtimes.map(async (runtime) => {
        const [containers, networks, volumes] = await Promise.all([
          runtime.list('container'),
          runtime.list('network'),
          runtime.name === 'docker' ? runtime.list('volume') : [],
        ])
        for (const container of containers) note(`${container.name} ${container.labels['moat.run-id'] ?? ''}`, `container ${container.name} on ${runtime.name}`)
        for (const network of networks) note(network.name, `network ${network.name} on ${runtime.name}`)
        for (const volume of volumes) note(volume.name, `volume ${volume.name} on ${runtime.name}`)
      }),
    )
    return {asked: runtimes.map((runtime) => runtime.name), problem: silent.length > 0 ? silent.join('; ') : undefined, runsWithObjects}
  }

  private async deleteDirs(ctx: TargetContext, items: Planned[], settle: Settle, recheck?: () => Set<string> | undefined): Promise<void> {
    const requests = items.map((item) => ({expected: item.fingerprint.identity!, item, path: item.id}))
    await safeRemove(requests, {
      onOutcome: (request, outcome) => settle((request as (typeof requests)[number]).item, outcome.decision, outcome.reason),
      recheck: recheck
        ? (moved) => {
            // A socket keeps the path it was bound to after the move: look it up under the old name.
            const listening = recheck()
            const why = new Map<(typeof moved)[number]['request'], string>()
            for (const entry of moved) {
              const socket = listeningUnder(listening, entry.request.path)
              if (socket) why.set(entry.request, `in use: socket ${socket} is listening`)
            }

            return why
          }
        : undefined,
      record: (chunk) => recordMoves(ctx, chunk.map((request) => ({item: (request as (typeof requests)[number]).item, request}))),
      signal: ctx.signal,
    })
  }

  /** runs/ read again; when it cannot be, every item is skipped (nothing may be judged). */
  private freshRegistry(items: Planned[], settle: Settle): Promise<RunRegistry | undefined> {
    return rereadRuns(this.options, items, settle)
  }

  private judge(ctx: TargetContext, entry: Scanned, listening: Set<string> | undefined, usage: ProcessUsage | undefined): Planned {
    const item: Planned = {
      decision: 'kept',
      details: {kind: entry.kind, run: entry.runId},
      fingerprint: {identity: entry.stat, kind: entry.kind, runId: entry.runId, token: entry.token},
      id: entry.path,
      name: entry.path,
      reason: '',
    }
    const verdict = entry.problem ? {keep: `cannot be checked: ${entry.problem}`} : this.verdict(ctx, entry, item, listening, usage)
    if ('keep' in verdict) item.reason = verdict.keep
    else {
      item.decision = 'orphan'
      item.reason = verdict.orphan
      item.evidence = verdict.evidence
    }

    return item
  }

  /** Moves (or with purge deletes) run dirs that still look exactly as judged, with the runtimes asked again. */
  private async reapRunDirs(ctx: TargetContext, items: Planned[], settle: Settle): Promise<void> {
    if (items.length === 0) return
    const view = await this.askRuntimes(ctx)
    const registry = await this.freshRegistry(items, settle)
    if (!registry) return
    const ready = items.filter((item) => {
      const why = view.problem
        ? `cannot ask the runtimes again: ${view.problem}`
        : view.runsWithObjects.has(item.fingerprint.runId!)
          ? `the run now has ${view.runsWithObjects.get(item.fingerprint.runId!)}`
          : registry.daemon.runIds.has(item.fingerprint.runId!)
            ? 'the moat daemon now lists the run'
            : registry.runs.get(item.fingerprint.runId!)?.metadata
              ? 'metadata.json appeared since the scan'
              : dirDrift(item)
      if (why) settle(item, 'skipped', `drift: ${why}`)
      return !why
    })
    if (this.options.runDirs?.purge) {
      await this.deleteDirs(ctx, ready, settle)
      return
    }

    // Made by this tool (0700), or one of this user's own: a symlink or a foreign dir there would take the run dirs
    // out of moat's home (issue 20), so nothing is moved.
    const reaped = join(this.options.moatHome, 'reaped')
    try {
      ownDirectory(reaped)
    } catch (error) {
      for (const item of ready) settle(item, 'failed', `not moved: ${(error as Error).message}`)
      return
    }

    for (const item of ready) {
      const to = join(reaped, `${item.fingerprint.runId}-${backupStamp()}`)
      if (ctx.signal?.aborted || !ctx.intend('move', [{item, place: hostPlace(item, 'dir')}])) return
      try {
        moveEntry(item.id, to)
      } catch (error) {
        settle(item, 'failed', `could not move to ${to}: ${(error as NodeJS.ErrnoException).code ?? error}`)
        continue
      }

      const moved = entryStat(to)
      if (moved && item.fingerprint.identity && sameIdentity(moved, item.fingerprint.identity)) {
        // A move frees nothing: the dir is kept, its modes with it (rename), and no bytes count as freed.
        item.details.movedTo = to
        settle(item, 'removed', `moved to ${to}`)
        continue
      }

      // Whatever had the name at that instant was not the dir judged: back it goes.
      try {
        moveEntry(to, item.id)
        settle(item, 'skipped', 'drift: replaced just before the move; put back untouched')
      } catch {
        settle(item, 'failed', `replaced just before the move and could not be put back: left at ${to}`)
      }
    }
  }

  private async recheckRegistration(item: Planned, problem: string, settle: Settle): Promise<void> {
    const listed = await listRegistrations(this.options.moatHome, this.options.daemonTimeoutMs)
    if (!listed.ok) {
      settle(item, 'unknown', `${problem}; asked again, the moat daemon did not answer${listed.problem ? ` (${listed.problem})` : ''}: it may have unregistered it`)
    } else if (listed.registrations.some((registration) => registration.runId === item.fingerprint.runId && !registration.containerId)) {
      settle(item, 'failed', `${problem}; still registered when asked again`)
    } else {
      settle(item, 'removed', `unregistered through the daemon (confirmed by re-check: ${problem})`)
    }
  }

  private registrationVerdict(
    ctx: TargetContext,
    entry: Scanned,
    item: Planned,
    young: (ageMs: number, what: string) => string | undefined,
  ): Verdict {
    const {missing, registration, runId} = entry
    const registeredAt = registration!.registeredAtMs
    if (registeredAt === undefined) return {keep: 'age unknown: the daemon gave no registration time'}
    item.ageMs = ctx.now - registeredAt
    const tooYoung = young(item.ageMs, 'registered')
    if (tooYoung) return {keep: tooYoung}
    const run = this.registry!.runs.get(runId!)
    let runFact = `no run dir ${join(this.registry!.runsDir, runId!)}`
    if (run) {
      if (run.metadata || run.metadataError || run.unreadable) return {keep: `run ${runId} is alive: ${this.registry!.aliveReason(runId!)}`}
      const facts = treeFacts(run.dir)
      if (!facts) return {keep: `run ${runId}'s dir cannot be read`}
      const idleMs = ctx.now - facts.newestMtimeMs
      const idle = young(idleMs, 'its run dir was modified')
      if (idle) return {keep: `run ${runId} may still be starting: ${idle}`}
      runFact = `run dir ${run.dir} has no metadata.json and is unchanged for ${formatAge(idleMs)} (--min-age ${formatDuration(ctx.minAgeMs)})`
    }

    if (missing) return {keep: `${missing}: nothing to unregister it with`}
    if (!entry.token) return {keep: 'its token is not in runs.json: nothing to unregister it with'}
    const devices = deviceClaims(run?.dir)
    return {
      evidence: {
        age: `registered ${formatAge(item.ageMs)} ago (--min-age ${formatDuration(ctx.minAgeMs)})`,
        registration: `the moat daemon lists ${runId} with no container: its moat run died between registering and creating it (moat-resources.md §6.4); it keeps the daemon from going idle`,
        run: runFact,
        ...(devices ? {devices} : {}),
      },
      orphan: `registered ${formatAge(item.ageMs)} ago, never got a container`,
    }
  }

  private async removeRegistrations(ctx: TargetContext, items: Planned[], settle: Settle): Promise<void> {
    if (items.length === 0) return
    const listed = await listRegistrations(this.options.moatHome, this.options.daemonTimeoutMs)
    for (const item of items) {
      const {runId, token} = item.fingerprint
      if (!listed.ok) {
        settle(item, 'skipped', `drift: the moat daemon no longer answers${listed.problem ? ` (${listed.problem})` : ''}`)
        continue
      }

      const now = listed.registrations.filter((registration) => registration.runId === runId)
      if (now.length === 0) {
        settle(item, 'skipped', 'drift: no longer registered')
        continue
      }

      if (now.every((registration) => registration.containerId)) {
        settle(item, 'skipped', 'drift: it got a container since the scan')
        continue
      }

      if (ctx.signal?.aborted || !ctx.intend('unregister', [{item, place: {engine: 'moat daemon', object: 'registration', runId}}])) return
      // eslint-disable-next-line no-await-in-loop
      const outcome = await unregister(this.options.moatHome, token!)
      if (outcome === 'removed') settle(item, 'removed', 'unregistered through the daemon (DELETE /v1/runs/<token>)')
      else if (outcome === 'gone') settle(item, 'skipped', 'drift: no longer registered')
      // The daemon may have done it without saying so (no answer, a 5xx): asked once more (issue 21).
      // eslint-disable-next-line no-await-in-loop
      else await this.recheckRegistration(item, outcome.problem, settle)
    }
  }

  private async removeSocketDirs(ctx: TargetContext, items: Planned[], settle: Settle): Promise<void> {
    if (items.length === 0) return
    const registry = await this.freshRegistry(items, settle)
    if (!registry) return
    const listening = listeningSocketPaths()
    const ready = items.filter((item) => {
      const socket = listeningUnder(listening, item.id)
      const why = revived(registry, item.fingerprint.runId!) ?? (socket ? `socket ${socket} is listening` : dirDrift(item))
      if (why) settle(item, 'skipped', `drift: ${why}`)
      return !why
    })
    await this.deleteDirs(ctx, ready, settle, listeningSocketPaths)
  }

  private removeTmpFiles(ctx: TargetContext, items: Planned[], settle: Settle): void {
    if (items.length === 0) return
    const usage = ProcessUsage.read([proxyDir(this.options.moatHome)])
    for (const item of items) {
      let stat: Stats | undefined
      try {
        stat = entryStat(item.id)
      } catch (error) {
        settle(item, 'skipped', `drift: cannot be checked again (${(error as Error).message})`)
        continue
      }

      const use = usage?.userOf(item.id)
      const why = stat
        ? !stat.isFile() || !sameIdentity(stat, item.fingerprint.identity!)
          ? 'replaced since the scan'
          : stat.mtimeMs === item.fingerprint.newestMtimeMs
            ? use && `in use: ${describeUse(use)}`
            : 'modified since the scan'
        : 'gone since the scan'
      if (why) {
        settle(item, 'skipped', `drift: ${why}`)
        continue
      }

      if (ctx.signal?.aborted || !ctx.intend('unlink', [{item, place: hostPlace(item, 'file')}])) return
      try {
        if (removeFile(item.id)) settle(item, 'removed', 'removed')
        else settle(item, 'skipped', 'drift: gone before removal')
      } catch (error) {
        settle(item, 'failed', `could not remove: ${(error as NodeJS.ErrnoException).code ?? error}`)
      }
    }
  }

  private runDirVerdict(ctx: TargetContext, entry: Scanned, item: Planned): Verdict {
    const runDirs = this.options.runDirs!
    const {asked, problem, runsWithObjects} = this.view!
    if (!entry.stat?.isDirectory()) return {keep: 'not a directory'}
    if (problem) return {keep: `cannot tell whether the run still has containers, networks or volumes: ${problem}`}
    if (this.registry!.daemon.runIds.has(entry.runId!)) return {keep: `run ${entry.runId} is alive: the moat daemon lists it`}
    const object = runsWithObjects.get(entry.runId!)
    if (object) return {keep: `the run still has ${object}`}
    const facts = walkTree(entry.path, entry.stat)
    if (facts.error) return {keep: `could not read the whole dir (${facts.error})`}
    item.ageMs = ctx.now - facts.newestMtimeMs
    // A move frees nothing: only a purge gives the size as item.bytes, which a pass counts as freed once removed.
    if (runDirs.purge) item.bytes = facts.bytes
    else item.details.movedBytes = facts.bytes
    item.fingerprint.newestMtimeMs = facts.newestMtimeMs
    if (item.ageMs < runDirs.graceMs) {
      return {keep: `young: modified ${formatAge(item.ageMs)} ago (--run-dir-grace ${formatDuration(runDirs.graceMs)})`}
    }

    const reaped = join(this.options.moatHome, 'reaped')
    if (!runDirs.purge) {
      let unsafe: string | undefined
      try {
        unsafe = whyNotOwnDirectory(reaped)
      } catch (error) {
        unsafe = (error as Error).message
      }

      if (unsafe) return {keep: `cannot be moved into moat's home: ${unsafe}`}
    }

    item.details.action = runDirs.purge ? 'delete (--purge-run-dirs)' : `move to ${reaped}`

    return {
      evidence: {
        age: `unchanged for ${formatAge(item.ageMs)} (--run-dir-grace ${formatDuration(runDirs.graceMs)})`,
        objects:
          asked.length > 0
            ? `no container, network or volume of the run: asked ${asked.join(', ')}`
            : 'no container runtime on this host: the run can have no container, network or volume',
        run: `no metadata.json: moat run crashed while creating it (moat-resources.md §2.1); ${this.registry!.daemonFact()}`,
      },
      orphan: `no metadata.json; unchanged for ${formatAge(item.ageMs)}; no container, network or volume`,
    }
  }

  /** Why this entry stays, or why it goes; sets the item's age, size and fingerprint facts on the way. */
  private verdict(
    ctx: TargetContext,
    entry: Scanned,
    item: Planned,
    listening: Set<string> | undefined,
    usage: ProcessUsage | undefined,
  ): Verdict {
    const young = (ageMs: number, what: string) =>
      ageMs < ctx.minAgeMs ? `young: ${what} ${formatAge(ageMs)} ago (--min-age ${formatDuration(ctx.minAgeMs)})` : undefined
    /** Kept when younger than --min-age; else removable, with its age added to the evidence. */
    const aged = (ageMs: number, what: string, orphan: (age: string) => string, evidence: Record<string, string>): Verdict => {
      item.ageMs = ageMs
      const tooYoung = young(ageMs, what)
      if (tooYoung) return {keep: tooYoung}
      const age = formatAge(ageMs)
      return {evidence: {...evidence, age: `${what} ${age} ago (--min-age ${formatDuration(ctx.minAgeMs)})`}, orphan: orphan(age)}
    }

    switch (entry.kind) {
      case 'daemon process': {
        if (entry.missing) return {keep: `a moat daemon, and which one daemon.lock names is unknown (${entry.missing}): never stopped by this tool`}
        return {keep: `a leaked moat daemon that daemon.lock does not name: never stopped by this tool; stop it with kill ${entry.pid}`}
      }

      case 'daemon tmp file': {
        const {stat} = entry
        if (!stat?.isFile()) return {keep: 'not a regular file'}
        if (stat.uid !== MY_UID) return {keep: `owned by uid ${stat.uid}, not by you`}
        item.bytes = stat.size
        item.fingerprint.newestMtimeMs = stat.mtimeMs
        const use = usage?.userOf(entry.path)
        if (use) return {keep: `in use: ${describeUse(use)}`}
        const {held, reason} = unheld(usage)
        return aged(ctx.now - stat.mtimeMs, 'written', (age) => `written ${age} ago; ${reason}`, {
          file: 'left by a daemon that crashed during an atomic write (moat-resources.md §8)',
          processes: held,
        })
      }

      case 'registration': {
        return this.registrationVerdict(ctx, entry, item, young)
      }

      case 'run dir': {
        return this.runDirVerdict(ctx, entry, item)
      }

      case 'socket dir': {
        const {path, runId, stat} = entry
        if (!stat) return {keep: 'gone'}
        if (stat.isSymbolicLink()) return {keep: 'symlink: never followed'}
        if (!stat.isDirectory()) return {keep: 'not a directory'}
        if (stat.uid !== MY_UID) return {keep: `owned by uid ${stat.uid}, not by you`}
        const alive = this.registry!.aliveReason(runId!)
        if (alive) return {keep: `run ${runId} is alive: ${alive}`}
        const odd = unexpectedContent(path)
        if (odd) return {keep: odd}
        const socket = listeningUnder(listening, path)
        if (socket) return {keep: `in use: socket ${socket} is listening`}
        const facts = walkTree(path, stat)
        if (facts.error) return {keep: `could not read the whole dir (${facts.error})`}
        item.bytes = facts.bytes
        item.fingerprint.newestMtimeMs = facts.newestMtimeMs
        const silent = notListening(listening)
        return aged(ctx.now - facts.newestMtimeMs, 'modified', (age) => `run ended; ${silent.reason}; unchanged for ${age}`, {
          run: this.registry!.endedEvidence(runId!),
          socket: silent.socket,
        })
      }
    }
  }
}

/** The process half of a daemon temp file's evidence, and its words in the reason. */
function unheld(usage: ProcessUsage | undefined): {held: string; reason: string} {
  if (!usage) return {held: 'not checked: no /proc on this host', reason: 'processes not checked (no /proc)'}
  return {held: `none holds it open: checked ${usage.describeCheck()}`, reason: 'no process holds it'}
}

/** The socket half of a socket dir's evidence, and its words in the reason. */
function notListening(listening: Set<string> | undefined): {reason: string; socket: string} {
  if (!listening) return {reason: 'socket not checked', socket: 'not checked: no /proc/net/unix on this host'}
  return {reason: 'socket not listening', socket: 'no unix socket under it is listening (/proc/net/unix)'}
}

/** Where a host item lives, for its intent: the identity it was judged with. */
function hostPlace(item: Planned, object: 'dir' | 'file'): IntentPlace {
  return {dev: item.fingerprint.identity?.dev, engine: 'host', ino: item.fingerprint.identity?.ino, object}
}

function listeningUnder(listening: Set<string> | undefined, dir: string): string | undefined {
  return [...(listening ?? [])].find((path) => path.startsWith(dir + '/'))
}

/** One entry of moat's state with its lstat, or why it cannot be checked (it is kept, with that). */
function scannedEntry(kind: Kind, path: string, runId?: string): Scanned {
  try {
    return {kind, path, runId, stat: entryStat(path)}
  } catch (error) {
    if (!(error instanceof Unreadable)) throw error
    return {kind, path, problem: error.message, runId}
  }
}

/** Why a socket dir holds what moat never leaves there (a directory), or cannot be read to tell. */
function unexpectedContent(path: string): string | undefined {
  try {
    const inner = (listDirectory(path) ?? []).find((name) => entryStat(join(path, name))?.isDirectory())
    return inner ? `holds a directory (${inner}): not what moat leaves there` : undefined
  } catch (error) {
    return `cannot be read: ${(error as Error).message}`
  }
}

/** A directory of moat's state: absent, none; one that cannot be read is said, and what is in it is not looked at. */
function listState(ctx: TargetContext, path: string, what: string): string[] {
  try {
    return listDirectory(path) ?? []
  } catch (error) {
    if (!(error instanceof Unreadable)) throw error
    ctx.warn(`${error.message}: its ${what} are not looked at.`)
    return []
  }
}

function treeFacts(path: string): ReturnType<typeof walkTree> | undefined {
  try {
    const stat = entryStat(path)
    const facts = stat && walkTree(path, stat)
    return facts && !facts.error ? facts : undefined
  } catch {
    // Kept by the caller: the dir cannot be read.
    return undefined
  }
}

/**
 * §12.3: what removing a registration that never got a container frees. The daemon holds its run's serial-device
 * claims until then; which devices a registration holds is not in runs.json's documented format (§6.2), so the run
 * dir's devices.jsonl, which the daemon writes for a run with devices, is taken as the sign.
 */
function deviceClaims(runDir: string | undefined): string {
  if (!runDir) return ''
  try {
    if (!entryStat(join(runDir, 'devices.jsonl'))?.isFile()) return ''
  } catch {
    // Only the wording depends on it.
    return ''
  }

  return 'its run used serial devices (devices.jsonl): removing it frees its device claims (moat-resources.md §12.3)'
}

/** The dir at the item's path is no longer the one judged, or changed inside. */
function dirDrift(item: Planned): string | undefined {
  const stat = entryStat(item.id)
  if (!stat) return 'gone since the scan'
  if (stat.isSymbolicLink() || !stat.isDirectory()) return 'no longer a directory'
  if (!item.fingerprint.identity || !sameIdentity(stat, item.fingerprint.identity)) return 'replaced since the scan'
  const facts = walkTree(item.id, stat)
  if (facts.error) return `could not re-read it (${facts.error})`
  if (facts.newestMtimeMs !== item.fingerprint.newestMtimeMs) return `modified since the scan (${facts.newestPath})`
  return undefined
}
