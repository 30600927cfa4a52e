// `reap --metrics-file`: the node_exporter textfile-collector format (the Prometheus text exposition format), written
// after every pass. Atomically: the text goes to a temp file in the same directory, then rename(2) replaces the file,
// so node_exporter (which reads only `*.prom`) never sees half a file. Each pass's file starts from the previous one's
// pass count and last success time, so they survive `reap --once` from cron as well as a reaper restart.
// The temp file is made by this tool alone (issue 20): a new unpredictable name each time, O_CREAT|O_EXCL|O_NOFOLLOW,
// in the directory checked at start-up (the same one, by device and inode, at every pass); the rename replaces the
// entry at the file's name, a symlink planted there too, and never writes through it.
import type {Stats} from 'node:fs'

import {dirname} from 'node:path'

import type {PassOutcome} from '../pipeline/pass.js'
import type {Item, Report} from '../pipeline/pipeline.js'
import type {Runtime} from '../runtime/types.js'
import type {RuntimeStatus} from '../status/status.js'

import {InputError} from '../exit-codes.js'
import {describeType, entryStat, readStateFile, removeFile, replaceFile, temporaryName, Unreadable, writeNewFile} from '../host/checked-fs.js'
import {resolveDirectory} from '../host/dir-globs.js'
import {exitCodeOf} from '../pipeline/pipeline.js'
import {countedElsewhere, describeEngines, type EngineReport, hasAnswered} from '../runtime/engines.js'
import {itemsByRuntime, readAddressPools} from '../status/status.js'

export interface PassMetrics {
  durationMs: number
  /** When the pass ended (ms since epoch). */
  endedMs: number
  /** The runtimes the pass asked (docker, apple): every engine target has a sample for each, zeros included. */
  engineRuntimes: readonly string[]
  /** The Docker engines the pass asked, each once, and whether each answered. */
  engines: readonly EngineReport[]
  /** Each engine's address pools read after the pass (only the engines the pass asked). */
  pools: readonly RuntimeStatus[]
  /** A watching reaper's: each removal of the pass, how long after what triggered its pass it was confirmed. */
  removals?: ReadonlyArray<{kind: string; seconds: number}>
  /** The pass's report; absent when it could not finish or found another clean running. */
  report?: Report
  /** It finished, every target it was to run that applies to this host ran, and nothing failed or was refused. */
  success: boolean
  /** A watching reaper's (issue 24): the kinds of trigger that woke the pass (each counted once per pass). */
  triggerKinds?: readonly string[]
}

const EXAMPLE = 'e.g. --metrics-file /var/lib/node_exporter/textfile/moat-system.prom'

type Labels = Record<string, string | undefined>

/** One metric family: HELP, TYPE, then its samples. */
function family(name: string, type: 'counter' | 'gauge', help: string, samples: ReadonlyArray<[Labels, number]>): string[] {
  if (samples.length === 0) return []
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples.map(([labels, value]) => `${name}${labelText(labels)} ${value}`)]
}

/** The exposition format escapes backslash, double quote and newline in label values. */
function escape(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', String.raw`\"`).replaceAll('\n', String.raw`\n`)
}

function labelText(labels: Labels): string {
  const pairs = Object.entries(labels).filter((entry): entry is [string, string] => entry[1] !== undefined)
  if (pairs.length === 0) return ''
  return `{${pairs.map(([key, value]) => `${key}="${escape(value)}"`).join(',')}}`
}

/** A value of an unlabelled sample in a file this writer wrote before, if it is there. */
function previousValue(text: string, name: string): number | undefined {
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)
  const value = match ? Number(match[1]) : Number.NaN
  return Number.isFinite(value) ? value : undefined
}

/** Per target and runtime (`host` for temp dirs and state), what the pass decided. */
function perTarget(report: Report, engineRuntimes: readonly string[]): Array<{counts: Record<string, number>; labels: Labels}> {
  const rows: Array<{counts: Record<string, number>; labels: Labels}> = []
  for (const section of report.targets) {
    // Zeros too, so each series is there in every pass and `sum by (target)` never jumps.
    for (const [runtime, items] of itemsByRuntime(section, engineRuntimes)) {
      const count = (decision: Item['decision']) => items.filter((item) => item.decision === decision).length
      const bytes = items.filter((item) => item.decision === 'removed').reduce((sum, item) => sum + (item.bytes ?? 0), 0)
      rows.push({
        counts: {
          failed: count('failed'),
          found: items.length,
          kept: count('kept'),
          orphans: count('orphan'),
          removed: count('removed'),
          removedBytes: bytes,
          skipped: count('skipped'),
          unknown: count('unknown'),
        },
        labels: {runtime, target: section.target},
      })
    }
  }

  return rows
}

/** Upper bounds (seconds) of the trigger-to-removal histogram: a watching reaper's seconds up to an interval's hour. */
export const REMOVAL_BUCKETS = [0.5, 1, 2, 3, 5, 10, 30, 60, 300, 600, 1800, 3600] as const
const PASSES_BY_TRIGGER = 'moat_system_passes_by_trigger_total'
const REMOVAL_SECONDS = 'moat_system_trigger_to_removal_seconds'
/** The samples of the trigger families, carried from pass to pass (and from the file a previous reaper wrote). */
const CARRIED_SAMPLE = new RegExp(`^((?:${PASSES_BY_TRIGGER}|${REMOVAL_SECONDS}_(?:bucket|sum|count))(?:\\{[^}]*\\})?) (\\S+)$`, 'gm')

/** Series (name with its label text) to value: the counters of the trigger families so far. */
export type TriggerCounters = ReadonlyMap<string, number>

/** The trigger counters after this pass: passes per trigger kind, and each removal in the histogram of its trigger kind. */
export function countTriggers(before: TriggerCounters, pass: Pick<PassMetrics, 'removals' | 'triggerKinds'>): Map<string, number> {
  const after = new Map(before)
  const add = (series: string, value: number) => after.set(series, (after.get(series) ?? 0) + value)
  for (const kind of new Set(pass.triggerKinds)) add(`${PASSES_BY_TRIGGER}${labelText({trigger: kind})}`, 1)
  // The start and the interval time a sweep, not a leak: only what a watch heard goes into the histogram.
  for (const {kind, seconds} of (pass.removals ?? []).filter((removal) => removal.kind !== 'start' && removal.kind !== 'interval')) {
    // Every bucket of a kind is there once it has one removal: cumulative, as Prometheus histograms are.
    for (const le of REMOVAL_BUCKETS) add(`${REMOVAL_SECONDS}_bucket${labelText({le: String(le), trigger: kind})}`, seconds <= le ? 1 : 0)
    add(`${REMOVAL_SECONDS}_bucket${labelText({le: '+Inf', trigger: kind})}`, 1)
    add(`${REMOVAL_SECONDS}_sum${labelText({trigger: kind})}`, seconds)
    add(`${REMOVAL_SECONDS}_count${labelText({trigger: kind})}`, 1)
  }

  return after
}

function kindOf(series: string): string {
  return /trigger="([^"]*)"/.exec(series)?.[1] ?? ''
}

/** A histogram sample's place within its kind: the buckets by bound, +Inf, then _sum, then _count. */
function rank(series: string): number {
  const le = /le="([^"]*)"/.exec(series)?.[1]
  if (le !== undefined) return le === '+Inf' ? REMOVAL_BUCKETS.length : REMOVAL_BUCKETS.indexOf(Number(le) as (typeof REMOVAL_BUCKETS)[number])
  return series.includes('_sum') ? REMOVAL_BUCKETS.length + 1 : REMOVAL_BUCKETS.length + 2
}

function triggerFamilies(counters: TriggerCounters): string[] {
  const samples = (prefix: string) => [...counters].filter(([series]) => series.startsWith(prefix))
  const passes = samples(`${PASSES_BY_TRIGGER}{`)
  const histogram = [...samples(`${REMOVAL_SECONDS}_bucket{`), ...samples(`${REMOVAL_SECONDS}_sum{`), ...samples(`${REMOVAL_SECONDS}_count{`)]
  // Grouped per trigger kind, buckets in order, then the sum and the count: the layout the exposition format expects.
  histogram.sort(([a], [b]) => kindOf(a).localeCompare(kindOf(b)) || rank(a) - rank(b))
  const lines: string[] = []
  if (passes.length > 0) {
    lines.push(`# HELP ${PASSES_BY_TRIGGER} Passes run, per kind of trigger that woke them (a pass woken by several kinds counts for each).`, `# TYPE ${PASSES_BY_TRIGGER} counter`)
    for (const [series, value] of passes) lines.push(`${series} ${value}`)
  }

  if (histogram.length > 0) {
    lines.push(`# HELP ${REMOVAL_SECONDS} Time from what triggered a pass (a run dir removed, a container that died, the interval ...) to each removal it made, per trigger kind.`, `# TYPE ${REMOVAL_SECONDS} histogram`)
    for (const [series, value] of histogram) lines.push(`${series} ${Number(value.toFixed(6))}`)
  }

  return lines
}

/** The file's text for one pass; `previous` carries the pass count, last success time and trigger counters over. */
export function metricsText(pass: PassMetrics, previous: {counters?: TriggerCounters; lastSuccessS: number; passes: number}): string {
  const ended = Math.floor(pass.endedMs / 1000)
  const rows = pass.report ? perTarget(pass.report, pass.engineRuntimes) : []
  const perTargetFamily = (key: string, name: string, help: string) =>
    family(`moat_system_pass_${name}`, 'gauge', `${help} in the last pass, per target and runtime.`, rows.map((row) => [row.labels, row.counts[key]!]))
  const pools = pass.pools.flatMap((runtime) => (runtime.addressPools ? [{labels: {engine: runtime.engine, runtime: runtime.runtime}, usage: runtime.addressPools}] : []))
  const lines = [
    ...perTargetFamily('found', 'found', 'Moat objects found'),
    ...perTargetFamily('removed', 'removed', 'Objects removed'),
    ...perTargetFamily('kept', 'kept', 'Objects kept (alive, young, in use, not moat\'s ...)'),
    ...perTargetFamily('failed', 'failed', 'Removals that failed'),
    ...perTargetFamily('unknown', 'unknown', 'Removals the engine was sent but never confirmed or denied (the next pass resolves them)'),
    ...perTargetFamily('skipped', 'skipped', 'Objects skipped (changed since the scan, refused by --max-delete, interrupted)'),
    ...perTargetFamily('orphans', 'orphans', 'Orphans left planned, not removed (a dry run)'),
    ...perTargetFamily('removedBytes', 'removed_bytes', 'Bytes freed'),
    ...family(
      'moat_system_pass_resumed',
      'gauge',
      'Removals an interrupted earlier pass left open, resolved at the start of the last pass, per decision.',
      pass.report ? (['removed', 'failed', 'unknown'] as const).map((decision) => [{decision}, pass.report!.resumed?.filter((entry) => entry.decision === decision).length ?? 0]) : [],
    ),
    ...family('moat_system_pass_duration_seconds', 'gauge', 'How long the last pass took.', [[{}, pass.durationMs / 1000]]),
    ...family('moat_system_last_pass_timestamp_seconds', 'gauge', 'When the last pass ended (unix time).', [[{}, ended]]),
    ...family('moat_system_last_pass_success', 'gauge', '1 when the last pass finished, ran every target that applies to this host and nothing failed, else 0.', [[{}, pass.success ? 1 : 0]]),
    ...family('moat_system_last_success_timestamp_seconds', 'gauge', 'When the last successful pass ended (unix time; 0: none yet).', [
      [{}, pass.success ? ended : previous.lastSuccessS],
    ]),
    ...triggerFamilies(countTriggers(previous.counters ?? new Map(), pass)),
    ...family('moat_system_passes_total', 'counter', 'Passes run, kept across runs of reap by this file.', [[{}, previous.passes + 1]]),
    ...family(
      'moat_system_engine_up',
      'gauge',
      '1 when the Docker engine answered in the last pass, 0 when it is there but did not (its objects were not judged).',
      pass.engines.map((engine) => [{engine: engine.addresses[0]?.address, id: engine.id, kind: engine.kind}, engine.answered ? 1 : 0]),
    ),
    ...family('moat_system_address_pool_subnets', 'gauge', "Subnets the engine's default address pools can give bridge networks.", pools.map((pool) => [pool.labels, pool.usage.capacity])),
    ...family('moat_system_address_pool_subnets_used', 'gauge', 'Pool subnets held by networks.', pools.map((pool) => [pool.labels, pool.usage.used])),
    ...family('moat_system_address_pool_subnets_moat_orphans', 'gauge', "Pool subnets held by moat's orphaned networks after the pass.", pools.map((pool) => [pool.labels, pool.usage.usedByMoatOrphans])),
  ]
  return `${lines.join('\n')}\n`
}

/**
 * The metrics file of one reaper. Built at start, where a file that cannot be written is a usage error (exit 2),
 * as for --log-file; a write that fails later returns its reason for the audit log and the reaper goes on.
 */
export class MetricsFile {
  private counters: TriggerCounters = new Map()
  /** The directory as start-up found it: every later write checks it is still that one. */
  private readonly dir: Stats
  /** What the last full pass found (a watching reaper's targeted passes look at part of it: they keep these). */
  private lastFull?: Pick<PassMetrics, 'engineRuntimes' | 'engines' | 'pools' | 'report'>
  private lastSuccessS = 0
  private passes = 0

  constructor(readonly path: string) {
    const dir = dirname(path)
    try {
      this.dir = resolveDirectory(dir).stat
      if (!this.dir.isDirectory()) throw Object.assign(new Error('not a directory'), {code: 'ENOTDIR'})
    } catch (error) {
      throw new InputError(`--metrics-file: the directory ${dir} does not exist (${(error as NodeJS.ErrnoException).code}); give a file in an existing directory, ${EXAMPLE}`)
    }

    let existing: string | undefined
    try {
      const stat = entryStat(path)
      if (stat?.isDirectory()) throw new InputError(`--metrics-file: ${path} is a directory; give a file, ${EXAMPLE}`)
      if (stat && !stat.isFile()) throw new InputError(`--metrics-file: ${path} is ${describeType(stat)}, not a file this tool wrote; give a file, ${EXAMPLE}`)
      existing = readStateFile(path, 'metrics file')
    } catch (error) {
      if (error instanceof InputError) throw error
      if (!(error instanceof Unreadable)) throw error
      throw new InputError(`--metrics-file: ${error.message}; give a file this user can read and replace, ${EXAMPLE}`)
    }

    if (existing) {
      this.passes = previousValue(existing, 'moat_system_passes_total') ?? 0
      this.lastSuccessS = previousValue(existing, 'moat_system_last_success_timestamp_seconds') ?? 0
      const counters = new Map<string, number>()
      for (const [, series, value] of existing.matchAll(CARRIED_SAMPLE)) if (Number.isFinite(Number(value))) counters.set(series!, Number(value))
      this.counters = counters
    }

    // Proves now that the temp file can be made beside it, which is all a later write needs.
    const problem = this.writeAtomically()
    if (problem) throw new InputError(`--metrics-file: cannot write a file in ${dir} (${problem}); give a file in a writable directory, ${EXAMPLE}`)
  }

  /**
   * Writes the file for this pass; returns why it could not be written, if it could not. A targeted pass (`full`
   * false) keeps the per-target, engine and pool samples of the last full pass: it looked at part of them only.
   */
  write(pass: PassMetrics, full = true): string | undefined {
    const shown = full || !this.lastFull ? pass : {...pass, ...this.lastFull}
    const text = metricsText(shown, {counters: this.counters, lastSuccessS: this.lastSuccessS, passes: this.passes})
    const problem = this.writeAtomically(text)
    if (problem) return `the metrics file ${this.path} cannot be written (${problem})`
    this.counters = countTriggers(this.counters, pass)
    if (full) this.lastFull = {engineRuntimes: pass.engineRuntimes, engines: pass.engines, pools: pass.pools, report: pass.report}
    this.passes++
    if (pass.success) this.lastSuccessS = Math.floor(pass.endedMs / 1000)
    return undefined
  }

  /**
   * The text to a new temp file in the same directory, flushed, then renamed over the file; no text: only the check.
   * Not `*.prom`: node_exporter skips the temp file while it is being written.
   */
  private writeAtomically(text?: string): string | undefined {
    const temp = temporaryName(this.path)
    let made = false
    try {
      const dir = resolveDirectory(dirname(this.path)).stat
      if (dir.dev !== this.dir.dev || dir.ino !== this.dir.ino) return `the directory ${dirname(this.path)} was replaced since start-up`
      // 0644: node_exporter usually runs as another user; the counts are not secret.
      writeNewFile(temp, text ?? '', 0o644)
      made = true
      if (text === undefined) return undefined
      replaceFile(temp, this.path)
      made = false
      return undefined
    } catch (error) {
      const {code, message} = error as NodeJS.ErrnoException
      return code ?? message
    } finally {
      try {
        // Left by the check or a failed write; only ever the file this call made.
        if (made) removeFile(temp)
      } catch {}
    }
  }
}

/**
 * Writes the metrics of one reaper pass: `runtimes` are those the pass could ask, of which only the Docker engines
 * that answered have their pools read (one /info and one network list each); `complete` is false when a runtime
 * that did not answer made the pass drop targets. Returns the problems, for the audit log.
 */
export async function writePassMetrics(
  file: MetricsFile,
  pass: {available: readonly Runtime[]; complete: boolean},
  result: {
    durationMs: number
    /** False for a watching reaper's targeted pass: the engines and pools are those of the last full pass. */
    full?: boolean
    outcome?: PassOutcome
    removals?: PassMetrics['removals']
    triggers?: ReadonlyArray<{kind: string}>
  },
): Promise<string[]> {
  const problems: string[] = []
  const report = result.outcome && !result.outcome.busy ? result.outcome.report : undefined
  const networks = report?.targets.find((section) => section.target === 'networks')?.items ?? []
  // Still there after the pass: planned orphans that were not removed (a dry run, a failure, a skip).
  const orphanIds = new Set(networks.filter((item) => item.decision !== 'kept' && item.decision !== 'removed').map((item) => item.id))
  // Each engine once: an adapter that reached an engine another one reaches is not asked for its pools again.
  const asked = pass.available.filter((runtime) => hasAnswered(runtime) && !countedElsewhere(runtime))
  const full = result.full ?? true
  const engines = report && full ? asked.filter((runtime) => runtime.name === 'docker') : []
  let pools: RuntimeStatus[] = []
  try {
    pools = await readAddressPools(engines, orphanIds)
  } catch (error) {
    problems.push(`address pools not read for the metrics: ${(error as Error).message.split('\n')[0]}`)
  }

  const problem = file.write(
    {
      durationMs: result.durationMs,
      endedMs: Date.now(),
      engineRuntimes: [...new Set(asked.map((runtime) => runtime.name))],
      engines: describeEngines(pass.available),
      pools,
      removals: result.removals,
      report,
      success: Boolean(report) && pass.complete && exitCodeOf(report!) === 0,
      triggerKinds: result.triggers?.map((trigger) => trigger.kind),
    },
    full,
  )
  if (problem) problems.push(problem)
  return problems
}
