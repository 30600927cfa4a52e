import type {AuditLog} from '../output/audit-log.js'
import type {PassOutcome} from './pass.js'
import type {Report, Totals} from './pipeline.js'

import {InputError} from '../exit-codes.js'
import {describeHolder} from './pass.js'
import {totalsOf} from './pipeline.js'

/** The longest wait between passes while they keep failing (unless --interval is longer). */
export const MAX_BACKOFF_MS = 3_600_000

export interface ReaperOptions {
  intervalMs: number
  /** Fraction of the interval each wait may be longer or shorter by, so reapers on many hosts spread out. */
  jitter?: number
  log: AuditLog
  once: boolean
  /** After each pass is logged, whatever its outcome (`reap --metrics-file`); `outcome` is absent when it threw. */
  onPass?(pass: number, result: {durationMs: number; outcome?: PassOutcome}): Promise<void> | void
  /** One clean pass; `pass` numbers them from 1. */
  runPass(pass: number): Promise<PassOutcome>
  /**
   * Aborted by the first SIGTERM/SIGINT: the current deletion finishes, nothing more is deleted. Each pass's own
   * signal (in runPass) should also follow log.failed: no deletion without its audit line.
   */
  signal: AbortSignal
}

export interface ReaperSummary {
  /** Why the last pass could not finish (an engine that died mid-scan ...); it is logged as a pass event. */
  error?: Error
  last?: PassOutcome
  /** Why the audit log could not be written: the reaper stopped after that pass, which deleted nothing more. */
  logProblem?: string
  passes: number
  totals: Totals
}

/**
 * The wait before the next pass: the interval, doubled for each pass in a row that failed (could not finish, or
 * lost its engine), up to MAX_BACKOFF_MS or the interval if that is longer.
 */
export function nextWaitMs(intervalMs: number, failedInARow: number): number {
  if (failedInARow === 0) return intervalMs
  return Math.min(intervalMs * 2 ** (failedInARow - 1), Math.max(intervalMs, MAX_BACKOFF_MS))
}

/** Usage errors stop the reaper (nothing will get better by waiting); anything else ends only the pass. */
function stopsTheReaper(error: unknown): boolean {
  const exit = (error as {oclif?: {exit?: number}}).oclif?.exit
  return error instanceof InputError || exit === 2 || (error as {stopsReaper?: boolean}).stopsReaper === true
}

/** A pass that finished but whose engine was lost on the way (a target stopped by an error, or removals not confirmed). */
function lostEngine(report: Report): boolean {
  if (report.warnings.some((warning) => warning.includes(': stopped by an error: '))) return true
  return report.targets.some((section) =>
    section.items.some((item) => item.decision === 'unknown' || (item.decision === 'failed' && /unreachable|did not answer/.test(item.outcome ?? ''))),
  )
}

/** Runs a pass now and then one every interval until the signal, or once. */
export async function runReaper(options: ReaperOptions): Promise<ReaperSummary> {
  const summary: ReaperSummary = {passes: 0, totals: totalsOf([])}
  let failedInARow = 0
  for (let pass = 1; ; pass++) {
    const started = Date.now()
    let outcome: PassOutcome
    try {
      // eslint-disable-next-line no-await-in-loop
      outcome = await options.runPass(pass)
    } catch (error) {
      const durationMs = Date.now() - started
      if (stopsTheReaper(error) || options.once) {
        options.log.pass(pass, {durationMs, error: firstLineOf(error)})
        // eslint-disable-next-line no-await-in-loop
        await options.onPass?.(pass, {durationMs})
        throw error
      }

      // Issue 10, finding 2: an engine error ends this pass, logged, and the reaper waits for the next one.
      summary.passes = pass
      summary.error = error as Error
      failedInARow++
      const waitMs = nextWaitMs(options.intervalMs, failedInARow)
      options.log.pass(pass, {durationMs, error: firstLineOf(error), nextPassInMs: waitMs})
      // eslint-disable-next-line no-await-in-loop
      await options.onPass?.(pass, {durationMs})
      // eslint-disable-next-line no-await-in-loop
      await sleep(waitMs, options.signal)
      if (options.signal.aborted) return summary
      continue
    }

    summary.passes = pass
    summary.last = outcome
    summary.error = undefined
    const durationMs = Date.now() - started
    if (outcome.busy) {
      options.log.pass(pass, {busy: describeHolder(outcome.holder, outcome.lockDir), durationMs})
    } else {
      const {report} = outcome
      for (const warning of report.warnings) options.log.note(pass, warning)
      options.log.pass(pass, {durationMs, refused: report.refused, totals: report.totals})
      for (const key of Object.keys(summary.totals) as Array<keyof Totals>) summary.totals[key] += report.totals[key]
    }

    // eslint-disable-next-line no-await-in-loop
    await options.onPass?.(pass, {durationMs, outcome})

    if (options.log.problem) return {...summary, logProblem: options.log.problem}
    if (options.once || options.signal.aborted) return summary
    failedInARow = !outcome.busy && lostEngine(outcome.report) ? failedInARow + 1 : 0
    const jitter = options.jitter ?? 0.1
    // eslint-disable-next-line no-await-in-loop
    await sleep(nextWaitMs(options.intervalMs, failedInARow) * (1 + jitter * (2 * Math.random() - 1)), options.signal)
    if (options.signal.aborted) return summary
  }
}

function firstLineOf(error: unknown): string {
  return ((error as Error)?.message ?? String(error)).split('\n')[0]!.trim()
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, {once: true})
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
  })
}
