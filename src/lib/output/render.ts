import prettyBytes from 'pretty-bytes'

import type {Resumed} from '../pipeline/intents.js'
import type {LockOwner} from '../pipeline/lock.js'
import type {Item, Report, TargetReport, Totals} from '../pipeline/pipeline.js'
import type {EngineReport} from '../runtime/engines.js'

import {formatAge} from '../duration.js'

// Human and JSON renderings of a pipeline report. Pure functions: the command decides where the lines go and passes
// what the stream can show (colour, width).

/** What a rendering shows: the plan before a prompt, a dry run, or the outcome. */
export type Phase = 'done' | 'dry-run' | 'plan'

/** What the stream the lines go to can show. */
export interface Look {
  /** ANSI colour for the decisions (a terminal without NO_COLOR). */
  colour: boolean
  /** Fit each row into this many columns (a terminal); undefined: full rows (a pipe or a file). */
  columns?: number
  /** A line of details under each row (holds, runtime, run ID, the judged reason of a skipped item, ...). */
  verbose: boolean
}

export const PLAIN: Look = {colour: false, verbose: false}

const LABEL: Record<Item['decision'], string> = {
  failed: 'FAILED',
  kept: 'keep',
  orphan: 'remove',
  removed: 'removed',
  skipped: 'skipped',
  unknown: 'UNKNOWN',
}

// SGR codes by hand: ansis and oclif's colorize decide colour from stdout alone, and the plan may go to stderr.
const SGR = {bold: 1, cyan: 36, dim: 2, green: 32, magenta: 35, red: 31, yellow: 33} as const
const DECISION_COLOUR: Record<Item['decision'], keyof typeof SGR> = {
  failed: 'red',
  kept: 'dim',
  orphan: 'cyan',
  removed: 'green',
  skipped: 'yellow',
  unknown: 'magenta',
}

function paint(look: Look, colour: keyof typeof SGR, text: string): string {
  return look.colour && text ? `\u001B[${SGR[colour]}m${text}\u001B[0m` : text
}

/**
 * Whether a stream shows colour: a terminal, unless NO_COLOR is set (no-color.org) or TERM is dumb; FORCE_COLOR
 * (0 off, anything else on) wins, as in Node and most CLIs.
 */
export function wantsColour(stream: {isTTY?: boolean}, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false'
  if (env.NO_COLOR) return false
  return Boolean(stream.isTTY) && env.TERM !== 'dumb'
}

/** How lines for this stream should look: colour and width only on a terminal. */
export function lookFor(stream: {columns?: number; isTTY?: boolean}, verbose: boolean, env: NodeJS.ProcessEnv = process.env): Look {
  return {colour: wantsColour(stream, env), columns: stream.isTTY ? stream.columns || 80 : undefined, verbose}
}

function noun(section: Pick<TargetReport, 'noun'>, count: number): string {
  return count === 1 ? section.noun[0] : section.noun[1]
}

function capitalised(text: string): string {
  return `${text[0]!.toUpperCase()}${text.slice(1)}`
}

/** Moved (a run dir into reaped/), not deleted: reported as such, and never counted as space freed. */
function moved(item: Item): boolean {
  return item.decision === 'removed' && typeof item.details.movedTo === 'string'
}

function label(item: Item, phase: Phase): string {
  if (moved(item)) return 'moved'
  if (item.decision !== 'orphan') return LABEL[item.decision]
  // A running orphan (--include-running) is stopped first: that must show without --verbose.
  const what = item.details.running === 'will stop' ? 'stop, remove' : 'remove'
  return phase === 'dry-run' ? `would ${what}` : what
}

/** The row's reason: what happened to a skipped, failed, unknown or moved item, else why it was judged so. */
function shownReason(item: Item): string {
  if ((item.decision === 'skipped' || item.decision === 'failed' || item.decision === 'unknown' || moved(item)) && item.outcome) return item.outcome
  return item.reason
}

/** The facts that do not fit in a row, for --verbose. */
export function itemDetails(item: Item): string {
  const facts = Object.entries(item.details)
    .filter(([key, value]) => value !== undefined && key !== 'path')
    .map(([key, value]) => `${key} ${Array.isArray(value) ? value.join(',') : value}`)
  if (shownReason(item) !== item.reason && item.reason) facts.push(`judged: ${item.reason}`)
  if (item.decision === 'removed' && item.outcome && item.outcome !== 'removed' && !moved(item)) facts.push(`outcome: ${item.outcome}`)
  return facts.join(', ')
}

/** The evidence behind a reason, one `check: fact` line each (--verbose, and the audit trail's text lines). */
export function evidenceLines(item: Pick<Item, 'evidence'>): string[] {
  return Object.entries(item.evidence ?? {}).map(([check, fact]) => `${check}: ${fact}`)
}

/** The text in `width` columns: padded, or cut with an ellipsis (in the middle for names, whose end tells most). */
function fit(text: string, width: number, cut: 'end' | 'middle'): string {
  const chars = [...text]
  if (chars.length <= width) return text + ' '.repeat(width - chars.length)
  if (cut === 'end') return `${chars.slice(0, width - 1).join('')}…`
  const head = Math.floor((width - 1) / 2)
  return `${chars.slice(0, head).join('')}…${chars.slice(chars.length - (width - 1 - head)).join('')}`
}

/**
 * Column widths: each column's widest cell, then, to fit `columns`, the reason shrinks first (down to 20), then the
 * name (down to 12); the short columns never do.
 */
function columnWidths(rows: readonly string[][], columns: number | undefined): number[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => [...row[column]!].length)))
  if (columns === undefined) return widths
  const over = () => widths.reduce((sum, width) => sum + width, 0) + GAP.length * (widths.length - 1) - columns
  const reason = widths.length - 1
  if (over() > 0) widths[reason] = Math.max(20, widths[reason]! - over())
  if (over() > 0) widths[0] = Math.max(12, widths[0]! - over())
  return widths
}

const GAP = '  '

/**
 * One aligned table of items: a header, then one row per item (and a details line under it with --verbose). Padded
 * here rather than by a table library: cli-table3 took 3.8 s for 2,000 rows, and a scan of a busy /tmp has that many.
 */
export function describeItems(items: readonly Item[], phase: Phase, look: Look = PLAIN): string[] {
  const sized = hasSizes(items)
  const aged = items.some((item) => item.ageMs !== undefined)
  const head = ['NAME', ...(aged ? ['AGE'] : []), ...(sized ? ['SIZE'] : []), 'DECISION', 'REASON']
  const rows = items.map((item) => [
    item.name,
    ...(aged ? [item.ageMs === undefined ? '-' : formatAge(item.ageMs)] : []),
    ...(sized ? [item.bytes === undefined ? '-' : prettyBytes(item.bytes)] : []),
    label(item, phase),
    shownReason(item),
  ])
  const decision = head.indexOf('DECISION')
  const widths = columnWidths([head, ...rows], look.columns)
  const line = (row: string[], colour?: keyof typeof SGR) =>
    row
      .map((cell, column) => {
        const text = fit(cell, widths[column]!, column === 0 ? 'middle' : 'end')
        return column === decision && colour ? paint(look, colour, cell) + text.slice(cell.length) : text
      })
      .join(GAP)
      .trimEnd()
  const out = [paint(look, 'bold', line(head))]
  for (const [index, item] of items.entries()) {
    out.push(line(rows[index]!, DECISION_COLOUR[item.decision]))
    if (look.verbose) {
      const details = itemDetails(item)
      if (details) out.push(`    ${details}`)
      for (const line of evidenceLines(item)) out.push(`    ${line}`)
    }
  }

  return out
}

export function describeTotals(section: Pick<TargetReport, 'items' | 'noun'>, totals: Totals, phase: Phase): string {
  return `${capitalised(noun(section, 2))}: ${totalsParts(section.items, totals, phase).join(', ')}.`
}

function totalsParts(items: readonly Item[], totals: Totals, phase: Phase): string[] {
  const parts = [`${totals.candidates} found`]
  if (phase === 'dry-run') parts.push(`${totals.orphans} would be removed${plannedSize(items.filter((item) => item.decision === 'orphan'))}`)
  else if (phase === 'plan') parts.push(`${totals.orphans} to remove`)
  else {
    const movedCount = items.filter((item) => moved(item)).length
    const removed = totals.removed - movedCount
    if (removed > 0 || movedCount === 0) parts.push(hasSizes(items) ? `${removed} removed (${prettyBytes(totals.bytesRemoved)} freed)` : `${removed} removed`)
    if (movedCount > 0) parts.push(`${movedCount} moved (not deleted)`)
  }

  parts.push(`${totals.kept} kept`)
  if (phase === 'done') parts.push(`${totals.skipped} skipped`, `${totals.failed} failed`)
  // Only when there is one: an answer that never came is rare, and every other line stays as it was.
  if (phase === 'done' && totals.unknown > 0) parts.push(`${totals.unknown} unknown (the engine may have removed them; the next pass finds out)`)
  return parts
}

/** `clean`'s grand total, like docker's "Total reclaimed space". */
export function describeGrandTotal(report: Pick<Report, 'targets' | 'totals'>, phase: Phase): string {
  const items = report.targets.flatMap((section) => section.items)
  return `Total: ${totalsParts(items, report.totals, phase).join(', ')}.`
}

/**
 * The plan or the outcome, one block per target. `only` limits the items listed (e.g. after a prompt); `grandTotal`
 * adds `clean`'s line over all targets.
 */
export function describeReport(
  report: Partial<Pick<Report, 'engines' | 'partial' | 'resumed' | 'totals'>> & Pick<Report, 'canceled' | 'refused' | 'targets'>,
  phase: Phase,
  options: {grandTotal?: boolean; look?: Look; only?: (item: Item) => boolean} = {},
): string[] {
  const {look = PLAIN, only} = options
  const lines: string[] = describeResumed(report.resumed ?? [], look)
  for (const section of report.targets) {
    const items = only ? section.items.filter((item) => only(item)) : section.items
    if (section.items.length === 0) {
      lines.push(`No moat ${noun(section, 2)} found.`)
      continue
    }

    if (items.length > 0) {
      lines.push(`${items.length} moat ${noun(section, items.length)}:`, ...describeItems(items, phase, look), '')
    }

    lines.push(describeTotals(section, section.totals, phase))
  }

  if (options.grandTotal && report.totals && report.targets.length > 1) lines.push(describeGrandTotal({targets: report.targets, totals: report.totals}, phase))
  if (report.refused) lines.push(`Refused: ${report.refused}.`)
  lines.push(...describeConsulted(report, look))
  if (phase === 'dry-run') lines.push('Dry run: nothing was removed.')
  else if (report.canceled) lines.push('Canceled.')
  return lines
}

/** A pass's engines (issue 19): a line when one did not answer (exit 3), and with --verbose each engine asked. */
function describeConsulted(report: Partial<Pick<Report, 'engines' | 'partial'>>, look: Look): string[] {
  const lines: string[] = []
  const silent = report.partial?.length ?? 0
  if (silent > 0) lines.push(`Partial: ${silent === 1 ? 'an engine' : `${silent} engines`} did not answer; nothing of ${silent === 1 ? 'it' : 'theirs'} was judged (see the notes).`)
  // Which engines were asked, where each address came from, which were one.
  if (look.verbose) for (const engine of report.engines ?? []) lines.push(describeEngine(engine))
  return lines
}

/**
 * One Docker engine consulted: its kind and ID, each address and where it came from, whether several addresses were
 * one engine, or why it did not answer. e.g. `engine docker 4f0c2a9e-71b3-4c1d-9e0f-5a6b7c8d9e0f:
 * unix:///var/run/docker.sock (the default socket), unix:///home/me/.docker/run/docker.sock (docker context
 * "desktop-linux"): one engine at 2 addresses`.
 */
export function describeEngine(engine: EngineReport): string {
  const addresses = engine.addresses.map((entry) => `${entry.address} (${entry.source})`).join(', ')
  if (!engine.answered) return `engine (did not answer): ${addresses}: ${engine.error ?? 'no answer'}`
  const name = [engine.kind, engine.id].filter(Boolean).join(' ')
  return `engine ${name}: ${addresses}${engine.addresses.length > 1 ? `: one engine at ${engine.addresses.length} addresses` : ''}`
}

/**
 * The one line --quiet prints on stdout: what the report's last line of totals says (`clean`'s grand total, or the
 * target's own), or that it was canceled.
 */
export function describeSummary(report: Pick<Report, 'canceled' | 'targets' | 'totals'>, phase: Phase, grandTotal: boolean): string {
  if (report.canceled) return 'Canceled.'
  if (grandTotal && report.targets.length > 1) return describeGrandTotal(report, phase)
  const [section] = report.targets
  if (!section) return describeGrandTotal(report, phase)
  return section.items.length === 0 ? `No moat ${noun(section, 2)} found.` : describeTotals(section, section.totals, phase)
}

/**
 * What --quiet still says, on stderr, one line each: what makes the exit code 3. Each failure, each removal an engine
 * never confirmed or denied (unknown, also one an interrupted earlier pass left), with its target and why, and a
 * refused pass.
 */
export function describeProblems(report: Pick<Report, 'refused' | 'resumed' | 'targets'>): string[] {
  const problems = report.targets.flatMap((section) =>
    section.items
      .filter((item) => item.decision === 'failed' || item.decision === 'unknown')
      .map((item) => `${item.decision === 'failed' ? 'Failed' : 'Unknown'}: ${section.target} ${item.name}: ${item.outcome ?? item.reason}`),
  )
  const left = (report.resumed ?? [])
    .filter((entry) => entry.decision === 'unknown')
    .map(({intent, outcome}) => `Unknown: ${intent.target} ${intent.name}: ${outcome} (started by an interrupted earlier pass)`)
  return [...left, ...problems, ...(report.refused ? [`Refused: ${report.refused}.`] : [])]
}

/**
 * What this pass found of an interrupted earlier one (issue 21): each removal it had started without a recorded
 * outcome, and what its engine (or the disk) says now.
 */
export function describeResumed(resumed: readonly Resumed[], look: Look = PLAIN): string[] {
  if (resumed.length === 0) return []
  const colour = {failed: 'red', removed: 'green', unknown: 'magenta'} as const
  return [
    `${resumed.length} removal${resumed.length === 1 ? '' : 's'} an interrupted earlier pass had started, resolved first:`,
    ...resumed.map(({decision, intent, outcome}) => `  ${paint(look, colour[decision], LABEL[decision])} ${intent.target} ${intent.name}: ${outcome}`),
    '',
  ]
}

/** The `[y/N]` question: the count per target (`clean`), with sizes where items have them. */
export function describeQuestion(plan: readonly TargetReport[]): string {
  const parts = plan.flatMap((section) => {
    const orphans = section.items.filter((item) => item.decision === 'orphan')
    return orphans.length === 0 ? [] : [`${orphans.length} ${noun(section, orphans.length)}${plannedSize(orphans)}`]
  })
  const listed = parts.length <= 1 ? parts.join('') : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`
  return `Remove ${parts.length === 1 ? 'these ' : ''}${listed}?`
}

/** Only directories have a size; containers and networks do not, and "0 B" would mislead. */
export function hasSizes(items: readonly Item[]): boolean {
  return items.some((item) => item.bytes !== undefined)
}

/** ` (12 kB)` for items with sizes, nothing otherwise. */
export function plannedSize(items: readonly Item[]): string {
  return hasSizes(items) ? ` (${prettyBytes(items.reduce((sum, item) => sum + (item.bytes ?? 0), 0))})` : ''
}

function itemJson(item: Item): Record<string, unknown> {
  return {
    id: item.id,
    name: item.name,
    ...item.details,
    ageSeconds: item.ageMs === undefined ? undefined : Math.floor(item.ageMs / 1000),
    bytes: item.bytes,
    decision: item.decision,
    evidence: item.evidence,
    outcome: item.outcome,
    reason: item.reason,
  }
}

/** One resolved intent of an interrupted earlier pass, as the JSON document's `resumed` lists it. */
export function resumedJson({decision, intent, outcome}: Resumed): Record<string, unknown> {
  return {
    action: intent.action,
    decision,
    engine: intent.engine,
    id: intent.id,
    intendedAt: intent.time,
    name: intent.name,
    outcome,
    target: intent.target,
  }
}

/** The --json document: one section for a single-target command, a `targets` map for `clean`. */
export function reportJson(report: Report, minAge: string, single: boolean): Record<string, unknown> {
  // `partial` only when an engine did not answer, as `refused` only when a pass was refused: the usual shape stays.
  const partial = report.partial?.length ? report.partial : undefined
  const resumed = report.resumed?.length ? report.resumed.map((entry) => resumedJson(entry)) : undefined
  const head = {canceled: report.canceled, dryRun: report.dryRun, filter: report.filter, minAge, partial, refused: report.refused, resumed}
  const sections = report.targets.map((section) => ({
    items: section.items.map((item) => itemJson(item)),
    target: section.target,
    totals: section.totals,
  }))
  if (single) return {...head, ...sections[0], warnings: report.warnings}
  return {...head, targets: sections, totals: report.totals, warnings: report.warnings}
}

export interface BusyPass {
  dryRun: boolean
  holder?: LockOwner
  message: string
  minAge: string
  /** The targets the pass would have run: each gets an empty section. */
  targets: ReadonlyArray<{kind: string; noun: readonly [string, string]}>
  warnings: string[]
}

/** The document of a pass that found another clean running: every other document's shape, zero totals, `busy`. */
export function busyJson(busy: BusyPass, single: boolean): Record<string, unknown> {
  const empty: Totals = {bytesRemoved: 0, candidates: 0, failed: 0, kept: 0, orphans: 0, removed: 0, skipped: 0, unknown: 0}
  const report: Report = {
    canceled: false,
    dryRun: busy.dryRun,
    minAgeMs: 0,
    targets: busy.targets.map((target) => ({items: [], noun: target.noun, target: target.kind, totals: empty})),
    totals: empty,
    warnings: busy.warnings,
  }
  return {busy: true, ...reportJson(report, busy.minAge, single), lockHolder: busy.holder ?? null, message: busy.message}
}
