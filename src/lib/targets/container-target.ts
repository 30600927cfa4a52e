import type {RunRegistry} from '../moat/registry.js'
// What the two container targets share (moat-resources.md §3): run containers (run-containers.ts) and BuildKit
// sidecars and service containers (sidecars.ts). Each says which containers are its candidates and whether a
// candidate's run has ended; this module lists, ages, re-verifies, stops and removes them, with a fixed number of
// engine calls whatever the number of candidates: one list (ps + inspect, shared by the engine targets of one
// pass), then per runtime one inspect (one more, by name, only when IDs vanished), one stop (only when running
// orphans are to be stopped) and one more inspect, and one remove.
import type {Detail, PlannedItem, Settle, Target, TargetContext} from '../pipeline/pipeline.js'
import type {ContainerInfo, Runtime} from '../runtime/types.js'

import {formatAge, formatDuration} from '../duration.js'
import {sameLabels} from '../runtime/labels.js'
import {
  containersForScan,
  engineDetail,
  type EngineTargetOptions,
  removeByRuntime,
  removeRecorded,
  rereadRuns,
  revived,
  scanEngine,
  watchRequests,
} from './engine-target.js'

/**
 * A running orphan gets this long after SIGTERM before the engine kills it. Short: it is removed right after, and
 * the docker CLI stops at most 50 containers at a time inside one call that must finish within its own timeout.
 */
export const STOP_TIMEOUT_SECONDS = 2

export type ContainerTargetOptions = EngineTargetOptions

/** A container that is one of a target's kind, and the run it belongs to. */
export interface Candidate {
  /** Shown in the plan and the JSON (role, service ...). */
  details: Record<string, Detail>
  runId: string
}

/** The containers of one runtime, found by full ID or by name. */
export class ContainerIndex {
  private readonly byId = new Map<string, ContainerInfo>()
  private readonly byName = new Map<string, ContainerInfo>()

  constructor(containers: Iterable<ContainerInfo>) {
    for (const container of containers) {
      this.byId.set(container.id, container)
      if (container.name) this.byName.set(container.name, container)
    }
  }

  id(id: string): ContainerInfo | undefined {
    return this.byId.get(id)
  }

  named(name: string): ContainerInfo | undefined {
    return this.byName.get(name)
  }
}

/** Why a candidate's run counts as ended: what is checked again right before its container is stopped or removed. */
export type Basis =
  /** §2.1: run dir without metadata.json, unchanged since this mtime (a crash between container and metadata). */
  | {dirMtimeMs: number; kind: 'crashed'}
  /** §10.1: no run dir, not listed by the daemon. */
  | {kind: 'ended'}
  /** metadata.json says stopped or failed (§2.2) and the run's main container is not running. */
  | {kind: 'stopped'; state: string}

/**
 * Kept, and why; or removable on this basis, with a short `reason` for the table and the evidence of it (`run`: how
 * the run was found ended).
 */
export type Verdict = {basis: Basis; evidence: Record<string, string>; reason: string} | {keep: string}

/** What a verdict is made from: the same facts at scan time and, fresh, right before a removal. */
export interface RunFacts {
  /** The other containers of the candidate's runtime (at least those `related` names). */
  containers: ContainerIndex
  ctx: TargetContext
  registry: RunRegistry
  runId: string
}

export interface ScannedContainer {
  candidate: Candidate
  container: ContainerInfo
  containers: ContainerIndex
  /** The engine's address, when the pass asked several Docker engines. */
  engine?: string
  registry: RunRegistry
  runtime: Runtime
}

export interface ContainerFingerprint {
  /** Absent for kept items. */
  basis?: Basis
  createdMs: number | undefined
  finishedMs: number | undefined
  labels: Record<string, string>
  name: string
  runId: string
  /** The state class at scan time: running (also paused, restarting) or not (created, exited, dead, stopped). */
  running: boolean
  runtime: Runtime
}

type Planned = PlannedItem<ContainerFingerprint>

/** The removal of one runtime's items. */
interface Round {
  ctx: TargetContext
  runtime: Runtime
  settle: Settle
}

/** The facts read again right before a stop or a removal. */
interface Fresh {
  containers: ContainerIndex
  registry: RunRegistry
}

export abstract class ContainerTarget implements Target<ScannedContainer, ContainerFingerprint> {
  abstract readonly kind: string
  abstract readonly noun: readonly [string, string]

  constructor(protected readonly options: ContainerTargetOptions) {}

  /** This target's kind of container, with its run; undefined for anything else (never shown in the plan). */
  protected abstract candidate(runtime: Runtime, container: ContainerInfo): Candidate | undefined

  async classify(ctx: TargetContext, scanned: ScannedContainer[]): Promise<Planned[]> {
    return scanned.map((entry) => this.judge(ctx, entry))
  }

  /** Why a running orphan is kept, or undefined when it is stopped and then removed. */
  protected abstract keepRunning(): string | undefined

  /** Names or IDs of other containers the verdict looks at, inspected again before a removal. */
  protected related(_runId: string, _registry: RunRegistry): string[] {
    return []
  }

  async remove(ctx: TargetContext, items: Planned[], settle: Settle): Promise<void> {
    await removeByRuntime(ctx, items, (runtime, group) => this.removeGroup({ctx, runtime, settle}, group))
  }

  async scan(ctx: TargetContext): Promise<ScannedContainer[]> {
    const scanned = await scanEngine(ctx, this.options, async (runtime) => {
      const containers = await containersForScan(ctx, runtime)
      const index = new ContainerIndex(containers)
      return containers.flatMap((container) => {
        const candidate = this.candidate(runtime, container)
        return candidate ? [{candidate, container, containers: index}] : []
      })
    })
    if (!scanned) return []
    const {listed, registry, runtimes} = scanned
    return listed.flatMap(({found, runtime}) => found.map((entry) => ({...entry, engine: engineDetail(runtime, runtimes), registry, runtime})))
  }

  /** Whether the candidate's run has ended, and on what grounds. */
  protected abstract verdict(facts: RunFacts): Verdict

  /** What changed since the scan that forbids stopping or removing this container now, if anything. */
  private drift(ctx: TargetContext, item: Planned, fresh: Fresh, stopped: boolean): string | undefined {
    const changed = containerDrift(item, fresh.containers, stopped)
    if (changed) return changed
    const {fingerprint} = item
    const {registry} = fresh
    const {runId} = fingerprint
    const verdict = this.verdict({containers: fresh.containers, ctx, registry, runId})
    if ('keep' in verdict) {
      const back = fingerprint.basis?.kind === 'ended' ? revived(registry, runId) : undefined
      if (back) return back
      if (registry.daemon.runIds.has(runId)) return 'the moat daemon now lists the run'
      return verdict.keep
    }

    if (sameBasis(verdict.basis, fingerprint.basis)) return undefined
    return verdict.basis.kind === 'crashed' && fingerprint.basis?.kind === 'crashed'
      ? 'run dir modified since the scan'
      : `the run changed since the scan: ${Object.values(verdict.evidence).join('; ')}`
  }

  private judge(ctx: TargetContext, entry: ScannedContainer): Planned {
    const {candidate, container, containers, engine, registry, runtime} = entry
    const age = ageOf(container, runtime)
    const item: Planned = {
      ageMs: age?.ms,
      decision: 'kept',
      details: {...candidate.details, engine, run: candidate.runId || undefined, runtime: runtime.name, state: container.state},
      fingerprint: {
        createdMs: container.createdMs,
        finishedMs: container.finishedMs,
        labels: container.labels,
        name: container.name,
        runId: candidate.runId,
        running: container.running,
        runtime,
      },
      id: container.id,
      name: container.name,
      reason: '',
    }
    const keep = (reason: string): Planned => {
      item.reason = reason
      return item
    }

    const verdict = this.verdict({containers, ctx, registry, runId: candidate.runId})
    if ('keep' in verdict) return keep(verdict.keep)
    const runningReason = container.running ? this.keepRunning() : undefined
    if (runningReason) return keep(runningReason)
    if (!age) return keep(`age unknown: ${runtime.name} gave no creation time`)
    if (age.ms < ctx.minAgeMs) return keep(`young: ${age.event} ${formatAge(age.ms)} ago (--min-age ${formatDuration(ctx.minAgeMs)})`)
    if (container.running) item.details.running = 'will stop'
    item.decision = 'orphan'
    item.fingerprint.basis = verdict.basis
    const when = `${age.event} ${formatAge(age.ms)} ago`
    item.evidence = {
      ...verdict.evidence,
      age: `${when} by the engine's clock (--min-age ${formatDuration(ctx.minAgeMs)})`,
      state: container.running ? `${container.state}: stopped first, then removed` : `${container.state}: not running`,
    }
    item.reason = `${verdict.reason}; ${when}${container.running ? '; running: will stop' : ''}`
    return item
  }

  private async removeGroup(round: Round, items: Planned[]): Promise<void> {
    const {ctx, runtime, settle} = round
    let ready = await this.reverify(round, items, new Set())
    const toStop = ready.filter((item) => item.fingerprint.running)
    if (toStop.length > 0) {
      if (ctx.signal?.aborted) return
      // A running orphan (a privileged BuildKit sidecar, §3.4) is stopped first: `rm` without force refuses it.
      const stopped = new Set<Planned>()
      const {keys, watch} = watchRequests(round, 'stop', toStop, {
        object: 'container',
        onReply(item, failure) {
          // Not sent (the pass was stopped): left unsettled, the pipeline reports it not reached.
          if (failure?.interrupted) return
          // A stop whose answer never came may have happened: the re-check below sees whether it is stopped.
          if (!failure || failure.unconfirmed) stopped.add(item)
          else if (failure.kind === 'gone') settle(item, 'skipped', 'drift: gone before the stop')
          else settle(item, 'failed', `could not stop: ${failure.message}`)
        },
      })
      await runtime.stop(keys, {timeoutSeconds: STOP_TIMEOUT_SECONDS}, watch)

      // The stop took time: everything is checked again before the removal, the stopped ones as stopped.
      ready = ready.filter((item) => !item.fingerprint.running || stopped.has(item))
      ready = await this.reverify(round, ready, stopped)
    }

    // After the first signal no new batch starts (the stop above may have taken seconds).
    if (ready.length === 0 || ctx.signal?.aborted) return
    // By full ID and without force: the engine itself refuses a container that started meanwhile.
    await removeRecorded(round, 'container', ready, {done: (item) => (item.fingerprint.running ? 'stopped and removed' : 'removed')})
  }

  /**
   * DESIGN.md step 4: the run dirs read and the daemon asked again, and one inspect of the items by ID and of the
   * containers their verdicts look at (plus, for IDs that vanished, one by name to tell a replacement from a removal). Settles every item
   * that drifted as skipped and returns the others; `stopped` are the items this pass has just stopped.
   */
  private async reverify(round: Round, items: Planned[], stopped: ReadonlySet<Planned>): Promise<Planned[]> {
    if (items.length === 0) return []
    const registry = await rereadRuns(this.options, items, round.settle)
    if (!registry) return []

    const wanted = new Set(items.flatMap((item) => [item.id, ...this.related(item.fingerprint.runId, registry)]).filter(Boolean))
    const found = await round.runtime.inspect('container', [...wanted])
    // A name matters only where its ID vanished (replaced or removed: skipped either way, the reason says which), so
    // names are asked only for those, in one more call: not one request per item on every pass. On Apple the ID is
    // the name, already asked.
    const vanished = items.filter((item) => !found.has(item.id) && item.name && item.name !== item.id).map((item) => item.name)
    if (vanished.length > 0) for (const [id, info] of await round.runtime.inspect('container', vanished)) found.set(id, info)
    const containers = new ContainerIndex(found.values())
    const ready: Planned[] = []
    for (const item of items) {
      const drift = this.drift(round.ctx, item, {containers, registry}, stopped.has(item))
      if (drift) round.settle(item, 'skipped', `drift: ${drift}`)
      else ready.push(item)
    }

    return ready
  }
}

/**
 * DESIGN.md "Age clocks", on the engine's clock: an exited container by FinishedAt, one that never started by
 * Created. A running one also by Created, and an Apple one always (its output has no exit time, §7).
 */
function ageOf(container: ContainerInfo, runtime: Runtime): undefined | {event: 'created' | 'exited'; ms: number} {
  const finished = container.running ? undefined : container.finishedMs
  const at = finished ?? container.createdMs
  if (at === undefined) return undefined
  return {event: finished === undefined ? 'created' : 'exited', ms: runtime.now() - at}
}

/** How the container itself differs from the scan: gone, replaced, renamed, relabelled, started or stopped, ran again. */
function containerDrift(item: Planned, now: ContainerIndex, stopped: boolean): string | undefined {
  const {fingerprint} = item
  const current = now.id(item.id)
  if (!current) {
    const successor = now.named(fingerprint.name)
    return successor ? `replaced by a new container of the same name (${successor.id.slice(0, 12)})` : 'gone since the scan'
  }

  // Apple's ID is the name (moat-resources.md §0): a new container of the same name shows only in its creation time.
  if (current.createdMs !== fingerprint.createdMs) return 'replaced by a new container of the same name'
  if (current.name !== fingerprint.name) return `renamed to ${current.name}`
  if (!sameLabels(current.labels, fingerprint.labels)) return 'labels changed since the scan'
  const expectRunning = fingerprint.running && !stopped
  if (current.running !== expectRunning) {
    if (!current.running) return 'stopped since the scan'
    return stopped ? 'running again after the stop' : `started since the scan (now ${current.state})`
  }

  // Our own stop changes the exit time; anything else that does means it ran meanwhile.
  if (!stopped && current.finishedMs !== fingerprint.finishedMs) return 'ran again since the scan'
  return undefined
}

function sameBasis(a: Basis, b: Basis | undefined): boolean {
  if (a.kind !== b?.kind) return false
  if (a.kind === 'crashed') return a.dirMtimeMs === (b as typeof a).dirMtimeMs
  if (a.kind === 'stopped') return a.state === (b as typeof a).state
  return true
}

