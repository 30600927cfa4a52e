// What a watching reaper listens to (issue 24), turned into triggers (triggers.ts) for the pass each calls for:
// - $MOAT_HOME/runs (host/dir-watch.ts: inotify, FSEvents): a run dir removed is that run's pass, after the settle
//   delay (moat-resources.md §2.1, §10.1: a run without its dir has ended; moat's own Destroy removes the dir last);
// - each Docker engine's event stream (runtime/engine-events.ts), on every engine of the set a full pass consulted:
//   a moat container that died or was destroyed is its run's pass (a volume export helper's: the helpers' pass); a
//   network created makes the reaper read the engine's address pools, and above --pool-threshold it runs a networks
//   pass at once; a stream that reconnects replays what it missed and the engine targets are looked at again.
// A watch that cannot be set up (no runs dir yet, no inotify watch left, an engine without an event stream, one
// reached only through the docker CLI) is said once; its part is left to the full pass every --interval, and it is
// tried again at each one.
import {join} from 'node:path'

import type {Runtime} from '../runtime/types.js'

import {type EntryWatch, watchEntries} from '../host/dir-watch.js'
import {RUN_ID} from '../moat/run-id.js'
import {DockerApi} from '../runtime/docker-api.js'
import {type EngineEvent, EventStream} from '../runtime/engine-events.js'
import {countedElsewhere, hasAnswered} from '../runtime/engines.js'
import {poolUsage} from '../status/address-pools.js'
import {type TargetKind, targetSpec} from '../targets/index.js'
import {kindScope, runScope, type TriggerQueue} from './triggers.js'

/** The engine events that can make a moat object removable: a container that stopped or went, a network made. */
export const EVENT_FILTERS = {event: ['create', 'destroy', 'die'], type: ['container', 'network']}
/** §3.1: the labels and roles of moat's sidecars and service containers, and its volume export helpers' names. */
const SIDECAR_ROLES: ReadonlySet<string> = new Set(['buildkit-sidecar', 'service'])
const EXPORT_HELPER = /^moat-export_[0-9a-f]{12}$/
/** How many container IDs the reaper remembers removing or stopping itself, so their events wake nothing. */
const OWN_REMOVALS = 4096

export interface WatchPart {
  watching: boolean
  /** Why not, when it is not being watched now. */
  why?: string
}

/** What the reaper watches now: its state file (`status`) says it. */
export interface WatchState {
  engines: Array<WatchPart & {address: string}>
  /** The runs dir, when a target whose items belong to runs is chosen. */
  runs?: WatchPart & {dir: string}
}

export interface WatcherOptions {
  /** The targets the reaper runs. */
  kinds: readonly TargetKind[]
  moatHome: string
  /** A note for the audit trail: each text is given once by the watcher. */
  note(message: string): void
  /** What the watch state became, after a change. */
  onChange(state: WatchState): void
  /** Pool usage (used / capacity, 0-1) at or above which a network created calls for a networks pass at once. */
  poolThreshold: number
  queue: TriggerQueue
  /** How long a run's pass waits after the event, so that moat's own teardown finishes first. */
  settleMs: number
}

interface WatchedEngine {
  address: string
  api: DockerApi
  /** A pool check under way; `next`: the latest network created meanwhile, checked once it is done. */
  checkingPools?: {next?: EngineEvent}
  part: WatchPart
  stream: EventStream
}

export class Watcher {
  private readonly engineKinds: TargetKind[]
  private readonly engines = new Map<string, WatchedEngine>()
  private readonly noted = new Set<string>()
  private readonly ownRemovals = new Set<string>()
  private readonly runKinds: TargetKind[]
  private runs?: {dir: string; part: WatchPart; watch?: EntryWatch}
  /** Engines consulted whose events cannot be watched (no event stream, reached through the CLI only): why. */
  private readonly unwatched = new Map<string, string>()

  constructor(private readonly options: WatcherOptions) {
    this.runKinds = options.kinds.filter((kind) => targetSpec(kind).perRun)
    this.engineKinds = options.kinds.filter((kind) => targetSpec(kind).needsRuntime)
    if (this.runKinds.length > 0) this.runs = {dir: join(options.moatHome, 'runs'), part: {watching: false}}
  }

  close(): void {
    this.runs?.watch?.close()
    for (const engine of this.engines.values()) engine.stream.close()
    this.engines.clear()
  }

  /** A container the reaper itself removed or stopped: its events are its own doing, not a leak. */
  removedByUs(id: string): void {
    this.ownRemovals.add(id)
    if (this.ownRemovals.size > OWN_REMOVALS) this.ownRemovals.delete(this.ownRemovals.values().next().value!)
  }

  state(): WatchState {
    return {
      engines: [
        // One that could not be watched before and is being tried again keeps its reason until it is open.
        ...[...this.engines.values()].filter((engine) => engine.part.watching || !this.unwatched.has(engine.address)).map((engine) => ({address: engine.address, ...engine.part})),
        ...[...this.unwatched].map(([address, why]) => ({address, watching: false, why})),
      ],
      ...(this.runs ? {runs: {dir: this.runs.dir, ...this.runs.part}} : {}),
    }
  }

  /**
   * After a full pass: the engines it consulted are watched (each once, those that answered), those no longer in the
   * set are let go, and a watch that could not be set up before is tried again. `sinceSeconds`: a new stream asks for
   * the events since then on its engine's clock (the start of that pass), so nothing in between is missed.
   */
  syncEngines(runtimes: readonly Runtime[], startedMs: number): void {
    if (this.engineKinds.length === 0) return
    const seen = new Set<string>()
    for (const runtime of runtimes) {
      if (!hasAnswered(runtime) || countedElsewhere(runtime)) continue
      const {address} = runtime.engine()
      seen.add(address)
      if (runtime.name === 'apple') {
        this.unwatched.set(address, 'Apple container has no event stream')
        this.noteOnce('Apple container has no event stream: its leaks are found by the full pass every --interval.')
        continue
      }

      if (this.engines.has(address)) continue
      if (!(runtime instanceof DockerApi)) {
        this.unwatched.set(address, 'reached only through the docker CLI')
        this.noteOnce(`cannot watch the events of the engine at ${address}: it is reached only through the docker CLI; its leaks are found by the full pass every --interval.`)
        continue
      }

      this.watchEngine(address, runtime, (startedMs + (runtime.now() - Date.now())) / 1000)
    }

    for (const [address, engine] of this.engines) {
      if (seen.has(address)) continue
      engine.stream.close()
      this.engines.delete(address)
    }

    for (const address of this.unwatched.keys()) if (!seen.has(address)) this.unwatched.delete(address)

    this.changed()
  }

  /** Watches the runs dir, when a target whose items belong to runs is chosen and it is not watched yet. */
  watchRuns(): void {
    const {runs} = this
    if (!runs || runs.watch) return
    try {
      runs.watch = watchEntries(
        runs.dir,
        (change) => this.runDirChanged(change),
        (error) => {
          runs.watch = undefined
          this.runsLost(error)
        },
      )
    } catch (error) {
      this.runsLost(error as Error)
      return
    }

    runs.part = {watching: true}
    this.changed()
  }

  private changed(): void {
    this.options.onChange(this.state())
  }

  /** networkCreated() notes its own failures; anything else it throws is noted too, never left unhandled. */
  private checkPools(engine: WatchedEngine, event: EngineEvent): void {
    this.networkCreated(engine, event).catch((error: Error) => this.noteOnce(`checking the address pools of ${engine.address} failed: ${error.message}`))
  }

  /** A moat container that died or was destroyed: its run's pass (an export helper's: the helpers' pass). */
  private containerEvent(engine: WatchedEngine, event: EngineEvent, replayed: boolean): void {
    if (this.ownRemovals.has(event.id)) return
    const name = event.attributes.name ?? ''
    const labelled = event.attributes['moat.run-id']
    const runId = RUN_ID.test(name) ? name : labelled && RUN_ID.test(labelled) && SIDECAR_ROLES.has(event.attributes['moat.role'] ?? '') ? labelled : undefined
    const what = `container ${name || event.id.slice(0, 12)} ${event.action === 'die' ? 'died' : 'was removed'}${replayed ? ' (replayed)' : ''}`
    const base = {at: this.hostTime(engine, event.timeMs), engine: engine.address, kind: 'container' as const, replayed: replayed || undefined, what}
    if (runId) {
      const kinds = this.runKinds.filter((kind) => this.engineKinds.includes(kind))
      if (kinds.length > 0) this.options.queue.add({...base, run: runId, scope: runScope(runId, kinds)}, this.options.settleMs, {settling: true})
    } else if (EXPORT_HELPER.test(name) && this.options.kinds.includes('helpers')) {
      this.options.queue.add({...base, scope: kindScope(['helpers'])}, this.options.settleMs, {settling: true})
    }
  }

  /** An engine event's time on this host's clock, so that every trigger is measured on one clock. */
  private hostTime(engine: WatchedEngine, engineMs: number): number {
    return Math.min(Date.now(), engineMs - (engine.api.now() - Date.now()))
  }

  /** A network was created: its engine's pools are read, and above the threshold the networks are looked at now. */
  private async networkCreated(engine: WatchedEngine, event: EngineEvent): Promise<void> {
    if (!this.options.kinds.includes('networks')) return
    if (engine.checkingPools) {
      engine.checkingPools.next = event
      return
    }

    engine.checkingPools = {}
    try {
      // moat-resources.md §12.1: podman's pools are not Docker's; the arithmetic would be wrong.
      if (engine.api.identity?.kind === 'podman') return
      const space = await engine.api.addressSpace()
      const usage = poolUsage(space, new Set())
      if (usage.capacity === 0 || usage.used / usage.capacity < this.options.poolThreshold) return
      const what = `network ${event.attributes.name ?? event.id.slice(0, 12)} created: ${usage.used} of ${usage.capacity} address-pool subnets used`
      this.options.queue.add({at: this.hostTime(engine, event.timeMs), engine: engine.address, kind: 'pool', scope: kindScope(['networks']), what}, 0, {key: 'pool'})
    } catch (error) {
      this.noteOnce(`the address pools of the engine at ${engine.address} could not be read after a network was created (${(error as Error).message.split('\n')[0]}); the networks are looked at by the next pass.`)
    } finally {
      const {next} = engine.checkingPools
      engine.checkingPools = undefined
      if (next) this.checkPools(engine, next)
    }
  }

  private noteOnce(message: string): void {
    if (this.noted.has(message)) return
    this.noted.add(message)
    this.options.note(message)
  }

  /** §2.1: a run dir removed is the end of that run; one that appears is a run starting, which asks for nothing. */
  private runDirChanged(change: {name?: string; present?: boolean}): void {
    const at = Date.now()
    if (change.name === undefined) {
      // The platform did not say which entry changed: every run's objects are looked at.
      this.options.queue.add({at, kind: 'run-dir', scope: kindScope(this.runKinds), what: 'a run dir changed (which one is unknown)'}, this.options.settleMs, {settling: true})
      return
    }

    if (change.present !== false || !RUN_ID.test(change.name)) return
    const what = `run dir ${change.name} removed`
    this.options.queue.add({at, kind: 'run-dir', run: change.name, scope: runScope(change.name, this.runKinds), what}, this.options.settleMs, {settling: true})
  }

  private runsLost(error: Error): void {
    const {runs} = this
    if (!runs) return
    const code = (error as NodeJS.ErrnoException).code ?? error.message
    const why =
      code === 'ENOENT'
        ? 'it does not exist (yet)'
        : code === 'ENOSPC'
          ? 'no inotify watch is left (fs.inotify.max_user_watches)'
          : code === 'EMFILE'
            ? 'no inotify instance is left (fs.inotify.max_user_instances)'
            : `${error.message} (${code})`
    runs.part = {watching: false, why}
    this.noteOnce(`cannot watch ${runs.dir}: ${why}; run dirs removed are found by the full pass every --interval, and the watch is tried again at each one.`)
    this.changed()
  }

  private watchEngine(address: string, api: DockerApi, sinceSeconds: number): void {
    const part: WatchPart = {watching: false, why: 'connecting'}
    const stream = new EventStream({
      engine: api,
      filters: EVENT_FILTERS,
      onEvent: (event, replayed) => {
        if (event.type === 'container' && (event.action === 'die' || event.action === 'destroy')) this.containerEvent(engine, event, replayed)
        else if (event.type === 'network' && event.action === 'create') this.checkPools(engine, event)
      },
      onOpen: (resumed) => {
        engine.part = {watching: true}
        this.unwatched.delete(address)
        this.changed()
        if (!resumed) return
        this.options.note(`the event stream of the engine at ${address} is back: what it logged meanwhile is replayed, and its objects are looked at again.`)
        // The engine keeps a bounded log of recent events, and a restarted engine a new one: the replay may be short.
        const what = `event stream of ${address} reconnected`
        this.options.queue.add({at: Date.now(), engine: address, kind: 'events-gap', scope: kindScope(this.engineKinds), what}, this.options.settleMs, {settling: true})
      },
      onProblem: (problem) => {
        if (problem.kind === 'oversized') {
          this.noteOnce(`the engine at ${address}: ${problem.message}; its objects are looked at again.`)
          this.options.queue.add({at: Date.now(), engine: address, kind: 'events-gap', scope: kindScope(this.engineKinds), what: `an event of ${address} skipped`}, this.options.settleMs, {settling: true})
          return
        }

        const was = engine.part.watching
        engine.part = {watching: false, why: problem.message}
        if (problem.kind === 'unsupported') {
          stream.close()
          this.engines.delete(address)
          this.unwatched.set(address, problem.message)
          this.noteOnce(`cannot watch the events of the engine at ${address} (${problem.message}): its leaks are found by the full pass every --interval, and the watch is tried again at each one.`)
        } else if (was) {
          this.options.note(`lost the event stream of the engine at ${address} (${problem.message}); reconnecting, with a growing wait between tries.`)
        }

        this.changed()
      },
      sinceSeconds,
    })
    const engine: WatchedEngine = {address, api, part, stream}
    this.engines.set(address, engine)
    stream.start()
  }
}
