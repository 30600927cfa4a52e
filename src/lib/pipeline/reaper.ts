import type {AuditLog} from '../output/audit-log.js'
import type {PassOutcome} from './pass.js'
import type {Report, Totals} from './pipeline.js'

import {InputError} from '../exit-codes.js'
import {describeHolder} from './pass.js'
import {totalsOf} from './pipeline.js'
import {FULL, mergeScopes, type Scope, type Trigger, type TriggerQueue} from './triggers.js'

/** The longest wait between passes while they keep failing (unless --interval is longer). */
export const MAX_BACKOFF_MS = 3_600_000

export interface ReaperOptions {
  intervalMs: number
  /** Fraction of the interval each wait may be longer or shorter by, so reapers on many hosts spread out. */
  jitter?: number
  log: AuditLog
  once: boolean
  /** After each pass is logged, whatever its outcome (`reap --metrics-file`); `outcome` is absent when it threw. */
  onPass?(pass: number, result: {durationMs: number; outcome?: PassOutcome; wake: Wake}): Promise<void> | void
  /**
   * Where the triggers of a watching reaper arrive (issue 24; watch.ts adds them). The reaper adds the start and each
   * interval itself; without watching, those are all it holds.
   */
  queue: TriggerQueue
  /** One clean pass over what woke it; `pass` numbers them from 1. */
  runPass(pass: number, wake: Wake): Promise<PassOutcome>
  /**
   * Aborted by the first SIGTERM/SIGINT: the current deletion finishes, nothing more is deleted. Each pass's own
   * signal (in runPass) should also follow log.failed: no deletion without its audit line.
   */
  signal: AbortSignal
}

/** What woke a pass: its triggers, and the scope they call for (full: every target the reaper runs). */
export interface Wake {
  scope: Scope
  triggers: Trigger[]
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

/** A targeted pass that found another clean running is tried again after this, doubled each time, up to the interval. */
export const BUSY_RETRY_MS = 5000

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

/**
 * Runs a pass now and then one every interval until the signal (or once); in between, a pass for each batch of
 * triggers the queue gives (a watching reaper). The interval counts from the end of the last full pass.
 */
export async function runReaper(options: ReaperOptions): Promise<ReaperSummary> {
  const summary: ReaperSummary = {passes: 0, totals: totalsOf([])}
  const {queue} = options
  let failedInARow = 0
  const jitter = options.jitter ?? 0.1
  const everyInterval = (waitMs: number) =>
    queue.add({at: Date.now() + waitMs, kind: 'interval', scope: FULL, what: 'the interval'}, waitMs, {key: 'interval'})
  queue.add({at: Date.now(), kind: 'start', scope: FULL, what: 'the reaper started'}, 0)
  for (let pass = 1; ; pass++) {
    // eslint-disable-next-line no-await-in-loop
    const triggers = await queue.next(options.signal)
    if (!triggers) return summary
    const wake: Wake = {scope: mergeScopes(triggers.map((trigger) => trigger.scope)), triggers}
    // `--once` is the cron form, one pass as before there were triggers: its lines name none.
    const logged = options.once ? undefined : triggers
    const started = Date.now()
    let outcome: PassOutcome
    try {
      // eslint-disable-next-line no-await-in-loop
      outcome = await options.runPass(pass, wake)
    } catch (error) {
      const durationMs = Date.now() - started
      if (stopsTheReaper(error) || options.once) {
        options.log.pass(pass, {durationMs, error: firstLineOf(error), triggers: logged})
        // eslint-disable-next-line no-await-in-loop
        await options.onPass?.(pass, {durationMs, wake})
        throw error
      }

      // Issue 10, finding 2: an engine error ends this pass, logged, and the reaper waits for the next one.
      summary.passes = pass
      summary.error = error as Error
      let nextPassInMs: number | undefined
      if (wake.scope.full) {
        failedInARow++
        nextPassInMs = nextWaitMs(options.intervalMs, failedInARow)
        everyInterval(nextPassInMs)
      }

      options.log.pass(pass, {durationMs, error: firstLineOf(error), nextPassInMs, triggers: logged})
      // eslint-disable-next-line no-await-in-loop
      await options.onPass?.(pass, {durationMs, wake})
      if (options.signal.aborted) return summary
      continue
    }

    summary.passes = pass
    summary.last = outcome
    summary.error = undefined
    const durationMs = Date.now() - started
    if (outcome.busy) {
      options.log.pass(pass, {busy: describeHolder(outcome.holder, outcome.lockDir), durationMs, triggers: logged})
      // A targeted pass is not left to the interval: its triggers come again, later each time.
      if (!wake.scope.full && !options.once) retryLater(queue, triggers, options.intervalMs)
    } else {
      const {report} = outcome
      for (const warning of report.warnings) options.log.note(pass, warning)
      options.log.pass(pass, {durationMs, refused: report.refused, totals: report.totals, triggers: logged})
      for (const key of Object.keys(summary.totals) as Array<keyof Totals>) summary.totals[key] += report.totals[key]
    }

    // eslint-disable-next-line no-await-in-loop
    await options.onPass?.(pass, {durationMs, outcome, wake})

    if (options.log.problem) return {...summary, logProblem: options.log.problem}
    if (options.once || options.signal.aborted) return summary
    if (wake.scope.full) {
      failedInARow = !outcome.busy && lostEngine(outcome.report) ? failedInARow + 1 : 0
      everyInterval(nextWaitMs(options.intervalMs, failedInARow) * (1 + jitter * (2 * Math.random() - 1)))
    }
  }
}

/** The triggers of a targeted pass that found the lock taken, queued again: 5 s, then twice as long each time, up to the interval. */
function retryLater(queue: TriggerQueue, triggers: readonly Trigger[], intervalMs: number): void {
  for (const trigger of triggers) {
    const tries = (busyTries.get(trigger) ?? 0) + 1
    busyTries.set(trigger, tries)
    queue.add(trigger, Math.min(BUSY_RETRY_MS * 2 ** (tries - 1), intervalMs))
  }
}

const busyTries = new WeakMap<Trigger, number>()

function firstLineOf(error: unknown): string {
  return ((error as Error)?.message ?? String(error)).split('\n')[0]!.trim()
}
