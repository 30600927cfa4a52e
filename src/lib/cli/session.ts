// What the clean commands and `reap` do around a pass, once: the pass options from the shared flags, the `[y/N]`
// prompt on a terminal, and the rendering of the outcome (DESIGN.md "Confirm", "Exit codes"). Commands stay thin and
// BaseCommand stays with oclif's concerns.
import type {AuditLog} from '../output/audit-log.js'
import type {RunFilter} from '../pipeline/filter.js'
import type {PassOptions, PassOutcome} from '../pipeline/pass.js'
import type {AnyTarget, PipelineHooks, Report, TargetReport} from '../pipeline/pipeline.js'
import type {Duration} from './flags.js'

import {isTerminal, terminalOf, writeOut} from './stdio.js'

/** A command's shared flags as parsed, and where its output goes. */
export interface Session {
  /** The command id, which names the lock holder. */
  command: string
  dryRun: boolean
  /** `--filter run=` / `run!=`. */
  filter?: RunFilter
  force: boolean
  /** moat-system's state directory: where a removing pass keeps its journal (issue 21). */
  journalDir: string
  json: boolean
  lockTimeout: Duration
  /** A line for the user on stdout (suppressed by oclif under --json). */
  log(line: string): void
  /** --log-file: the audit trail (every decision, each removal's intent, the pass) appended there as JSON lines. */
  logFile?: string
  maxDelete?: number
  minAge: Duration
  moatHome: string
  /** Report a section per target (`clean`) even when only one target ran. */
  multiTarget: boolean
  /** A note for the user, once each on stderr. */
  note(message: string): void
  /** Notes given before the pass (runtime selection), merged into the report's warnings. */
  notes: readonly string[]
  /** Only errors (failures, a refusal) on stderr and the final summary line on stdout (--quiet). */
  quiet: boolean
  /** A details line under each item (--verbose). */
  verbose: boolean
}

export interface SessionOutcome {
  exitCode: number
  /** The --json document. */
  json: Record<string, unknown>
}

/** The pass options the shared flags decide; the caller adds how to confirm and what to report. */
export function passOptions(
  session: Session,
): Pick<PassOptions, 'command' | 'dryRun' | 'filter' | 'journalDir' | 'lockTimeoutMs' | 'maxDelete' | 'minAgeMs' | 'moatHome'> {
  return {
    command: session.command,
    dryRun: session.dryRun,
    filter: session.filter,
    journalDir: session.journalDir,
    lockTimeoutMs: session.lockTimeout.ms,
    maxDelete: session.maxDelete,
    minAgeMs: session.minAge.ms,
    moatHome: session.moatHome,
  }
}

/**
 * Runs one pass over these targets as a clean command does: asks on stderr unless --force (the command has already
 * refused to run without a terminal, or with --json), shows progress on stderr in a terminal, prints the outcome
 * unless --json.
 */
export async function runCleanSession(
  session: Session,
  targets: readonly AnyTarget[],
  hooks?: PipelineHooks,
  signal?: AbortSignal,
): Promise<SessionOutcome> {
  const [{exitCodeOf, totalsOf}, render, {describeHolder, runPass}, {AuditLog}] = await Promise.all([
    import('../pipeline/pipeline.js'),
    import('../output/render.js'),
    import('../pipeline/pass.js'),
    import('../output/audit-log.js'),
  ])
  const {dryRun, json} = session
  const progress = !json && !session.quiet && isTerminal(2)
  let prompted = false
  let interrupted = false
  // An unusable --log-file is a usage error now, before anything is asked.
  const log = session.logFile ? new AuditLog('json', session.logFile, dryRun) : undefined
  const started = Date.now()
  const outcome = await runPass(targets, {
    ...passOptions(session),
    async confirm(plan) {
      // Stopped before the question: nothing is asked, and the pipeline reports every planned item not reached.
      if (session.force || signal?.aborted) return true
      prompted = true
      // The plan goes where the question goes: stdout may be a pipe or a file nobody sees until it is too late.
      const look = render.lookFor(terminalOf(2), session.verbose)
      const lines = render.describeReport({canceled: false, targets: [...plan], totals: totalsOf(plan.flatMap((section) => section.items))}, 'plan', {
        grandTotal: session.multiTarget,
        look,
      })
      writeOut(2, lines.join('\n') + '\n')
      const answer = await confirmOnTerminal(plan, signal)
      interrupted = answer === 'interrupted'
      return answer === 'yes'
    },
    hooks,
    onProgress: progress
      ? (done, total) => writeOut(2, `\rRemoving ${done}/${total}${done === total ? '\n' : ''}`)
      : undefined,
    ...logged(log, signal),
    warn(message) {
      session.note(message)
      log?.note(1, message)
    },
  })
  if (log) closeLog(log, outcome, {busy: outcome.busy ? describeHolder(outcome.holder, outcome.lockDir) : undefined, durationMs: Date.now() - started}, session)

  if (outcome.busy) {
    // Documented: exit 0, so cron and `reap` overlapping a manual run is not an error. The document has the shape of
    // every other (empty sections, zero totals), with `busy: true`.
    const message = `Another clean is running for ${session.moatHome} (${describeHolder(outcome.holder, outcome.lockDir)}); nothing done.`
    session.log(message)
    const busy = {dryRun, holder: outcome.holder, message, minAge: session.minAge.text, targets, warnings: [...session.notes]}
    return {exitCode: 0, json: render.busyJson(busy, !session.multiTarget)}
  }

  const {report} = outcome
  report.warnings = [...new Set([...report.warnings, ...session.notes])]
  if (log?.problem && !report.warnings.includes(log.problem)) report.warnings.push(log.problem)
  if (!json) printOutcome(session, render, report, {logProblem: log?.problem, prompted})

  // Ctrl-C at the prompt: the shell's convention for "interrupted by SIGINT" (128 + 2). A log that could not be
  // written is a partial pass (exit 3), as for `reap`.
  const exitCode = interrupted ? 130 : log?.problem ? Math.max(3, exitCodeOf(report)) : exitCodeOf(report)
  return {exitCode, json: render.reportJson(report, session.minAge.text, !session.multiTarget)}
}

/**
 * The outcome for a person: the report (after a prompt, only what happened to the planned items: the plan is already on
 * screen), or under --quiet the problems on stderr and the summary line.
 */
function printOutcome(
  session: Session,
  render: typeof import('../output/render.js'),
  report: Report,
  {logProblem, prompted}: {logProblem?: string; prompted: boolean},
): void {
  const phase = session.dryRun ? 'dry-run' : 'done'
  if (session.quiet) {
    // The notes are left out, but a log that could not be written is an error (exit 3).
    for (const line of [...render.describeProblems(report), ...(logProblem ? [`Error: ${logProblem}`] : [])]) writeOut(2, `${line}\n`)
    session.log(render.describeSummary(report, phase, session.multiTarget))
    return
  }

  const look = render.lookFor(terminalOf(1), session.verbose)
  const options = {grandTotal: session.multiTarget, look}
  const lines = prompted
    ? report.canceled
      ? ['Canceled.']
      : render.describeReport(report, phase, {...options, only: (item) => item.decision !== 'kept'})
    : render.describeReport(report, phase, options)
  for (const line of lines) session.log(line)
}

/** What a --log-file adds to a pass: every decision, each intent and what a later pass resolved, as `reap` logs them. */
function logged(log: AuditLog | undefined, signal: AbortSignal | undefined): Pick<PassOptions, 'onDecision' | 'signal' | 'trail'> {
  if (!log) return {signal}
  return {
    onDecision: (target, item, intent) => log.decision(1, target, item, intent),
    // A --log-file that cannot be written stops the removing, as for `reap`: no removal without its record.
    signal: signal ? AbortSignal.any([signal, log.failed]) : log.failed,
    trail: {intents: (intents) => log.intents(1, intents), resumed: (resolved) => log.resumed(1, resolved)},
  }
}

/** The pass line, then the file closed; a log that failed is said once. */
function closeLog(log: AuditLog, outcome: PassOutcome, pass: {busy?: string; durationMs: number}, session: Session): void {
  log.pass(1, outcome.busy ? pass : {durationMs: pass.durationMs, refused: outcome.report.refused, totals: outcome.report.totals})
  log.close()
  if (log.problem) session.note(log.problem)
}

export type Answer = 'interrupted' | 'no' | 'yes'

/**
 * `[y/N]` on stderr, for a person at a terminal on stdin and stderr: `y` answers yes; `n`, Enter, Esc or Ctrl-D no;
 * Ctrl-C is told apart (`interrupted`) so the command can exit 130 like any interrupted program. One line of plain
 * text, the answer echoed after it: no cursor movement, so a dumb terminal (TERM=dumb) shows it as it is, and the
 * question is bold only where colour is wanted (not under NO_COLOR or TERM=dumb).
 */
export async function confirmOnTerminal(plan: readonly TargetReport[], signal?: AbortSignal): Promise<Answer> {
  const [{createInterface, emitKeypressEvents}, {describeQuestion, wantsColour}] = await Promise.all([
    import('node:readline'),
    import('../output/render.js'),
  ])
  const {stderr, stdin} = process
  const question = describeQuestion(plan)
  // A readline only for its escape-code timeout: a lone Esc is then told from the first byte of an arrow key. Raw
  // before the question shows: a key typed at once must reach us, not be a signal the terminal sends.
  const rl = createInterface({escapeCodeTimeout: 50, input: stdin})
  emitKeypressEvents(stdin, rl)
  stdin.setRawMode(true)
  stderr.write(`${wantsColour(stderr) ? `\u001B[1m${question}\u001B[22m` : question} [y/N] `)
  let onKey: ((text: string | undefined, key?: {ctrl?: boolean; name?: string}) => void) | undefined
  let onStop: (() => void) | undefined
  let stopped = false
  try {
    const answer = await new Promise<Answer>((resolve) => {
      onKey = (text, key) => {
        if (key?.ctrl && key.name === 'c') resolve('interrupted')
        else if (text === 'y' || text === 'Y') resolve('yes')
        else if (text === 'n' || text === 'N' || (key?.ctrl && key.name === 'd') || ['enter', 'escape', 'return'].includes(key?.name ?? '')) resolve('no')
      }

      stdin.on('keypress', onKey)
      // The end of input answers no; a stop signal while the question waits answers it as Ctrl-C would.
      rl.once('close', () => resolve('no'))
      onStop = () => {
        stopped = true
        resolve('interrupted')
      }

      if (signal?.aborted) onStop()
      signal?.addEventListener('abort', onStop, {once: true})
    })
    // Ctrl-C shows as the terminal would echo it; a stop signal (its note said so) just ends the line.
    stderr.write(answer === 'interrupted' ? (stopped ? '\n' : '^C\n') : `${answer}\n`)
    return answer
  } finally {
    if (onKey) stdin.off('keypress', onKey)
    if (onStop) signal?.removeEventListener('abort', onStop)
    stdin.setRawMode(false)
    rl.close()
  }
}
