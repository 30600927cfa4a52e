// `moat-system status`: what exists and what is orphaned now, per target and runtime, and each Docker engine's
// address-pool pressure. Read-only by construction: the pass is a dry run of every target (the same scan and
// classify a clean runs; a dry run takes no lock and deletes nothing), and the pools are read after it.
import type {RunFilter} from '../pipeline/filter.js'
import type {Item, TargetReport} from '../pipeline/pipeline.js'
import type {Runtime} from '../runtime/types.js'

import {readOpenIntents} from '../output/journal.js'
import {type ReaperState, reaperStatus} from '../output/reaper-state.js'
import {runPass} from '../pipeline/pass.js'
import {describeEngines, engineAddress, type EngineReport} from '../runtime/engines.js'
import {RuntimeAbsentError} from '../runtime/errors.js'
import {defaultRuntimes, type RuntimeChoice, selectEngines, type Selection} from '../runtime/select.js'
import {buildTargets, isTargetKind, TARGET_KINDS, targetSpec} from '../targets/index.js'
import {poolUsage, type PoolUsage} from './address-pools.js'

export interface StatusOptions {
  /** `--filter run=` / `run!=`: only what the pass would take counts as orphaned. */
  filter?: RunFilter
  /** moat-system's state directory: its journal may hold removals an interrupted pass never confirmed. */
  journalDir?: string
  minAgeMs: number
  moatHome: string
  runtime: RuntimeChoice
  tmpDirs?: readonly string[]
  /** A note for the user, once each. */
  warn(message: string): void
}

/** Counts for one target on one runtime (`host` for what lives on this host's file system: temp dirs, state). */
export interface StatusCounts {
  /** Sum of the sizes known, or null when no item has one (engine objects have none). */
  bytes: null | number
  found: number
  orphanBytes: null | number
  orphans: number
}

export interface TargetStatus extends StatusCounts {
  /** The command that removes them. */
  command: string
  runtimes: Array<StatusCounts & {runtime: string}>
  target: string
}

export interface RuntimeStatus {
  /** Address-pool pressure; null for a runtime without pools (Apple) or whose pools are unknown (podman), with `note` saying so. */
  addressPools: null | (PoolUsage & {moatOrphanNetworks: string[]})
  /** The Docker endpoint, when several engines are asked. */
  engine?: string
  /** `podman` for a podman engine reached through the Docker runtime (moat-resources.md §12.1). */
  kind?: 'podman'
  note?: string
  runtime: string
}

/** A reaper of this moat home, as its state file says (issue 24): whether it runs and what it watches. */
export interface ReaperView {
  /** The state file could not be used: why. */
  problem?: string
  /** Its process is alive (a file left by a killed reaper: false). */
  running: boolean
  state?: ReaperState
}

export interface Status {
  /** Every Docker engine consulted, each once: its ID, its addresses and where each came from, its kind, whether it answered. */
  engines: EngineReport[]
  /** Engines that are there but did not answer: nothing of theirs is counted, so the status is partial (exit 3). */
  partial?: string[]
  /** The reaper of this moat home (`reap` without --once), if one ever wrote its state file; null: none. */
  reaper: null | ReaperView
  runtimes: RuntimeStatus[]
  /** True when anything is orphaned now: the command exits 4. */
  somethingToClean: boolean
  targets: TargetStatus[]
  totals: StatusCounts
  warnings: string[]
}

function reaperView(dir: string, moatHome: string): null | ReaperView {
  const view = reaperStatus(dir, moatHome)
  return view.state || view.problem ? view : null
}

/** Intents left open in the journal (read only; one that cannot be read is not a reason to fail a status). */
function unresolvedRemovals(journalDir: string, moatHome: string): number {
  try {
    return readOpenIntents(journalDir, moatHome).length
  } catch {
    return 0
  }
}

/**
 * Scans and classifies every target (volumes too) as a dry run, then reads each Docker engine's pools. Fails closed:
 * when no runtime that is there answers, RuntimeUnreachableError (a status that could not look is not "nothing to
 * clean"); an engine that is there but does not answer while others do is named in `partial` (exit 3); only when no
 * runtime exists here at all are the engine targets left out, with a warning.
 */
export async function collectStatus(options: StatusOptions): Promise<Status> {
  const warnings: string[] = []
  const warn = (message: string) => {
    if (warnings.includes(message)) return
    warnings.push(message)
    options.warn(message)
  }

  const available = defaultRuntimes(options.moatHome)
  const selection = await chooseRuntimes(options, available, warn)
  const {runtimes} = selection
  const kinds = TARGET_KINDS.filter((kind) => runtimes.length > 0 || !targetSpec(kind).needsRuntime)
  const targets = await buildTargets(kinds, {
    available: runtimes,
    moatHome: options.moatHome,
    runtime: options.runtime,
    tmpDirs: options.tmpDirs,
    warn,
  })
  const outcome = await runPass(targets, {
    command: 'status',
    confirm: async () => false,
    dryRun: true,
    filter: options.filter,
    lockTimeoutMs: 0,
    minAgeMs: options.minAgeMs,
    moatHome: options.moatHome,
    warn,
  })
  // A dry run never takes the lock, so it is never busy.
  if (outcome.busy) throw new Error('status: a dry run found the lock taken')
  const {report} = outcome
  const engineNames = [...new Set(runtimes.map((runtime) => runtime.name))]
  const sections: TargetStatus[] = report.targets.map((section) => ({
    target: section.target,
    ...countsOf(section.items),
    command: targetSpec(section.target as (typeof kinds)[number]).command,
    runtimes: [...itemsByRuntime(section, engineNames)].map(([runtime, items]) => ({runtime, ...countsOf(items)})),
  }))
  const orphanNetworks = report.targets
    .find((section) => section.target === 'networks')
    ?.items.filter((item) => item.decision === 'orphan')
  const orphanIds = new Set((orphanNetworks ?? []).map((item) => item.id))
  const allItems = report.targets.flatMap((section) => section.items)
  const totals = countsOf(allItems)
  const unresolved = options.journalDir ? unresolvedRemovals(options.journalDir, options.moatHome) : 0
  if (unresolved > 0) {
    warn(`${unresolved} removal${unresolved === 1 ? '' : 's'} an interrupted earlier pass started ${unresolved === 1 ? 'is' : 'are'} not confirmed yet: the next clean or reap resolves ${unresolved === 1 ? 'it' : 'them'} first.`)
  }

  return {
    engines: describeEngines(available),
    // Any runtime that did not answer, Apple container's services too: a status never says "nothing" of what it could not see.
    ...(selection.silent.length > 0 ? {partial: selection.silent.map((entry) => entry.message)} : {}),
    reaper: options.journalDir ? reaperView(options.journalDir, options.moatHome) : null,
    runtimes: await readAddressPools(runtimes, orphanIds),
    somethingToClean: totals.orphans > 0 || unresolved > 0,
    targets: sections,
    totals,
    warnings: [...new Set([...report.warnings, ...warnings])],
  }
}

/**
 * A target's items by the runtime that holds them (`host` for temp dirs and state), with an empty entry for each
 * runtime asked that holds none, so every runtime shows up with its zeros.
 */
export function itemsByRuntime(section: Pick<TargetReport, 'items' | 'target'>, engineNames: readonly string[]): Map<string, Item[]> {
  const names = isTargetKind(section.target) && targetSpec(section.target).needsRuntime ? engineNames : ['host']
  const byRuntime = new Map<string, Item[]>(names.map((name) => [name, []]))
  for (const item of section.items) {
    const runtime = typeof item.details.runtime === 'string' ? item.details.runtime : 'host'
    byRuntime.set(runtime, [...(byRuntime.get(runtime) ?? []), item])
  }

  return byRuntime
}

/**
 * Each runtime's address-pool pressure, read now: per Docker engine one `/info` and one network list. `orphanIds`:
 * the networks judged orphans (still there after a pass: not removed).
 */
export function readAddressPools(runtimes: readonly Runtime[], orphanIds: ReadonlySet<string>): Promise<RuntimeStatus[]> {
  return Promise.all(runtimes.map(async (runtime) => addressPoolsOf(runtime, orphanIds, runtimes.length > 1)))
}

async function addressPoolsOf(runtime: Runtime, orphanIds: ReadonlySet<string>, several: boolean): Promise<RuntimeStatus> {
  const engine = several ? (engineAddress(runtime) ?? (await runtime.addressSpace())?.engine) : undefined
  const where = engine ? {engine} : {}
  // moat-resources.md §12.1: podman's pools are not Docker's; a figure from Docker's arithmetic would be wrong.
  if (runtime.identity?.kind === 'podman') {
    return {addressPools: null, ...where, kind: 'podman', note: "its address pools are not Docker's, so their pressure is unknown", runtime: runtime.name}
  }

  const space = await runtime.addressSpace()
  if (!space) return {addressPools: null, note: `${runtime.name} has no address pool to run out of: each network is its own subnet`, runtime: runtime.name}
  const usage = poolUsage(space, orphanIds)
  const moatOrphanNetworks = space.networks.filter((network) => orphanIds.has(network.id)).map((network) => network.name).sort()
  return {runtime: runtime.name, ...where, addressPools: {...usage, moatOrphanNetworks}}
}

/**
 * The runtimes to look at, each pinged once (the targets reuse them without asking again). Those that are there but
 * do not answer are warned about and returned as silent: the status is then partial. When none answers, the error.
 */
async function chooseRuntimes(options: StatusOptions, available: readonly Runtime[], warn: (message: string) => void): Promise<Selection> {
  try {
    const selection = await selectEngines(options.runtime, available)
    for (const entry of selection.silent) warn(entry.message)
    return selection
  } catch (error) {
    if (!(error instanceof RuntimeAbsentError) || options.runtime !== 'auto') throw error
    warn(`${error.message} Not checked: ${TARGET_KINDS.filter((kind) => targetSpec(kind).needsRuntime).join(', ')}.`)
    return {runtimes: [], silent: []}
  }
}

function countsOf(items: readonly Item[]): StatusCounts {
  const orphans = items.filter((item) => item.decision === 'orphan')
  const sum = (list: readonly Item[]) =>
    list.some((item) => item.bytes !== undefined) ? list.reduce((total, item) => total + (item.bytes ?? 0), 0) : null
  // In this order in the JSON document: what is there, then what of it is orphaned.
  // eslint-disable-next-line perfectionist/sort-objects
  return {found: items.length, orphans: orphans.length, bytes: sum(items), orphanBytes: sum(orphans)}
}
