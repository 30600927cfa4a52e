import type {AuditLog} from '../output/audit-log.js'
import type {PassOutcome} from './pass.js'
import type {Totals} from './pipeline.js'

import {describeHolder} from './pass.js'
import {totalsOf} from './pipeline.js'

export interface ReaperOptions {
  intervalMs: number
  /** Fraction of the interval each wait may be longer or shorter by, so reapers on many hosts spread out. */
  jitter?: number
  log: AuditLog
  once: boolean
  /** One clean pass; `pass` numbers them from 1. */
  runPass(pass: number): Promise<PassOutcome>
  /** Aborted by the first SIGTERM/SIGINT: the current deletion finishes, nothing more is deleted. */
  signal: AbortSignal
}

export interface ReaperSummary {
  last?: PassOutcome
  passes: number
  totals: Totals
}

/** Runs a pass now and then one every interval until the signal, or once. */
export async function runReaper(options: ReaperOptions): Promise<ReaperSummary> {
  const summary: ReaperSummary = {passes: 0, totals: totalsOf([])}
  for (let pass = 1; ; pass++) {
    const started = Date.now()
    // eslint-disable-next-line no-await-in-loop
    const outcome = await options.runPass(pass)
    summary.passes = pass
    summary.last = outcome
    const durationMs = Date.now() - started
    if (outcome.busy) {
      options.log.pass(pass, {busy: describeHolder(outcome.holder), durationMs})
    } else {
      const {report} = outcome
      for (const warning of report.warnings) options.log.note(pass, warning)
      options.log.pass(pass, {durationMs, refused: report.refused, totals: report.totals})
      for (const key of Object.keys(summary.totals) as Array<keyof Totals>) summary.totals[key] += report.totals[key]
    }

    if (options.once || options.signal.aborted) return summary
    const jitter = options.jitter ?? 0.1
    // eslint-disable-next-line no-await-in-loop
    await sleep(options.intervalMs * (1 + jitter * (2 * Math.random() - 1)), options.signal)
    if (options.signal.aborted) return summary
  }
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
