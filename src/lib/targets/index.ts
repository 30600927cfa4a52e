// The target registry: the one place that knows every target (kind, nouns, order in `clean`, whether it needs a
// container runtime, whether `clean`/`reap` run it by default) and how to build it. Flags, help texts, error
// messages and tests read the list from here. A target module is imported only when its target is built, so
// start-up stays cheap.
import type {AnyTarget} from '../pipeline/pipeline.js'
import type {RuntimeChoice, Silent} from '../runtime/select.js'
import type {Runtime} from '../runtime/types.js'

import {InputError} from '../exit-codes.js'

/** What a target may need to be built; each takes only what applies to it. */
export interface TargetBuildOptions {
  /** Where volume backups go, or false for `--no-backup`; default `$MOAT_HOME/backups/volumes`. */
  backupDir?: false | string
  /** Stop and remove running run containers too (`clean-containers --include-running`); `clean` never does. */
  includeRunning?: boolean
  moatHome: string
  /** Also move run dirs without metadata.json (`clean-state --include-run-dirs`); `clean` and `reap` never do. */
  runDirs?: {graceMs: number; purge: boolean}
  runtime: RuntimeChoice
  /** Runtimes chosen once for a pass over several targets; without them a target chooses when it scans. */
  runtimes?: readonly Runtime[]
  /** With `runtimes`: the engines that did not answer when they were chosen (each engine target reports them). */
  silent?: readonly Silent[]
  /** `--tmp-dir`: directories (or globs of them) to scan instead of $TMPDIR and /tmp. */
  tmpDirs?: readonly string[]
}

export interface TargetSpec {
  build(options: TargetBuildOptions): Promise<AnyTarget>
  /** Run by `clean` and `reap` unless --only names the targets (a target that must be asked for says false). */
  byDefault: boolean
  /** The thin command that runs this target alone. */
  command: string
  /** The JSON section, and the name --only/--skip take. */
  kind: string
  /** Needs a container runtime: skipped, with a note, in a pass where none answers. */
  needsRuntime: boolean
  /** Singular and plural, as the target reports itself. */
  noun: readonly [string, string]
  /** Its items belong to a run (`details.run`): a watching reaper looks at them when something happens to that run. */
  perRun?: boolean
  /** How `clean`'s help names what it removes. */
  title: string
}

/** Every target, in the order `clean` runs them (DESIGN.md): containers first frees networks in the same pass. */
export const TARGETS = [
  {
    async build(options) {
      const {RunContainerTarget} = await import('./run-containers.js')
      return new RunContainerTarget({
        includeRunning: options.includeRunning,
        moatHome: options.moatHome,
        runtime: options.runtime,
        runtimes: options.runtimes,
        silent: options.silent,
      })
    },
    byDefault: true,
    command: 'clean-containers',
    kind: 'containers',
    needsRuntime: true,
    noun: ['run container', 'run containers'],
    perRun: true,
    title: 'run containers',
  },
  {
    async build(options) {
      const {SidecarTarget} = await import('./sidecars.js')
      return new SidecarTarget({moatHome: options.moatHome, runtime: options.runtime, runtimes: options.runtimes, silent: options.silent})
    },
    byDefault: true,
    command: 'clean-sidecars',
    kind: 'sidecars',
    needsRuntime: true,
    noun: ['sidecar or service container', 'sidecars and service containers'],
    perRun: true,
    title: 'sidecars and service containers',
  },
  {
    async build(options) {
      const {HelperTarget} = await import('./helpers.js')
      return new HelperTarget({moatHome: options.moatHome, runtime: options.runtime, runtimes: options.runtimes, silent: options.silent})
    },
    byDefault: true,
    command: 'clean-helpers',
    kind: 'helpers',
    needsRuntime: true,
    noun: ['volume export helper', 'volume export helpers'],
    perRun: false,
    title: 'volume export helpers',
  },
  {
    async build(options) {
      const {NetworkTarget} = await import('./networks.js')
      return new NetworkTarget({moatHome: options.moatHome, runtime: options.runtime, runtimes: options.runtimes, silent: options.silent})
    },
    byDefault: true,
    command: 'clean-networks',
    kind: 'networks',
    needsRuntime: true,
    noun: ['network', 'networks'],
    perRun: true,
    title: 'networks',
  },
  {
    async build(options) {
      const {VolumeTarget} = await import('./volumes.js')
      return new VolumeTarget({
        backupDir: options.backupDir ?? `${options.moatHome}/backups/volumes`,
        moatHome: options.moatHome,
        runtime: options.runtime,
        runtimes: options.runtimes,
        silent: options.silent,
      })
    },
    // The only copy of an agent's work (moat-resources.md §5.1): only when asked for.
    byDefault: false,
    command: 'clean-volumes',
    kind: 'volumes',
    needsRuntime: true,
    noun: ['workspace volume', 'workspace volumes'],
    perRun: true,
    title: 'workspace volumes (only when asked for, after a verified backup)',
  },
  {
    async build(options) {
      const {StateTarget} = await import('./state.js')
      return new StateTarget({moatHome: options.moatHome, runDirs: options.runDirs, runtime: options.runtime, runtimes: options.runtimes})
    },
    byDefault: true,
    command: 'clean-state',
    kind: 'state',
    // Its run-dir rule (opt-in) asks the runtimes itself and keeps every dir when one cannot be asked.
    needsRuntime: false,
    noun: ['state leftover', 'state leftovers'],
    perRun: true,
    title: "moat's own state (socket dirs, daemon temp files and registrations)",
  },
  {
    async build(options) {
      const [{appleCliPresent}, {TempDirTarget}] = await Promise.all([import('../runtime/apple.js'), import('./temp-dirs.js')])
      return new TempDirTarget({
        apple: options.runtime === 'apple' || (options.runtime === 'auto' && appleCliPresent()),
        docker: options.runtime !== 'apple',
        // --runtime docker or apple that finds none here keeps every dir (issue 19, case 5): only auto may decide without.
        explicit: options.runtime === 'auto' ? undefined : options.runtime,
        moatHome: options.moatHome,
        roots: options.tmpDirs,
      })
    },
    byDefault: true,
    command: 'clean-temp',
    kind: 'temp',
    // Temp dirs are judged without any runtime; the bind-mount check asks the runtimes itself and fails closed.
    needsRuntime: false,
    noun: ['temporary directory', 'temporary directories'],
    perRun: false,
    title: 'temp dirs',
  },
] as const satisfies readonly TargetSpec[]

export type TargetKind = (typeof TARGETS)[number]['kind']

export const TARGET_KINDS: readonly TargetKind[] = TARGETS.map((spec) => spec.kind)
/** What `clean` and `reap` run when --only does not say. */
export const DEFAULT_KINDS: readonly TargetKind[] = TARGETS.filter((spec) => spec.byDefault).map((spec) => spec.kind)

export function isTargetKind(value: string): value is TargetKind {
  return TARGETS.some((spec) => spec.kind === value)
}

export function targetSpec(kind: TargetKind): TargetSpec {
  return TARGETS.find((spec) => spec.kind === kind)!
}

/** `a, b, c` for help texts and messages. */
export function listKinds(kinds: readonly string[] = TARGET_KINDS, last = ', '): string {
  return kinds.length < 2 ? kinds.join('') : `${kinds.slice(0, -1).join(', ')}${last}${kinds.at(-1)}`
}

/**
 * Parses `--only`/`--skip`/`--include` values (comma-separated or repeated) into the kinds to run, in clean order:
 * `--include` adds targets that do not run by default to the default set. A selection that leaves nothing to run is
 * a usage error, never a pass that silently does nothing (a cron line with a typo, or an empty shell variable).
 */
export function chooseKinds(only?: readonly string[], skip?: readonly string[], include?: readonly string[]): TargetKind[] {
  const wanted = new Set(only ? parseKinds('only', only) : [...DEFAULT_KINDS, ...(include ? parseKinds('include', include) : [])])
  const skipped = new Set(skip ? parseKinds('skip', skip) : [])
  const kinds = TARGET_KINDS.filter((kind) => wanted.has(kind) && !skipped.has(kind))
  if (kinds.length === 0) {
    const named = (set: ReadonlySet<TargetKind>) => TARGET_KINDS.filter((kind) => set.has(kind)).join(',')
    const selection = `${only ? `--only ${named(wanted)} ` : ''}--skip ${named(skipped)}`
    throw new InputError(`${selection} leaves no target to run; skip fewer (e.g. ${only ? '--only networks,temp --skip temp' : '--skip temp'})`)
  }

  return kinds
}

function parseKinds(flag: string, values: readonly string[]): TargetKind[] {
  const example = `--${flag} ${flag === 'include' ? 'volumes' : 'networks,temp'}`
  const names = values.flatMap((value) => value.split(',')).map((value) => value.trim()).filter(Boolean)
  if (names.length === 0) throw new InputError(`--${flag}: names no target; use ${listKinds()} (e.g. ${example})`)
  return names.map((value) => {
    if (isTargetKind(value)) return value
    throw new InputError(`--${flag}: "${value}" is not a target; use ${listKinds()} (e.g. ${example})`)
  })
}

/** Builds one target alone (a single-target command): it chooses its runtimes itself when it scans. */
export async function buildTarget(kind: TargetKind, options: TargetBuildOptions): Promise<AnyTarget> {
  return targetSpec(kind).build(options)
}

export interface TargetSetOptions extends Omit<TargetBuildOptions, 'runtimes'> {
  /** The runtimes --runtime chooses from; default docker and Apple. */
  available?: readonly Runtime[]
  /**
   * Told when the targets that need a runtime are dropped: `absent` when this host has no container runtime at all
   * (`--runtime auto`; those targets do not apply here), `unreachable` when one is there but does not answer.
   */
  dropped?(why: 'absent' | 'unreachable'): void
  warn(message: string): void
}

/** The targets for these kinds, sharing one choice of runtimes (`clean`, `reap`). */
export async function buildTargets(kinds: readonly TargetKind[], options: TargetSetOptions): Promise<AnyTarget[]> {
  return buildFromSpecs(kinds.map((kind) => targetSpec(kind)), options)
}

/**
 * Builds every target first, so one whose constructor rejects its input fails as a usage error before any runtime
 * is asked (and before the lock is taken), then chooses the runtimes once for all of them. A runtime that cannot be
 * reached drops every target that needs one, with a note; the others still run.
 */
export async function buildFromSpecs(specs: readonly TargetSpec[], options: TargetSetOptions): Promise<AnyTarget[]> {
  // Filled below, before any target scans: engine targets read them only then.
  const chosen: Runtime[] = []
  const silent: Silent[] = []
  const {available, dropped, warn, ...build} = options
  const targets = await Promise.all(
    specs.map((spec) => spec.build(spec.needsRuntime ? {...build, runtimes: chosen, silent} : build)),
  )
  const engineKinds = specs.filter((spec) => spec.needsRuntime).map((spec) => spec.kind)
  if (engineKinds.length === 0) return targets
  const [{defaultRuntimes, selectEngines}, {RuntimeAbsentError, RuntimeUnreachableError}] = await Promise.all([
    import('../runtime/select.js'),
    import('../runtime/errors.js'),
  ])
  try {
    const selection = await selectEngines(options.runtime, available ?? defaultRuntimes(options.moatHome))
    for (const entry of selection.silent) warn(entry.message)
    chosen.push(...selection.runtimes)
    silent.push(...selection.silent)
  } catch (error) {
    if (!(error instanceof RuntimeUnreachableError)) throw error
    warn(`${error.message} Skipped: ${engineKinds.join(', ')}.`)
    dropped?.(error instanceof RuntimeAbsentError ? 'absent' : 'unreachable')
    return targets.filter((_, index) => !specs[index]!.needsRuntime)
  }

  return targets
}
