// The one pipeline every clean command runs (DESIGN.md): scan, classify, confirm, re-verify, delete, report.
// Targets implement the first two and the last step for their kind; this module owns the order and the
// bookkeeping, and never prints.
import type {EngineReport} from '../runtime/engines.js'
import type {Intent, IntentAction, IntentPlace, Resumed} from './intents.js'

import {describeRunFilter, filteredOut, type RunFilter} from './filter.js'

/**
 * `orphan`/`kept` come from the plan; `removed`/`skipped`/`failed` from the deletion; `unknown` when the engine
 * could not be asked whether a removal it was sent happened (the next pass resolves it).
 */
export type Decision = 'failed' | 'kept' | 'orphan' | 'removed' | 'skipped' | 'unknown'

export type Detail = boolean | number | string | string[] | undefined

export interface Item {
  ageMs?: number
  bytes?: number
  decision: Decision
  /** Extra facts shown in the plan and the JSON (pattern, holds, runtime, run ID, ...). */
  details: Record<string, Detail>
  /**
   * For a removable item, the facts its reason sums up, one line each, by what was checked (`age`, `processes`,
   * `containers`, `run`, ...): shown by --verbose, and in the JSON and the audit trail.
   */
  evidence?: Record<string, string>
  /** A path for directories, a full engine ID for containers, networks and volumes. */
  id: string
  name: string
  /** What happened after the plan (why it was skipped or failed, how it was removed); absent while planned or kept. */
  outcome?: string
  /**
   * Why the plan judged it so, short enough for a table row (what the evidence shows, or why it is kept); never
   * overwritten by what happened next.
   */
  reason: string
}

/** An item with what was seen at scan time, to compare against just before deletion. */
export interface PlannedItem<F = unknown> extends Item {
  fingerprint: F
}

export interface PipelineHooks {
  /** Runs after the plan is confirmed and before anything is re-verified: where tests inject races. */
  beforeRemove?(items: readonly Item[]): Promise<void> | void
}

export interface TargetContext {
  /** The engines a target's scan consulted (answered or not), for the report (--verbose). */
  consulted(engines: readonly EngineReport[]): void
  /** Items modified after this instant (ms since epoch) are young. */
  readonly cutoffMs: number
  readonly hooks: PipelineHooks
  /**
   * The write-ahead record: called synchronously right before the requests for these items are sent (one synced
   * append for all of them). False: it could not be written, and none of them may be sent.
   */
  intend(action: IntentAction, entries: ReadonlyArray<{item: Item; place: IntentPlace}>): boolean
  readonly minAgeMs: number
  readonly now: number
  /** Called as items are settled during deletion, for a progress line in a terminal. */
  readonly onProgress?: (done: number, total: number) => void
  /**
   * Something that exists could not be looked at (an engine that did not answer): a warning, and the pass is partial
   * (exit 3). What it holds is neither judged nor removed.
   */
  partial(message: string): void
  /** Items planned for removal by targets that ran earlier in the same plan (`clean`). */
  readonly planned: readonly Item[]
  /** Once aborted, deletions already under way finish and nothing more is deleted. */
  readonly signal?: AbortSignal
  /** A note for the user; each distinct text is reported once. */
  warn(message: string): void
}

/** Records what happened to a planned item; `outcome` says why it was skipped or failed (its judged reason stays). */
export type Settle = (item: PlannedItem, decision: 'failed' | 'removed' | 'skipped' | 'unknown', outcome: string) => void

export interface Target<S = unknown, F = unknown> {
  classify(ctx: TargetContext, scanned: S[]): Promise<PlannedItem<F>[]>
  /** Short name used as the JSON section and in `clean --only`: temp, networks, ... */
  readonly kind: string
  /** Singular and plural noun for messages. */
  readonly noun: readonly [string, string]
  /** Re-verify each item immediately before deleting it, delete it, and settle every item exactly once. */
  remove(ctx: TargetContext, items: PlannedItem<F>[], settle: Settle): Promise<void>
  scan(ctx: TargetContext): Promise<S[]>
}

/**
 * Any target, whatever its scan and fingerprint types: the pipeline never looks inside them. Target's members are
 * methods, whose parameters TypeScript checks bivariantly, so a `Target<Scanned, Fingerprint>` is one without a cast.
 */
export type AnyTarget = Target<unknown, unknown>

export interface Totals {
  bytesRemoved: number
  candidates: number
  failed: number
  kept: number
  orphans: number
  removed: number
  skipped: number
  unknown: number
}

export interface TargetReport {
  items: Item[]
  noun: readonly [string, string]
  target: string
  totals: Totals
}

export interface Report {
  canceled: boolean
  dryRun: boolean
  /** The Docker engines the engine targets consulted, each once. */
  engines?: EngineReport[]
  /** `--filter` as given (`run=<id>`), when the pass was narrowed. */
  filter?: string[]
  minAgeMs: number
  /** What could not be looked at (an engine that did not answer): the pass is partial, exit 3. */
  partial?: string[]
  /** Why nothing was removed although orphans were planned (over --max-delete). */
  refused?: string
  /** Intents an interrupted earlier pass left open, resolved before this one began. */
  resumed?: Resumed[]
  targets: TargetReport[]
  totals: Totals
  warnings: string[]
}

export interface PipelineOptions {
  /** Asked with the plan when there is something to remove and it is not a dry run; false cancels. */
  confirm(plan: readonly TargetReport[]): Promise<boolean>
  dryRun: boolean
  /** `--filter run=` / `run!=`: orphans it leaves out are kept, with why (filter.ts). */
  filter?: RunFilter
  hooks?: PipelineHooks
  /** A pass that would remove more than this removes nothing (a wrong MOAT_HOME or a bug must not wipe a host). */
  maxDelete?: number
  minAgeMs: number
  now?: number
  /** Every final decision as it is made: kept items after planning, the others as they are settled (with the intent that preceded it). */
  onDecision?: (target: string, item: Item, intent?: Intent) => void
  /** The write-ahead record (TargetContext.intend); throws when it cannot be written. */
  onIntent?: (intents: readonly Intent[]) => void
  onProgress?: (done: number, total: number) => void
  signal?: AbortSignal
  /** Notes are also passed here as they happen (the command prints them once on stderr). */
  warn?: (message: string) => void
  /**
   * A targeted pass (a watching reaper's trigger, issue 24): only the items this says are the pass's are in it; the
   * others are neither reported nor removed (the pass that concerns them judges them).
   */
  within?: (target: string, item: Item) => boolean
}

export function totalsOf(items: readonly Item[]): Totals {
  const totals: Totals = {bytesRemoved: 0, candidates: items.length, failed: 0, kept: 0, orphans: 0, removed: 0, skipped: 0, unknown: 0}
  for (const item of items) {
    if (item.decision === 'orphan') totals.orphans++
    else totals[item.decision]++
    if (item.decision === 'removed') totals.bytesRemoved += item.bytes ?? 0
  }

  return totals
}

/** Orphans planned for removal, whatever later happened to them. */
function orphansOf(items: readonly PlannedItem[]): PlannedItem[] {
  return items.filter((item) => item.decision === 'orphan')
}

export async function runPipeline(targets: readonly AnyTarget[], options: PipelineOptions): Promise<Report> {
  const warnings: string[] = []
  const partial: string[] = []
  const engines: EngineReport[] = []
  const now = options.now ?? Date.now()
  const planned: PlannedItem[] = []
  const kindOf = new Map<Item, string>()
  /** The last intent recorded for each item: its decision closes it. */
  const intents = new Map<Item, Intent>()
  const ctx: TargetContext = {
    consulted(reports) {
      const known = new Set(engines.map((engine) => engine.addresses[0]?.address))
      engines.push(...reports.filter((engine) => !known.has(engine.addresses[0]?.address)))
    },
    cutoffMs: now - options.minAgeMs,
    hooks: options.hooks ?? {},
    intend(action, entries) {
      const made = entries.map(({item, place}) => ({...place, action, id: item.id, name: item.name, target: kindOf.get(item)!}))
      try {
        options.onIntent?.(made)
      } catch {
        // The sink says why (its own problem and signal); nothing of these may be sent.
        return false
      }

      for (const [index, {item}] of entries.entries()) intents.set(item, made[index]!)
      return true
    },
    minAgeMs: options.minAgeMs,
    now,
    onProgress: options.onProgress,
    partial(message) {
      if (!partial.includes(message)) partial.push(message)
      ctx.warn(message)
    },
    planned,
    signal: options.signal,
    warn(message) {
      if (warnings.includes(message)) return
      warnings.push(message)
      options.warn?.(message)
    },
  }
  const decide = (item: Item, decision: Decision, outcome: string) => {
    item.decision = decision
    // One line: an engine's multi-line error must not break the text report or a log line.
    item.outcome = outcome.replaceAll(/\s*\n\s*/g, ' ').trim()
    options.onDecision?.(kindOf.get(item)!, item, intents.get(item))
  }

  const plans: Array<{items: PlannedItem[]; target: Target}> = []
  for (const target of targets) {
    // Targets plan one after another: a later one may depend on what an earlier one will remove.
    // eslint-disable-next-line no-await-in-loop
    const classified = await target.classify(ctx, await target.scan(ctx))
    const items = options.within ? classified.filter((item) => options.within!(target.kind, item)) : classified
    // Before later targets see what this one plans: a container the filter keeps keeps its network too.
    if (options.filter) narrow(items, options.filter)
    plans.push({items, target})
    for (const item of items) kindOf.set(item, target.kind)
    for (const item of items) if (item.decision === 'kept') options.onDecision?.(target.kind, item)
    planned.push(...orphansOf(items))
  }

  const report = (canceled: boolean, refused?: string): Report => {
    const sections = plans.map(({items, target}) => ({
      items: items.map(({fingerprint: _, ...item}) => item),
      noun: target.noun,
      target: target.kind,
      totals: totalsOf(items),
    }))
    return {
      canceled,
      dryRun: options.dryRun,
      engines,
      filter: options.filter && describeRunFilter(options.filter),
      minAgeMs: options.minAgeMs,
      partial,
      refused,
      targets: sections,
      totals: totalsOf(sections.flatMap((section) => section.items)),
      warnings,
    }
  }

  const refused = overLimit(planned, options.maxDelete)
  if (refused && options.dryRun) ctx.warn(`A real run would refuse: ${refused}.`)
  else if (refused) {
    for (const item of planned) decide(item, 'skipped', `refused: ${refused}`)
    return report(false, refused)
  }

  if (options.dryRun) {
    for (const item of planned) options.onDecision?.(kindOf.get(item)!, item)
    return report(false)
  }

  if (planned.length === 0) return report(false)
  if (!(await options.confirm(report(false).targets))) {
    for (const item of planned) decide(item, 'skipped', 'canceled at the prompt')
    return report(true)
  }

  await ctx.hooks.beforeRemove?.(planned)
  await removePlanned(ctx, plans, options, decide)
  return report(false)
}

/** Hands each target its orphans in plan order; whatever a target did not settle (interrupted) is skipped. */
async function removePlanned(
  ctx: TargetContext,
  plans: ReadonlyArray<{items: PlannedItem[]; target: Target}>,
  options: PipelineOptions,
  decide: (item: Item, decision: Decision, outcome: string) => void,
): Promise<void> {
  let done = 0
  const total = ctx.planned.length
  const settled = new Set<Item>()
  const settle: Settle = (item, decision, outcome) => {
    if (settled.has(item)) return
    settled.add(item)
    decide(item, decision, outcome)
    options.onProgress?.(++done, total)
  }

  for (const {items, target} of plans) {
    const orphans = orphansOf(items)
    if (orphans.length === 0 || options.signal?.aborted) continue
    try {
      // eslint-disable-next-line no-await-in-loop
      await target.remove(ctx, orphans, settle)
    } catch (error) {
      // A target that throws (an engine that died mid-batch) fails only what it had not settled: what it already
      // removed stays reported, and the targets after it still run.
      const message = (error as Error).message.split('\n')[0]!.trim() || String(error)
      ctx.warn(`${target.kind}: stopped by an error: ${message}`)
      for (const item of orphans) settle(item, 'failed', `not done: ${message}`)
    }
  }

  for (const {items} of plans) {
    for (const item of orphansOf(items)) {
      if (!settled.has(item)) decide(item, 'skipped', 'not reached: the run was interrupted')
    }
  }
}

/** Details the targets give an orphan to say what its removal will do (back up, detach, stop, move): none when kept. */
const PLANNED_ACTIONS = ['action', 'backup', 'detach', 'running'] as const

/** `--filter`: the orphans it leaves out of the pass are kept, their reason saying why, their evidence moot. */
function narrow(items: readonly PlannedItem[], filter: RunFilter): void {
  for (const item of items) {
    const why = item.decision === 'orphan' ? filteredOut(filter, item) : undefined
    if (!why) continue
    item.decision = 'kept'
    item.reason = why
    item.evidence = undefined
    for (const key of PLANNED_ACTIONS) delete item.details[key]
  }
}

function overLimit(planned: readonly Item[], maxDelete: number | undefined): string | undefined {
  if (maxDelete === undefined || planned.length <= maxDelete) return undefined
  return `${planned.length} items to remove is more than --max-delete ${maxDelete}; nothing was removed`
}

/**
 * The documented exit code for a finished report: 3 (partial) when any deletion failed or is unknown (also one an
 * interrupted earlier pass left that could not be confirmed now), the pass was refused, or an engine that is there did
 * not answer (its objects were neither judged nor removed).
 */
export function exitCodeOf(report: Report): number {
  const unresolved = report.resumed?.some((entry) => entry.decision === 'unknown') ?? false
  const silent = (report.partial?.length ?? 0) > 0
  return report.totals.failed > 0 || report.totals.unknown > 0 || unresolved || report.refused || silent ? 3 : 0
}
