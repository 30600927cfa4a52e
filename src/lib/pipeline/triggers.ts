// What wakes a watching reaper (issue 24), and what the pass it wakes looks at. A trigger is something that
// happened (a run dir removed, a moat container that died, a network created with the address pools nearly full, a
// young item that is now old enough, the interval) with the scope of the pass it calls for: per target kind, every
// item, or only the items of some runs. Triggers wait in a queue until they are due (a run dir's after a settle
// delay, so moat's own teardown finishes first) and those due together are one pass: a burst of 50 dead runs is one
// pass, not 50 (a settling trigger due within coalesceMs of a batch joins it). Nothing is pushed back by a later
// trigger: under a steady stream of leaks each still goes within its settle delay and the time of one pass. The queue sets one timer, for the earliest due trigger, only while the reaper waits: an idle reaper
// has nothing pending but the next interval.
import type {Item} from './pipeline.js'

export type TriggerKind = 'age' | 'container' | 'events-gap' | 'interval' | 'pool' | 'run-dir' | 'start'

/** Every kind, for the metrics (a series per kind) and the docs. */
export const TRIGGER_KINDS: readonly TriggerKind[] = ['start', 'interval', 'run-dir', 'container', 'pool', 'age', 'events-gap']

/** Per target kind, every item (`all`) or only the items of these runs (an item's `details.run`). */
export type KindScope = 'all' | ReadonlySet<string>

/** What a pass looks at: every target (a full pass), or some targets, each wholly or for some runs. */
export type Scope = {full: false; kinds: ReadonlyMap<string, KindScope>} | {full: true}

export interface Trigger {
  /** When it happened (ms since the epoch, this host's clock): the time from it to a removal is measured from here. */
  at: number
  /** The engine whose event it was. */
  engine?: string
  kind: TriggerKind
  /** An engine event logged before the reaper's stream reconnected, given again by `since=`. */
  replayed?: boolean
  /** The run it concerns. */
  run?: string
  scope: Scope
  /** One line: `run dir run_0123456789ab removed`, `container run_0123456789ab died`, ... */
  what: string
}

export const FULL: Scope = {full: true}
/** next()'s answer once the reaper is stopped. */
const NONE: Trigger[] | undefined = undefined

/** Every item of these target kinds. */
export function kindScope(kinds: readonly string[]): Scope {
  return {full: false, kinds: new Map(kinds.map((kind) => [kind, 'all' as const]))}
}

/** The items of one run in these target kinds. */
export function runScope(runId: string, kinds: readonly string[]): Scope {
  return {full: false, kinds: new Map(kinds.map((kind) => [kind, new Set([runId])]))}
}

export function mergeScopes(scopes: readonly Scope[]): Scope {
  if (scopes.some((scope) => scope.full)) return FULL
  const kinds = new Map<string, KindScope>()
  for (const scope of scopes as Array<Extract<Scope, {full: false}>>) {
    for (const [kind, part] of scope.kinds) {
      const held = kinds.get(kind)
      if (held === 'all' || part === 'all') kinds.set(kind, 'all')
      else kinds.set(kind, new Set([...(held ?? []), ...part]))
    }
  }

  return {full: false, kinds}
}

/** The chosen kinds a pass of this scope runs, in their order. */
export function kindsIn(scope: Scope, chosen: readonly string[]): string[] {
  return scope.full ? [...chosen] : chosen.filter((kind) => scope.kinds.has(kind))
}

/** Whether a pass of this scope looks at this item of a target of this kind. */
export function inScope(scope: Scope, kind: string, item: Pick<Item, 'details'>): boolean {
  if (scope.full) return true
  const part = scope.kinds.get(kind)
  if (part === undefined) return false
  if (part === 'all') return true
  const {run} = item.details
  return typeof run === 'string' && part.has(run)
}

/** The earliest of these triggers whose scope covers the item: what its record names as the reason of its pass. */
export function triggerOf(triggers: readonly Trigger[], kind: string, item: Pick<Item, 'details'>): Trigger | undefined {
  let first: Trigger | undefined
  for (const trigger of triggers) if (inScope(trigger.scope, kind, item) && (!first || trigger.at < first.at)) first = trigger
  return first
}

/** `run-dir ×50, container`: the kinds of a pass's triggers, for its log line. */
export function describeTriggers(triggers: readonly Trigger[]): string {
  const counts = new Map<TriggerKind, number>()
  for (const trigger of triggers) counts.set(trigger.kind, (counts.get(trigger.kind) ?? 0) + 1)
  return [...counts].map(([kind, count]) => (count > 1 ? `${kind} ×${count}` : kind)).join(', ')
}

export interface QueueClock {
  now(): number
  setTimer(fn: () => void, ms: number): () => void
}

const REAL_CLOCK: QueueClock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const timer = setTimeout(fn, ms)
    return () => clearTimeout(timer)
  },
}

export interface AddOptions {
  /** At most one pending trigger per key: a new one with the same key replaces a later one and is dropped for an earlier one. */
  key?: string
  /**
   * A settling trigger (a run dir removed, a container that died) may be taken up to the queue's coalesceMs before
   * its time, with a batch that is due: the triggers of a burst are one pass. Others (the interval, a pool under
   * pressure, an age) wait for their time.
   */
  settling?: boolean
}

interface Pending {
  dueAt: number
  key?: string
  settling: boolean
  trigger: Trigger
}

/** Triggers waiting for their time; next() gives those due together, as one batch. */
export class TriggerQueue {
  private cancelTimer?: () => void
  private readonly clock: QueueClock
  private readonly coalesceMs: number
  private readonly onAdd?: (trigger: Trigger, dueInMs: number) => void
  private pending: Pending[] = []
  private waiter?: (triggers: Trigger[] | undefined) => void

  constructor(options: {clock?: QueueClock; coalesceMs: number; onAdd?: (trigger: Trigger, dueInMs: number) => void}) {
    this.clock = options.clock ?? REAL_CLOCK
    this.coalesceMs = options.coalesceMs
    this.onAdd = options.onAdd
  }

  /** Queues a trigger due `delayMs` from now. */
  add(trigger: Trigger, delayMs: number, options: AddOptions = {}): void {
    const dueAt = this.clock.now() + Math.max(0, delayMs)
    this.onAdd?.(trigger, Math.max(0, delayMs))
    if (options.key !== undefined) {
      const same = this.pending.find((entry) => entry.key === options.key)
      if (same && same.dueAt <= dueAt) return
      if (same) this.pending = this.pending.filter((entry) => entry !== same)
    }

    this.pending.push({dueAt, key: options.key, settling: options.settling ?? false, trigger})
    if (this.waiter) this.arm()
  }

  /**
   * The triggers due now, once the earliest is due (at once when some already are), oldest first; undefined when the
   * signal is aborted first.
   */
  next(signal: AbortSignal): Promise<Trigger[] | undefined> {
    if (signal.aborted) return Promise.resolve(NONE)
    return new Promise((resolve) => {
      const onAbort = () => finish(NONE)
      const finish = (triggers: Trigger[] | undefined) => {
        signal.removeEventListener('abort', onAbort)
        this.cancelTimer?.()
        this.cancelTimer = undefined
        this.waiter = undefined
        resolve(triggers)
      }

      this.waiter = finish
      signal.addEventListener('abort', onAbort, {once: true})
      this.arm()
    })
  }

  /** When the earliest pending trigger is due (ms since the epoch), if any: the reaper's state says it. */
  nextDue(): number | undefined {
    return this.pending.length === 0 ? undefined : Math.min(...this.pending.map((entry) => entry.dueAt))
  }

  /** Pending triggers (for tests and the state file). */
  size(): number {
    return this.pending.length
  }

  /** One timer, for the earliest due trigger; a batch at once when some are due. */
  private arm(): void {
    this.cancelTimer?.()
    this.cancelTimer = undefined
    const due = this.nextDue()
    if (due === undefined) return
    const wait = due - this.clock.now()
    if (wait > 0) {
      this.cancelTimer = this.clock.setTimer(() => this.arm(), wait)
      return
    }

    const now = this.clock.now()
    const inBatch = (entry: Pending) => entry.dueAt <= now || (entry.settling && entry.dueAt <= now + this.coalesceMs)
    const batch = this.pending.filter((entry) => inBatch(entry))
    this.pending = this.pending.filter((entry) => !inBatch(entry))
    this.waiter?.(batch.map((entry) => entry.trigger).sort((a, b) => a.at - b.at))
  }
}
