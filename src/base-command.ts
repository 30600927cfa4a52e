import type {Interfaces} from '@oclif/core'

import {Command} from '@oclif/core/command'
import * as Flags from '@oclif/core/flags'
import {homedir} from 'node:os'
import {join, resolve} from 'node:path'

import type {Session} from './lib/cli/session.js'
import type {AnyTarget, PipelineHooks} from './lib/pipeline/pipeline.js'
import type {TargetBuildOptions} from './lib/targets/index.js'

import {durationFlag, parseDurationFlag, usageError, UsageError} from './lib/cli/flags.js'
import {isTerminal, writeOut} from './lib/cli/stdio.js'
import {closest, DOCKER_FLAGS} from './lib/cli/suggest.js'
import {EXIT} from './lib/exit-codes.js'
import {checkMoatHome} from './lib/moat/home.js'
import {stateDir} from './lib/output/state-dir.js'
import {type Filters, parseFilters} from './lib/pipeline/filter.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<
  (typeof BaseCommand)['baseFlags'] & T['flags']
>

export function defaultMoatHome(): string {
  if (process.env.MOAT_HOME) return resolve(process.env.MOAT_HOME)
  // moat-resources.md §0: MOAT_HOME verbatim, else ~/.moat, else ./.moat when $HOME is unresolvable.
  const home = process.env.HOME || homedir()
  return home ? join(home, '.moat') : resolve('.moat')
}

/** A message on one line: scripts and log scrapers read errors line by line. */
export function oneLine(message: string): string {
  return message
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .join('. ')
}

/** core's NonExistentFlagsError (not exported): the unknown flags as given. */
function isUnknownFlags(err: Error): err is Error & {flags: string[]} {
  return err.message.startsWith('Nonexistent flag') && Array.isArray((err as {flags?: unknown}).flags)
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
    filter: Flags.string({
      description:
        "Narrow the pass as docker's --filter does: run=<run-id> (only that run's leftovers; repeat for several), run!=<run-id> (all but that run's), until=<duration> (--min-age). Anything tied to no run (temp dirs, export helpers) is then kept.",
      helpGroup: 'GLOBAL',
      multiple: true,
    }),
    force: Flags.boolean({
      char: 'f',
      default: false,
      description: 'Remove without asking; required when there is no terminal to ask on.',
      helpGroup: 'GLOBAL',
    }),
    'lock-timeout': durationFlag({
      default: '0s',
      description: 'How long to wait for another clean of the same moat home to finish (0s: report it and exit 0).',
      examples: '0s, 30s or 5m',
      helpGroup: 'GLOBAL',
    }),
    'log-file': Flags.string({
      description: 'Also append the audit trail to this file as JSON lines: every decision, each removal\'s intent before its request, the pass.',
      helpGroup: 'GLOBAL',
    }),
    'max-delete': Flags.integer({
      description: 'Refuse the whole pass (remove nothing, exit 3) when it would remove more than this many items.',
      helpGroup: 'GLOBAL',
      min: 0,
    }),
    'min-age': durationFlag({
      default: '1h',
      description: 'Keep anything younger than this duration: 90s, 15m, 1h30m, 7d, 2w or 1w2d (0s: no minimum).',
      examples: '90s, 15m, 1h30m, 7d or 2w (0s for no minimum)',
      helpGroup: 'GLOBAL',
    }),
    'moat-home': Flags.string({
      description: "moat's home directory [default: $MOAT_HOME or ~/.moat].",
      helpGroup: 'GLOBAL',
    }),
    quiet: Flags.boolean({
      char: 'q',
      default: false,
      description: 'Print only errors and the final summary line (cron, scripts); a prompt still shows its plan; --json is unchanged.',
      helpGroup: 'GLOBAL',
    }),
    runtime: Flags.option({
      default: 'auto' as const,
      description: 'Container runtime to check: every one there (auto: each Docker engine moat may use, and Apple container), or only docker or apple.',
      helpGroup: 'GLOBAL',
      options: ['auto', 'docker', 'apple'] as const,
    })(),
    verbose: Flags.boolean({
      default: false,
      description: 'Details under each item: what it holds, its runtime and run, the evidence behind a removable one\'s reason (one fact a line), the judged reason of a skipped one.',
      helpGroup: 'GLOBAL',
    }),
  }
  static override enableJsonFlag = true
  /** Reports a section per target (`clean`) even when only one target ran. */
  static multiTarget = false
  /** Runs without a prompt by design (`reap`): exempt from the no-terminal refusal. */
  static unattended = false
  /** `--filter`, parsed (src/lib/pipeline/filter.ts). */
  protected filters: Filters = {}
  protected flags!: BaseFlags<T>
  protected moatHome!: string
  /** Notes given before the pipeline ran (runtime selection), for the JSON document's warnings. */
  protected readonly notes: string[] = []

  /** Exactly one of: dry run, forced, or a person at a terminal who will be asked. */
  protected get mayPrompt(): boolean {
    return isTerminal(0) && isTerminal(2)
  }

  override async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    if (err.name === 'InputError') return this.catch(usageError(err.message))
    // oclif wraps what a flag's parser throws in "Parsing --x ... See more help"; the usage error is one line.
    if (err instanceof UsageError) err.message = err.line
    if (isUnknownFlags(err)) this.suggestFlags(err)
    // Core's --json path reads only err.exitCode, losing exit 2/3 (style-guide pitfall 2).
    process.exitCode ??= err.oclif?.exit ?? err.exitCode ?? EXIT.error
    if (!this.jsonEnabled() && (err as {code?: string}).code !== 'EEXIT') {
      // One unwrapped line on stderr instead of oclif's boxed, width-wrapped rendering.
      writeOut(2, `Error: ${oneLine(err.message)}\n`)
      Object.assign(err, {skipOclifErrorHandling: true})
    }

    return super.catch(err)
  }

  /**
   * Runs one clean pass over these targets (src/lib/cli/session.ts), sets the exit code, returns the --json document.
   * A stop signal (SIGTERM, SIGINT, SIGHUP, SIGQUIT) lets the removals in flight settle, reports, and exits 128+signal.
   */
  protected async clean(targets: readonly AnyTarget[], hooks?: PipelineHooks): Promise<Record<string, unknown>> {
    const [{runCleanSession}, {signalExitCode, stopOnSignals}] = await Promise.all([import('./lib/cli/session.js'), import('./lib/cli/signals.js')])
    const stop = stopOnSignals({
      exitNow: signalExitCode,
      onFirst: (signal) => writeOut(2, `${signal}: no new removal starts; those under way finish and are reported.\n`),
    })
    try {
      const outcome = await runCleanSession(this.session(), targets, hooks, stop.signal)
      process.exitCode = stop.received ? signalExitCode(stop.received) : outcome.exitCode
      return outcome.json
    } finally {
      stop.dispose()
    }
  }

  override async init(): Promise<void> {
    await super.init()
    const {flags, metadata} = await this.parse({
      args: this.ctor.args,
      baseFlags: (this.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      flags: this.ctor.flags,
      strict: this.ctor.strict,
    })
    this.flags = flags as BaseFlags<T>
    this.filters = parseFilters(this.flags.filter ?? [])
    if (this.filters.until !== undefined) {
      // docker's `--filter until=24h` is --min-age 24h; both at once would say two things.
      if (metadata.flags['min-age'] && !metadata.flags['min-age'].setFromDefault) {
        throw usageError(`--filter until=${this.filters.until} and --min-age ${this.flags['min-age'].text} say the same thing twice; give one, e.g. --min-age 24h`)
      }

      this.flags['min-age'] = parseDurationFlag('filter until', this.filters.until, {examples: 'until=90s, until=24h or until=7d'})
    }

    this.moatHome = this.flags['moat-home'] ? resolve(this.flags['moat-home']) : defaultMoatHome()
    // A file at the moat home is a usage error before any engine is asked (the pass checks it again, src/lib/moat/home.ts).
    checkMoatHome(this.moatHome)
    // DESIGN.md "Confirm": no terminal and neither --force nor --dry-run: refuse at once, never hang, never delete.
    const {unattended} = this.ctor as typeof BaseCommand
    // --json is for scripts: it never prompts (a script cannot read the plan it would be asked about), as in sf.
    if (!unattended && !this.flags['dry-run'] && !this.flags.force && this.jsonEnabled()) {
      throw usageError('Refusing to remove anything without confirmation: --json never prompts. Add --force to remove, or --dry-run for the plan, e.g. --json --dry-run.')
    }

    if (!unattended && !this.flags['dry-run'] && !this.flags.force && !this.mayPrompt) {
      throw usageError(
        'Refusing to remove anything without confirmation: there is no terminal to ask on. Re-run with --dry-run to see the plan, or --force to remove without asking.',
      )
    }
  }

  /**
   * oclif's log (a line on stdout, none under --json, formatted as console.log does), written without making Node's
   * stdout stream (src/lib/cli/stdio.ts). node:util only for what is not a plain string.
   */
  override log(message: unknown = '', ...args: unknown[]): void {
    if (this.jsonEnabled()) return
    if (typeof message === 'string' && args.length === 0) {
      writeOut(1, `${message}\n`)
      return
    }

    const {format, inspect} = process.getBuiltinModule('node:util')
    const text = typeof message === 'string' ? message : inspect(message)
    writeOut(1, `${text ? format(text, ...args) : format(...args)}\n`)
  }

  /** Plain JSON: core colourises every document first, which costs ~14 ms on a large plan and means nothing in a pipe. */
  override logJson(json: unknown): void {
    writeOut(1, JSON.stringify(json, null, 2) + '\n')
  }

  /** A note for the user: once on stderr (also under --json, whose stdout stays clean); kept for --json alone under --quiet. */
  protected note(message: string): void {
    if (this.notes.includes(message)) return
    this.notes.push(message)
    if (!this.flags?.quiet) writeOut(2, `Note: ${message}\n`)
  }

  /** The shared flags as a session (src/lib/cli/session.ts) for the pass this command runs. */
  protected session(): Session {
    const {flags} = this
    return {
      command: this.id ?? 'clean',
      dryRun: flags['dry-run'],
      filter: this.filters.runs,
      force: flags.force,
      journalDir: stateDir(),
      json: this.jsonEnabled(),
      lockTimeout: flags['lock-timeout'],
      log: (line) => this.log(line),
      logFile: flags['log-file'],
      maxDelete: flags['max-delete'],
      minAge: flags['min-age'],
      moatHome: this.moatHome,
      multiTarget: (this.ctor as typeof BaseCommand).multiTarget,
      note: (message) => this.note(message),
      notes: this.notes,
      quiet: flags.quiet,
      verbose: flags.verbose,
    }
  }

  /** What the registry needs from the shared flags to build targets (src/lib/targets/index.ts). */
  protected targetOptions(): TargetBuildOptions {
    return {moatHome: this.moatHome, runtime: this.flags.runtime}
  }

  /** A small, stable error document for --json (style-guide pitfall 3: never dump the parser context). */
  protected override toErrorJson(err: unknown): unknown {
    const e = err as Error & {code?: string; exitCode?: number; oclif?: {exit?: number}; suggestions?: string[]}
    return {
      error: {
        code: e.code ?? (e.oclif?.exit === EXIT.usage ? 'USAGE' : 'ERROR'),
        exitCode: e.oclif?.exit ?? e.exitCode ?? EXIT.error,
        message: oneLine(e.message),
        name: e.name,
        ...(e.suggestions?.length ? {suggestions: e.suggestions} : {}),
      },
    }
  }

  /** "Did you mean --dry-run?" for a mistyped flag, in the message and in the JSON error's suggestions. */
  private suggestFlags(err: Error & {flags: string[]; suggestions?: string[]}): void {
    const flags = {...(this.ctor as typeof BaseCommand).baseFlags, ...this.ctor.flags}
    const known = Object.entries(flags).flatMap(([name, flag]) => [`--${name}`, ...(flag.char ? [`-${flag.char}`] : [])])
    known.push('--json', '--help')
    const suggestions = err.flags
      .map((given) => {
        const [name, value] = given.split('=') as [string, string | undefined]
        // docker's spelling (`--older-than 24h`): this command's flag for it, with the value given.
        const docker = DOCKER_FLAGS[name]
        if (!docker || !Object.hasOwn(flags, docker.flag)) return closest(name, known)
        const after = this.argv[this.argv.indexOf(given) + 1]
        const typed = value ?? (after && !after.startsWith('-') ? after : undefined)
        return [`--${docker.flag}`, docker.value ?? typed].filter(Boolean).join(' ')
      })
      .filter((flag) => flag !== undefined)
    if (suggestions.length === 0) return
    err.suggestions = suggestions
    const [first, ...rest] = err.message.split('\n')
    err.message = [`${first} (did you mean ${suggestions.join(', ')}?)`, ...rest].join('\n')
  }
}
