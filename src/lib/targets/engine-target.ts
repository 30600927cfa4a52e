// What every engine target (containers, sidecars, networks, volumes) shares: the scan scaffold (list each runtime's
// objects, then read the run registry, DESIGN.md "A run is alive"), the one container list a pass's scans share, the
// re-check right before a removal that the runs read at scan time are still ended, the grouping by runtime, and the
// mapping of a batch's outcome to a decision.
import type {IntentAction, IntentPlace} from '../pipeline/intents.js'
import type {PlannedItem, Settle, TargetContext} from '../pipeline/pipeline.js'
import type {BatchWatch, ContainerInfo, Failure, ObjectKind, Runtime} from '../runtime/types.js'

import {RunRegistry} from '../moat/registry.js'
import {describeEngines, engineAddress} from '../runtime/engines.js'
import {defaultRuntimes, partialOf, type RuntimeChoice, selectEngines, type Silent} from '../runtime/select.js'

export interface EngineTargetOptions {
  daemonTimeoutMs?: number
  moatHome: string
  runtime: RuntimeChoice
  /** The runtimes --runtime chooses from; default every Docker engine (engines.ts) and Apple. */
  runtimes?: readonly Runtime[]
  /** With `runtimes` chosen already (`clean`): the ones that did not answer then, reported by each scan. */
  silent?: readonly Silent[]
}

export interface EngineScan<T> {
  /** Per runtime, what its list found (only runtimes with candidates). */
  listed: Array<{found: T[]; runtime: Runtime}>
  registry: RunRegistry
  /** Every runtime that answered (see engineDetail). */
  runtimes: readonly Runtime[]
}

/**
 * Lists every selected runtime side by side with `list` (its candidates), then, only when any runtime has one,
 * reads the run registry: moat-resources.md §10.1, runtime resources first and run dirs after, so a new run's
 * resources are never seen without its dir. Undefined when there is no candidate.
 */
export async function scanEngine<T>(
  ctx: TargetContext,
  options: EngineTargetOptions,
  list: (runtime: Runtime) => Promise<T[]>,
): Promise<EngineScan<T> | undefined> {
  const selection = await selectEngines(options.runtime, options.runtimes ?? defaultRuntimes(options.moatHome))
  // An engine that is there but does not answer keeps its objects (none is listed) and makes the pass partial.
  const silent = [...selection.silent, ...(options.silent ?? [])]
  const partial = partialOf({silent})
  for (const entry of silent) {
    if (partial.includes(entry.message)) ctx.partial(entry.message)
    else ctx.warn(entry.message)
  }

  const {runtimes} = selection
  ctx.consulted(describeEngines([...runtimes, ...silent.map((entry) => entry.runtime)]))
  const listed = await Promise.all(runtimes.map(async (runtime) => ({found: await list(runtime), runtime})))
  if (listed.every(({found}) => found.length === 0)) return undefined
  const registry = await readRuns(options)
  if (registry.daemon.problem) ctx.warn(`${registry.daemon.problem}; runs only the daemon knows are not protected.`)
  return {listed: listed.filter(({found}) => found.length > 0), registry, runtimes}
}

/**
 * The `engine` detail of an item: the address of the engine it lives on, only when the pass consulted more than one
 * Docker engine (with one, `runtime` says it all).
 */
export function engineDetail(runtime: Runtime, runtimes: readonly Runtime[]): string | undefined {
  return runtimes.filter((other) => other.name === 'docker').length > 1 ? engineAddress(runtime) : undefined
}

export function readRuns(options: EngineTargetOptions): Promise<RunRegistry> {
  return RunRegistry.read(options.moatHome, {daemonTimeoutMs: options.daemonTimeoutMs})
}

/**
 * DESIGN.md step 4 for every engine target alike: the run dirs read and the daemon asked again right before a
 * removal. When runs/ can no longer be read, no run can be told alive: every item is skipped as drift and
 * undefined is returned.
 */
export async function rereadRuns<I extends PlannedItem>(
  options: EngineTargetOptions,
  items: readonly I[],
  settle: Settle,
): Promise<RunRegistry | undefined> {
  try {
    return await readRuns(options)
  } catch (error) {
    for (const item of items) settle(item, 'skipped', `drift: ${(error as Error).message}`)
    return undefined
  }
}

/** Why a run judged ended at scan time (no run dir, not listed by the daemon, §10.1) is alive now, if it is. */
export function revived(registry: RunRegistry, runId: string): string | undefined {
  if (registry.runs.has(runId)) return 'run dir re-created since the scan'
  if (registry.daemon.runIds.has(runId)) return 'the moat daemon now lists the run'
  return undefined
}

/**
 * Hands each runtime's items to `remove`, one runtime after another. Once the signal is aborted no further
 * runtime is started: what is left is not settled (the pipeline reports it as not reached).
 */
export async function removeByRuntime<I extends PlannedItem<{runtime: Runtime}>>(
  ctx: TargetContext,
  items: readonly I[],
  remove: (runtime: Runtime, group: I[]) => Promise<void>,
): Promise<void> {
  const byRuntime = new Map<Runtime, I[]>()
  for (const item of items) byRuntime.set(item.fingerprint.runtime, [...(byRuntime.get(item.fingerprint.runtime) ?? []), item])
  for (const [runtime, group] of byRuntime) {
    if (ctx.signal?.aborted) return
    // eslint-disable-next-line no-await-in-loop
    await remove(runtime, group)
  }
}

/**
 * The decision for one ID of a batched removal: done, already gone or refused by the engine as in use (drift: the
 * engine guards the deletion, DESIGN.md step 4), or failed with the engine's words.
 */
export function settleRemoval(settle: Settle, item: PlannedItem, failure: Failure | undefined, removed: string): void {
  if (!failure) settle(item, 'removed', removed)
  else if (failure.kind === 'gone') settle(item, 'skipped', 'drift: gone before removal')
  else if (failure.kind === 'in-use') settle(item, 'skipped', `drift: the engine refused, in use: ${failure.message}`)
  else settle(item, 'failed', failure.message)
}

/**
 * What a removal or stop of one runtime's items follows (issue 21): the items' intents are recorded before their
 * requests are sent (those sent together in one synced append), each answer is passed to `onReply` as it arrives, and
 * after the pass's signal nothing new is sent. `key` is what the engine is asked by (full ID; a volume's name).
 */
export function watchRequests<I extends PlannedItem>(
  {ctx, runtime}: {ctx: TargetContext; runtime: Runtime},
  action: IntentAction,
  items: readonly I[],
  options: {
    key?: (item: I) => string
    object: IntentPlace['object']
    onReply(item: I, failure: Failure | undefined): void
    /** More of what a later pass needs to find the object again (a volume's creation time). */
    place?: (item: I) => Partial<IntentPlace>
  },
): {keys: string[]; watch: BatchWatch} {
  const key = options.key ?? ((item: I) => item.id)
  const byKey = new Map(items.map((item) => [key(item), item]))
  return {
    keys: [...byKey.keys()],
    watch: {
      beforeSend(keys) {
        const {address, id} = runtime.engine()
        const place: IntentPlace = {engine: address, engineId: id, object: options.object}
        return ctx.intend(
          action,
          keys.map((sent) => ({item: byKey.get(sent)!, place: {...place, ...options.place?.(byKey.get(sent)!)}})),
        )
      },
      onReply: (sent, failure) => options.onReply(byKey.get(sent)!, failure),
      signal: ctx.signal,
    },
  }
}

/**
 * Removes one runtime's items through its adapter, each recorded before its request goes out and settled as soon as
 * its answer arrives (settleRemoval). An answer that says nothing reliable (it never came, was cut off, or was a
 * 5xx) is checked again with one inspect of those objects on the same engine: gone means removed (confirmed by the
 * re-check), still there means the engine's error, and no answer means `unknown`: the engine may have removed it,
 * and the next pass finds out from the open intent. One the pass stopped before sending is left unsettled (the
 * pipeline reports it not reached).
 */
export async function removeRecorded<I extends PlannedItem>(
  {ctx, runtime, settle}: {ctx: TargetContext; runtime: Runtime; settle: Settle},
  kind: ObjectKind,
  items: readonly I[],
  options: RemovalOptions<I>,
): Promise<void> {
  const unconfirmed: Array<{failure: Failure; item: I}> = []
  const {keys, watch} = watchRequests({ctx, runtime}, 'remove', items, {
    key: options.key,
    object: kind,
    onReply(item, failure) {
      if (failure?.interrupted) return
      if (failure?.unconfirmed) unconfirmed.push({failure, item})
      else settleRemoval(settle, item, failure, options.done(item))
    },
    place: options.place,
  })
  let stopped: unknown
  try {
    await runtime.remove(kind, keys, watch)
  } catch (error) {
    // The engine went before answering anything: what was sent is checked below, the rest is the pipeline's to fail.
    stopped = error
  }

  if (unconfirmed.length > 0) await recheckRemovals({runtime, settle}, kind, unconfirmed, options)
  if (stopped) throw stopped
}

export interface RemovalOptions<I> {
  /** The outcome of a removal that was done: `removed`, `stopped and removed`, `backed up to ..., removed`. */
  done(item: I): string
  /** What the engine is asked by: the full ID (default), a volume's name. */
  key?(item: I): string
  /** More of what a later pass needs to find the object again (a volume's creation time). */
  place?(item: I): Partial<IntentPlace>
}

/** The one re-check of removals whose answers said nothing reliable (see removeRecorded). */
async function recheckRemovals<I extends PlannedItem>(
  {runtime, settle}: {runtime: Runtime; settle: Settle},
  kind: ObjectKind,
  entries: ReadonlyArray<{failure: Failure; item: I}>,
  options: RemovalOptions<I>,
): Promise<void> {
  const key = options.key ?? ((item: I) => item.id)
  let found: Map<string, unknown>
  try {
    found = await runtime.inspect(kind, entries.map(({item}) => key(item)))
  } catch (error) {
    const why = (error as Error).message.split('\n')[0]!.trim()
    for (const {failure, item} of entries) {
      settle(item, 'unknown', `${failure.message}; asked again, the engine did not answer (${why}): it may have removed it`)
    }

    return
  }

  for (const {failure, item} of entries) {
    if (found.has(key(item))) settleRemoval(settle, item, {...failure, message: `${failure.message}; still there when asked again`}, options.done(item))
    else settle(item, 'removed', `${options.done(item)} (confirmed by re-check: ${failure.message})`)
  }
}

/** Per pass (one context) and runtime, the container list the engine targets' scans share. */
const scanLists = new WeakMap<TargetContext, Map<Runtime, Promise<ContainerInfo[]>>>()

/**
 * The containers of a runtime for this pass's scans: listed (and inspected) once, not once per engine target of
 * `clean` (every scan of a pass runs before its first removal). Only the plan is made from it, read-only: each target
 * asks the engine again right before a stop or removal (its re-verify), and each scan still reads the run dirs after
 * this list was taken (§10.1).
 */
export function containersForScan(ctx: TargetContext, runtime: Runtime): Promise<ContainerInfo[]> {
  let lists = scanLists.get(ctx)
  if (!lists) scanLists.set(ctx, (lists = new Map()))
  let list = lists.get(runtime)
  if (!list) {
    list = runtime.list('container')
    lists.set(runtime, list)
    // A failed list is not shared: the next target asks again and reports its own error.
    list.catch(() => lists.delete(runtime))
  }

  return list
}
