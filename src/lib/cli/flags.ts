// Flags more than one command takes, parsed once by oclif into the values the code uses, and the usage error they
// fail with (DESIGN.md "Flags every clean command shares": one line naming the flag and an example, exit 2).
import * as Errors from '@oclif/core/errors'
import * as Flags from '@oclif/core/flags'

import {formatDuration, parseDuration} from '../duration.js'
import {EXIT} from '../exit-codes.js'
import {listKinds, TARGET_KINDS, TARGETS} from '../targets/index.js'

/**
 * A usage error: one line naming what was wrong with an example of what is right, exit 2. oclif prefixes the message
 * of an error thrown while parsing a flag ("Parsing --x ... See more help"); `line` keeps the one line to show.
 */
export class UsageError extends Errors.CLIError {
  constructor(readonly line: string) {
    super(line, {code: 'USAGE', exit: EXIT.usage})
  }
}

export function usageError(message: string): UsageError {
  return new UsageError(message)
}

/** A parsed duration. */
export interface Duration {
  ms: number
  /** Normalised (formatDuration: 90m is 1h30m, 7d is 168h), never as typed: what --json documents echo. */
  text: string
}

export interface DurationFlagOptions {
  default: string
  description: string
  /** Shown in the error: `use one such as <examples>.` */
  examples: string
  helpGroup?: string
  /** Shortest value allowed, with the example the error gives (`--interval: must be at least 1s, e.g. ...`). */
  min?: {example: string; ms: number}
}

/** Parses `text` for the flag `--name`, or throws the one-line usage error. */
export function parseDurationFlag(name: string, text: string, options: Pick<DurationFlagOptions, 'examples' | 'min'>): Duration {
  const ms = parseDuration(text)
  if (ms === undefined) {
    throw usageError(`--${name}: ${JSON.stringify(text)} is not a duration; use one such as ${options.examples}.`)
  }

  if (options.min && ms < options.min.ms) {
    throw usageError(`--${name}: must be at least ${formatDuration(options.min.ms)}, e.g. ${options.min.example}`)
  }

  return {ms, text: formatDuration(ms)}
}

/** A duration flag (90s, 15m, 1h30m, 7d, 2w, 0s), parsed once into milliseconds. */
export function durationFlag(options: DurationFlagOptions) {
  return Flags.custom<Duration>({
    // oclif does not parse defaults; the default is already valid, so it cannot fail here.
    default: async ({options: flag}) => parseDurationFlag(flag.name, options.default, options),
    // A function, so help and the manifest show the text (1h) rather than the parsed value.
    defaultHelp: async () => options.default,
    description: options.description,
    helpGroup: options.helpGroup,
    async parse(input, _context, flag) {
      return parseDurationFlag(flag.name, input, options)
    },
  })()
}

const notByDefault = TARGETS.filter((spec) => !spec.byDefault).map((spec) => spec.kind)

/** Flags of the commands that run several targets (`clean`, `reap`); the target list comes from the registry. */
export const targetSelectionFlags = {
  include: Flags.string({
    description: `Also run these targets that do not run by default (comma-separated): ${listKinds(notByDefault)}.`,
    multiple: true,
  }),
  only: Flags.string({
    description: `Only these targets (comma-separated): ${listKinds(TARGET_KINDS)}.${notByDefault.length > 0 ? ` Not run unless named: ${listKinds(notByDefault)}.` : ''}`,
    multiple: true,
  }),
  skip: Flags.string({description: 'Skip these targets (comma-separated).', multiple: true}),
  'tmp-dir': Flags.string({
    description: "Directory to scan for temp dirs instead of $TMPDIR and /tmp; repeatable. A quoted glob ('/var/folders/*/*/T') scans every directory it matches.",
    multiple: true,
  }),
}
