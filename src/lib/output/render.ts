import prettyBytes from 'pretty-bytes'

import type {Item, Report, TargetReport, Totals} from '../pipeline/pipeline.js'

import {formatAge} from '../duration.js'

// Human and JSON renderings of a pipeline report. Pure functions: the command decides where the lines go.

const LABEL: Record<Item['decision'], string> = {
  failed: 'FAILED',
  kept: 'keep',
  orphan: 'remove',
  removed: 'removed',
  skipped: 'skipped',
}

function noun(section: Pick<TargetReport, 'noun'>, count: number): string {
  return count === 1 ? section.noun[0] : section.noun[1]
}

/** What a rendering shows: the plan before a prompt, a dry run, or the outcome. */
export type Phase = 'done' | 'dry-run' | 'plan'

export function describeItem(item: Item, phase: Phase): string[] {
  const facts = Object.entries(item.details)
    .filter(([key, value]) => value !== undefined && key !== 'path')
    .map(([key, value]) => `${key} ${Array.isArray(value) ? value.join(',') : value}`)
  if (item.ageMs !== undefined) facts.push(`age ${formatAge(item.ageMs)}`)
  if (item.bytes !== undefined) facts.push(prettyBytes(item.bytes))
  const label = item.decision === 'orphan' && phase === 'dry-run' ? 'would remove' : LABEL[item.decision]
  const why = item.reason && item.reason !== item.decision && item.reason !== 'orphan' ? `: ${item.reason}` : ''
  return [`  ${item.name}`, `      ${facts.join(', ')}`, `      ${label}${why}`]
}

export function describeTotals(section: Pick<TargetReport, 'items' | 'noun'>, totals: Totals, phase: Phase): string {
  const parts = [`${totals.candidates} found`]
  if (phase === 'dry-run') parts.push(`${totals.orphans} would be removed`)
  else if (phase === 'plan') parts.push(`${totals.orphans} to remove`)
  else if (hasSizes(section.items)) parts.push(`${totals.removed} removed (${prettyBytes(totals.bytesRemoved)} freed)`)
  else parts.push(`${totals.removed} removed`)
  parts.push(`${totals.kept} kept`)
  if (phase === 'done') parts.push(`${totals.skipped} skipped`, `${totals.failed} failed`)
  return `${noun(section, 2)[0]!.toUpperCase()}${noun(section, 2).slice(1)}: ${parts.join(', ')}.`
}

/** The plan or the outcome, one block per target. `only` limits the items listed (e.g. after a prompt). */
export function describeReport(
  report: Pick<Report, 'canceled' | 'refused' | 'targets'>,
  phase: Phase,
  only?: (item: Item) => boolean,
): string[] {
  const lines: string[] = []
  for (const section of report.targets) {
    const items = only ? section.items.filter((item) => only(item)) : section.items
    if (section.items.length === 0) {
      lines.push(`No moat ${noun(section, 2)} found.`)
      continue
    }

    if (items.length > 0) {
      lines.push(`${items.length} moat ${noun(section, items.length)}:`)
      for (const item of items) lines.push(...describeItem(item, phase))
      lines.push('')
    }

    lines.push(describeTotals(section, section.totals, phase))
  }

  if (report.refused) lines.push(`Refused: ${report.refused}.`)
  if (phase === 'dry-run') lines.push('Dry run: nothing was removed.')
  else if (report.canceled) lines.push('Canceled.')
  return lines
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
    reason: item.reason,
  }
}

/** The --json document: one section for a single-target command, a `targets` map for `clean`. */
export function reportJson(report: Report, minAge: string, single: boolean): Record<string, unknown> {
  const head = {canceled: report.canceled, dryRun: report.dryRun, minAge, refused: report.refused}
  const sections = report.targets.map((section) => ({
    items: section.items.map((item) => itemJson(item)),
    target: section.target,
    totals: section.totals,
  }))
  if (single) return {...head, ...sections[0], warnings: report.warnings}
  return {...head, targets: sections, totals: report.totals, warnings: report.warnings}
}
