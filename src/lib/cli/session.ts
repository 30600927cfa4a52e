// What the clean commands and `reap` do around a pass, once: the pass options from the shared flags, the `[y/N]`
// prompt on a terminal, and the rendering of the outcome (DESIGN.md "Confirm", "Exit codes"). Commands stay thin and
// BaseCommand stays with oclif's concerns.
import type {RunFilter} from '../pipeline/filter.js'
import type {PassOptions} from '../pipeline/pass.js'
import type {AnyTarget, PipelineHooks, TargetReport} from '../pipeline/pipeline.js'
import type {Duration} from './flags.js'

/** A command's shared flags as parsed, and where its output goes. */
export interface Session {
  /** The command id, which names the lock holder. */
  command: string
  dryRun: boolean
  /** `--filter run=` / `run!=`. */
  filter?: RunFilter
  force: boolean
  json: boolean
  lockTimeout: Duration
  /** A line for the user on stdout (suppressed by oclif under --json). */
  log(line: string): void
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
export function passOptions(session: Session): Pick<PassOptions, 'command' | 'dryRun' | 'filter' | 'lockTimeoutMs' | 'maxDelete' | 'minAgeMs' | 'moatHome'> {
  return {
    command: session.command,
    dryRun: session.dryRun,
    filter: session.filter,
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
): Promise<SessionOutcome> {
  const [{exitCodeOf, totalsOf}, render, {describeHolder, runPass}] = await Promise.all([
    import('../pipeline/pipeline.js'),
    import('../output/render.js'),
    import('../pipeline/pass.js'),
  ])
  const {dryRun, json} = session
  const progress = !json && !session.quiet && process.stderr.isTTY
  let prompted = false
  let interrupted = false
  const outcome = await runPass(targets, {
    ...passOptions(session),
    async confirm(plan) {
      if (session.force) return true
      prompted = true
      // The plan goes where the question goes: stdout may be a pipe or a file nobody sees until it is too late.
      const look = render.lookFor(process.stderr, session.verbose)
      const lines = render.describeReport({canceled: false, targets: [...plan], totals: totalsOf(plan.flatMap((section) => section.items))}, 'plan', {
        grandTotal: session.multiTarget,
        look,
      })
      process.stderr.write(lines.join('\n') + '\n')
      const answer = await confirmOnTerminal(plan)
      interrupted = answer === 'interrupted'
      return answer === 'yes'
    },
    hooks,
    onProgress: progress
      ? (done, total) => process.stderr.write(`\rRemoving ${done}/${total}${done === total ? '\n' : ''}`)
      : undefined,
    warn: (message) => session.note(message),
  })
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
  if (!json && session.quiet) {
    const phase = dryRun ? 'dry-run' : 'done'
    for (const line of render.describeProblems(report)) process.stderr.write(`${line}\n`)
    session.log(render.describeSummary(report, phase, session.multiTarget))
  } else if (!json) {
    const look = render.lookFor(process.stdout, session.verbose)
    const phase = dryRun ? 'dry-run' : 'done'
    // After a prompt the plan is already on screen: show only what happened to the planned items.
    const lines = prompted
      ? report.canceled
        ? ['Canceled.']
        : render.describeReport(report, phase, {grandTotal: session.multiTarget, look, only: (item) => item.decision !== 'kept'})
      : render.describeReport(report, phase, {grandTotal: session.multiTarget, look})
    for (const line of lines) session.log(line)
  }

  // Ctrl-C at the prompt: the shell's convention for "interrupted by SIGINT" (128 + 2).
  const exitCode = interrupted ? 130 : exitCodeOf(report)
  return {exitCode, json: render.reportJson(report, session.minAge.text, !session.multiTarget)}
}

export type Answer = 'interrupted' | 'no' | 'yes'

/**
 * `[y/N]` on stderr, for a person at a terminal on stdin and stderr: `y` answers yes; `n`, Enter, Esc or Ctrl-D no;
 * Ctrl-C is told apart (`interrupted`) so the command can exit 130 like any interrupted program. One line of plain
 * text, the answer echoed after it: no cursor movement, so a dumb terminal (TERM=dumb) shows it as it is, and the
 * question is bold only where colour is wanted (not under NO_COLOR or TERM=dumb).
 */
export async function confirmOnTerminal(plan: readonly TargetReport[]): Promise<Answer> {
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
  try {
    const answer = await new Promise<Answer>((resolve) => {
      onKey = (text, key) => {
        if (key?.ctrl && key.name === 'c') resolve('interrupted')
        else if (text === 'y' || text === 'Y') resolve('yes')
        else if (text === 'n' || text === 'N' || (key?.ctrl && key.name === 'd') || ['enter', 'escape', 'return'].includes(key?.name ?? '')) resolve('no')
      }

      stdin.on('keypress', onKey)
      // The end of input answers no.
      rl.once('close', () => resolve('no'))
    })
    stderr.write(answer === 'interrupted' ? '^C\n' : `${answer}\n`)
    return answer
  } finally {
    if (onKey) stdin.off('keypress', onKey)
    stdin.setRawMode(false)
    rl.close()
  }
}
