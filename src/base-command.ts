import {Command, Errors, Flags, type Interfaces} from '@oclif/core'
import {homedir} from 'node:os'
import {join, resolve} from 'node:path'

import type {PipelineHooks, Target, TargetReport} from './lib/pipeline/pipeline.js'

import {parseDuration} from './lib/duration.js'
import {EXIT} from './lib/exit-codes.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<
  (typeof BaseCommand)['baseFlags'] & T['flags']
>

/** Flags of the commands that run several targets (`clean`, `reap`). */
export const targetSelectionFlags = {
  only: Flags.string({description: 'Only these targets (comma-separated): containers, sidecars, networks, temp.', multiple: true}),
  skip: Flags.string({description: 'Skip these targets (comma-separated).', multiple: true}),
  'tmp-dir': Flags.string({description: 'Directory to scan for temp dirs instead of $TMPDIR and /tmp; repeatable.', multiple: true}),
}

/** A usage error: one line naming what was wrong with an example of what is right, exit 2. */
export function usageError(message: string): Errors.CLIError {
  return new Errors.CLIError(message, {code: 'USAGE', exit: EXIT.usage})
}

/** A Go-style duration flag in milliseconds, or a usage error naming the flag with examples. */
export function durationFlag(flag: string, value: string, examples: string): number {
  const ms = parseDuration(value)
  if (ms === undefined) {
    throw usageError(`--${flag}: ${JSON.stringify(value)} is not a duration; use a Go-style one such as ${examples}.`)
  }

  return ms
}

export function defaultMoatHome(): string {
  if (process.env.MOAT_HOME) return resolve(process.env.MOAT_HOME)
  // moat-resources.md §0: MOAT_HOME verbatim, else ~/.moat, else ./.moat when $HOME is unresolvable.
  const home = process.env.HOME || homedir()
  return home ? join(home, '.moat') : resolve('.moat')
}

/**
 * The flags, parsing, exit codes and JSON error shape every clean command shares (DESIGN.md "Flags every clean
 * command shares" and "Exit codes").
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override baseFlags = {
    'dry-run': Flags.boolean({
      default: false,
      description: 'Print the plan and remove nothing (wins over --force).',
      helpGroup: 'GLOBAL',
    }),
    force: Flags.boolean({
      char: 'f',
      default: false,
      description: 'Remove without asking; required when there is no terminal to ask on.',
      helpGroup: 'GLOBAL',
    }),
    'lock-timeout': Flags.string({
      default: '0s',
      description: 'How long to wait for another clean of the same moat home to finish (0s: report it and exit 0).',
      helpGroup: 'GLOBAL',
    }),
    'max-delete': Flags.integer({
      description: 'Refuse the whole pass (remove nothing, exit 3) when it would remove more than this many items.',
      helpGroup: 'GLOBAL',
      min: 0,
    }),
    'min-age': Flags.string({
      default: '1h',
      description: 'Keep anything younger than this Go-style duration (90s, 15m, 1h30m, 168h, 0s).',
      helpGroup: 'GLOBAL',
    }),
    'moat-home': Flags.string({
      description: "moat's home directory [default: $MOAT_HOME or ~/.moat].",
      helpGroup: 'GLOBAL',
    }),
    runtime: Flags.option({
      default: 'auto' as const,
      description: 'Container runtime to check: every one that answers (auto), or only docker or apple.',
      helpGroup: 'GLOBAL',
      options: ['auto', 'docker', 'apple'] as const,
    })(),
  }
  static override enableJsonFlag = true
  /** Reports a section per target (`clean`) even when only one target ran. */
  static multiTarget = false
  /** Runs without a prompt by design (`reap`): exempt from the no-terminal refusal. */
  static unattended = false
protected flags!: BaseFlags<T>
  protected lockTimeoutMs!: number
  protected minAgeMs!: number
  protected moatHome!: string
  /** Notes given before the pipeline ran (runtime selection), for the JSON document's warnings. */
  protected readonly notes: string[] = []

  /** Exactly one of: dry run, forced, or a person at a terminal who will be asked. */
  protected get mayPrompt(): boolean {
    return Boolean(process.stdin.isTTY && process.stderr.isTTY)
  }

  override async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    if (err.name === 'InputError') return this.catch(usageError(err.message))
    // Core's --json path reads only err.exitCode, losing exit 2/3 (style-guide pitfall 2).
    process.exitCode ??= err.oclif?.exit ?? err.exitCode ?? EXIT.error
    if (!this.jsonEnabled() && (err as {code?: string}).code !== 'EEXIT') {
      // One unwrapped line on stderr instead of oclif's boxed, width-wrapped rendering.
      const oneLine = err.message
        .split('\n')
        .map((line) => line.trim())
        .filter(Boolean)
        .join('. ')
      process.stderr.write(`Error: ${oneLine}\n`)
      Object.assign(err, {skipOclifErrorHandling: true})
    }

    return super.catch(err)
  }

  /**
   * Runs the shared pipeline over these targets with this command's flags, a prompt on stderr when there is a
   * terminal, progress on stderr in a terminal, and notes once each on stderr; prints the outcome unless --json,
   * sets the exit code, and returns the --json document.
   */
  protected async clean(targets: Target[], hooks?: PipelineHooks): Promise<Record<string, unknown>> {
    const [{exitCodeOf}, render, {describeHolder, runPass}] = await Promise.all([
      import('./lib/pipeline/pipeline.js'),
      import('./lib/output/render.js'),
      import('./lib/pipeline/pass.js'),
    ])
    const json = this.jsonEnabled()
    const dryRun = this.flags['dry-run']
    const progress = !json && process.stderr.isTTY
    let prompted = false
    const outcome = await runPass(targets, {
      command: this.id ?? 'clean',
      confirm: async (plan) => {
        if (this.flags.force) return true
        prompted = true
        if (!json) for (const line of render.describeReport({canceled: false, targets: [...plan]}, 'plan')) this.log(line)
        return this.ask(plan)
      },
      dryRun,
      hooks,
      lockTimeoutMs: this.lockTimeoutMs,
      maxDelete: this.flags['max-delete'],
      minAgeMs: this.minAgeMs,
      moatHome: this.moatHome,
      onProgress: progress
        ? (done, total) => process.stderr.write(`\rRemoving ${done}/${total}${done === total ? '\n' : ''}`)
        : undefined,
      warn: (message) => this.note(message),
    })
    if (outcome.busy) {
      // Documented: exit 0, so cron and `reap` overlapping a manual run is not an error.
      const message = `Another clean is running for ${this.moatHome} (${describeHolder(outcome.holder, outcome.lockDir)}); nothing done.`
      this.log(message)
      return {busy: true, dryRun, lockHolder: outcome.holder ?? null, message}
    }

    const {report} = outcome
    report.warnings = [...new Set([...report.warnings, ...this.notes])]
    if (!json) {
      // After a prompt the plan is already on screen: show only what happened to the planned items.
      const phase = dryRun ? 'dry-run' : 'done'
      const lines = prompted
        ? report.canceled
          ? ['Canceled.']
          : render.describeReport(report, phase, (item) => item.decision !== 'kept')
        : render.describeReport(report, phase)
      for (const line of lines) this.log(line)
    }

    process.exitCode = exitCodeOf(report)
    return render.reportJson(report, this.flags['min-age'], !(this.ctor as typeof BaseCommand).multiTarget)
  }

  override async init(): Promise<void> {
    await super.init()
    const {flags} = await this.parse({
      args: this.ctor.args,
      baseFlags: (this.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      flags: this.ctor.flags,
      strict: this.ctor.strict,
    })
    this.flags = flags as BaseFlags<T>
    this.minAgeMs = durationFlag('min-age', this.flags['min-age'], '90s, 15m, 1h30m or 168h (0s for no minimum)')
    this.lockTimeoutMs = durationFlag('lock-timeout', this.flags['lock-timeout'], '0s, 30s or 5m')
    this.moatHome = this.flags['moat-home'] ? resolve(this.flags['moat-home']) : defaultMoatHome()
    // DESIGN.md "Confirm": no terminal and neither --force nor --dry-run: refuse at once, never hang, never delete.
    const {unattended} = this.ctor as typeof BaseCommand
    if (!unattended && !this.flags['dry-run'] && !this.flags.force && !this.mayPrompt) {
      throw usageError(
        'Refusing to remove anything without confirmation: there is no terminal to ask on. Re-run with --dry-run to see the plan, or --force to remove without asking.',
      )
    }
  }

  /** Plain JSON: core colourises every document first, which costs ~14 ms on a large plan and means nothing in a pipe. */
  override logJson(json: unknown): void {
    process.stdout.write(JSON.stringify(json, null, 2) + '\n')
  }

  /** A note for the user: once on stderr (also under --json, whose stdout stays clean). */
  protected note(message: string): void {
    if (this.notes.includes(message)) return
    this.notes.push(message)
    process.stderr.write(`Note: ${message}\n`)
  }

  /** The targets `clean` and `reap` run, after --only/--skip, sharing one choice of runtimes. */
  protected async targetsFor(
    selection: {only?: string[]; skip?: string[]; 'tmp-dir'?: string[]},
    warn = (message: string) => this.note(message),
  ): Promise<Target[]> {
    const [{buildTargets, chooseKinds}, {appleCliPresent}] = await Promise.all([
      import('./lib/targets/index.js'),
      import('./lib/targets/temp-dirs.js'),
    ])
    return buildTargets(chooseKinds(selection.only, selection.skip), {
      appleCli: appleCliPresent(),
      moatHome: this.moatHome,
      runtime: this.flags.runtime,
      tmpDirs: selection['tmp-dir'],
      warn,
    })
  }

  /** A small, stable error document for --json (style-guide pitfall 3: never dump the parser context). */
  protected override toErrorJson(err: unknown): unknown {
    const e = err as Error & {code?: string; exitCode?: number; oclif?: {exit?: number}; suggestions?: string[]}
    return {
      error: {
        code: e.code ?? (e.oclif?.exit === EXIT.usage ? 'USAGE' : 'ERROR'),
        exitCode: e.oclif?.exit ?? e.exitCode ?? EXIT.error,
        message: e.message,
        name: e.name,
        ...(e.suggestions?.length ? {suggestions: e.suggestions} : {}),
      },
    }
  }

  /** `[y/N]` on stderr; only reached with a terminal on stdin and stderr (see init). */
  private async ask(plan: readonly TargetReport[]): Promise<boolean> {
    const [{default: prompts}, {plannedSize}] = await Promise.all([import('prompts'), import('./lib/output/render.js')])
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
      {onCancel() {
        canceled = true
      }},
    )
    return !canceled && answer.ok === true
  }
}
