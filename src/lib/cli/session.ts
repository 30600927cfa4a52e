// What the clean commands and `reap` do around a pass, once: the pass options from the shared flags, the `[y/N]`
// prompt on a terminal, and the rendering of the outcome (DESIGN.md "Confirm", "Exit codes"). Commands stay thin and
// BaseCommand stays with oclif's concerns.
import type {PassOptions} from '../pipeline/pass.js'
import type {AnyTarget, PipelineHooks, TargetReport} from '../pipeline/pipeline.js'
import type {Duration} from './flags.js'

/** A command's shared flags as parsed, and where its output goes. */
export interface Session {
  /** The command id, which names the lock holder. */
  command: string
  dryRun: boolean
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
}

export interface SessionOutcome {
  exitCode: number
  /** The --json document. */
  json: Record<string, unknown>
}

/** The pass options the shared flags decide; the caller adds how to confirm and what to report. */
export function passOptions(session: Session): Pick<PassOptions, 'command' | 'dryRun' | 'lockTimeoutMs' | 'maxDelete' | 'minAgeMs' | 'moatHome'> {
  return {
    command: session.command,
    dryRun: session.dryRun,
    lockTimeoutMs: session.lockTimeout.ms,
    maxDelete: session.maxDelete,
    minAgeMs: session.minAge.ms,
    moatHome: session.moatHome,
  }
}

/**
 * Runs one pass over these targets as a clean command does: asks on stderr unless --force (the command has already
 * refused to run without a terminal), shows progress on stderr in a terminal, prints the outcome unless --json.
 */
export async function runCleanSession(
  session: Session,
  targets: readonly AnyTarget[],
  hooks?: PipelineHooks,
): Promise<SessionOutcome> {
  const [{exitCodeOf}, render, {describeHolder, runPass}] = await Promise.all([
    import('../pipeline/pipeline.js'),
    import('../output/render.js'),
    import('../pipeline/pass.js'),
  ])
  const {dryRun, json} = session
  const progress = !json && process.stderr.isTTY
  let prompted = false
  const outcome = await runPass(targets, {
    ...passOptions(session),
    async confirm(plan) {
      if (session.force) return true
      prompted = true
      if (!json) for (const line of render.describeReport({canceled: false, targets: [...plan]}, 'plan')) session.log(line)
      return confirmOnTerminal(plan)
    },
    hooks,
    onProgress: progress
      ? (done, total) => process.stderr.write(`\rRemoving ${done}/${total}${done === total ? '\n' : ''}`)
      : undefined,
    warn: (message) => session.note(message),
  })
  if (outcome.busy) {
    // Documented: exit 0, so cron and `reap` overlapping a manual run is not an error.
    const message = `Another clean is running for ${session.moatHome} (${describeHolder(outcome.holder, outcome.lockDir)}); nothing done.`
    session.log(message)
    return {exitCode: 0, json: {busy: true, dryRun, lockHolder: outcome.holder ?? null, message}}
  }

  const {report} = outcome
  report.warnings = [...new Set([...report.warnings, ...session.notes])]
  if (!json) {
    // After a prompt the plan is already on screen: show only what happened to the planned items.
    const phase = dryRun ? 'dry-run' : 'done'
    const lines = prompted
      ? report.canceled
        ? ['Canceled.']
        : render.describeReport(report, phase, (item) => item.decision !== 'kept')
      : render.describeReport(report, phase)
    for (const line of lines) session.log(line)
  }

  return {exitCode: exitCodeOf(report), json: render.reportJson(report, session.minAge.text, !session.multiTarget)}
}

/** `[y/N]` on stderr, for a person at a terminal on stdin and stderr. Ctrl-C or Esc answers no. */
export async function confirmOnTerminal(plan: readonly TargetReport[]): Promise<boolean> {
  const [{default: prompts}, {plannedSize}] = await Promise.all([import('prompts'), import('../output/render.js')])
  const orphans = plan.flatMap((section) => section.items.filter((item) => item.decision === 'orphan'))
  const what = plan.length === 1 ? plan[0]!.noun[orphans.length === 1 ? 0 : 1] : 'items'
  let canceled = false
  const answer = await prompts(
    {
      initial: false,
      message: `Remove these ${orphans.length} ${what}${plannedSize(orphans)}?`,
      name: 'ok',
      stdout: process.stderr,
      type: 'confirm',
    },
    {
      onCancel() {
        canceled = true
      },
    },
  )
  return !canceled && answer.ok === true
}
