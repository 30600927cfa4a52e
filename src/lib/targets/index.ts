import type {Target} from '../pipeline/pipeline.js'
import type {RuntimeChoice} from '../runtime/select.js'
import type {Runtime} from '../runtime/types.js'

import {InputError} from '../exit-codes.js'

/** Every target, in the order `clean` runs them (DESIGN.md): containers first frees networks in the same pass. */
export const TARGET_KINDS = ['containers', 'sidecars', 'networks', 'temp'] as const
export type TargetKind = (typeof TARGET_KINDS)[number]

/** The kinds that need a container runtime. */
const ENGINE_KINDS: ReadonlySet<TargetKind> = new Set(['containers', 'networks', 'sidecars'])

export interface TargetSetOptions {
  /** Apple containers may run on this host (temp dirs: their mounts cannot be checked). */
  appleCli: boolean
  moatHome: string
  runtime: RuntimeChoice
  tmpDirs?: string[]
  warn(message: string): void
}

/** Parses `--only`/`--skip` values (comma-separated or repeated) into the kinds to run, in clean order. */
export function chooseKinds(only: readonly string[] | undefined, skip: readonly string[] | undefined): TargetKind[] {
  const parse = (flag: string, values: readonly string[]) =>
    values
      .flatMap((value) => value.split(','))
      .map((value) => value.trim())
      .filter(Boolean)
      .map((value) => {
        if ((TARGET_KINDS as readonly string[]).includes(value)) return value as TargetKind
        throw new InputError(`--${flag}: "${value}" is not a target; use ${TARGET_KINDS.join(', ')} (e.g. --${flag} networks,temp)`)
      })
  const wanted = only ? new Set(parse('only', only)) : new Set(TARGET_KINDS)
  const skipped = new Set(skip ? parse('skip', skip) : [])
  return TARGET_KINDS.filter((kind) => wanted.has(kind) && !skipped.has(kind))
}

/**
 * The targets for these kinds, sharing one choice of runtimes. A runtime that cannot be reached is skipped for
 * every engine target with a note, and the temp-dir target still runs.
 */
export async function buildTargets(kinds: readonly TargetKind[], options: TargetSetOptions): Promise<Target[]> {
  const engineKinds = kinds.filter((kind) => ENGINE_KINDS.has(kind))
  let runtimes: Runtime[] = []
  if (engineKinds.length > 0) {
    const [{selectRuntimes}, {RuntimeUnreachableError}] = await Promise.all([
      import('../runtime/select.js'),
      import('../runtime/errors.js'),
    ])
    try {
      runtimes = await selectRuntimes(options.runtime, options.warn)
    } catch (error) {
      if (!(error instanceof RuntimeUnreachableError)) throw error
      options.warn(`${error.message} Skipped: ${engineKinds.join(', ')}.`)
    }
  }

  const targets: Target[] = []
  for (const kind of kinds) {
    if (ENGINE_KINDS.has(kind) && runtimes.length === 0) continue
    // eslint-disable-next-line no-await-in-loop
    const target = await makeTarget(kind, runtimes, options)
    if (target) targets.push(target as Target)
  }

  return targets
}

async function makeTarget(kind: TargetKind, runtimes: Runtime[], options: TargetSetOptions): Promise<Target | undefined> {
  switch (kind) {
    case 'containers': {
      // `clean` never stops a running run container: that takes `clean-containers --include-running`.
      const {RunContainerTarget} = await import('./run-containers.js')
      return new RunContainerTarget({moatHome: options.moatHome, runtime: 'auto', runtimes}) as Target
    }

    case 'networks': {
      const {NetworkTarget} = await import('./networks.js')
      return new NetworkTarget({moatHome: options.moatHome, runtime: 'auto', runtimes}) as Target
    }

    case 'sidecars': {
      const {SidecarTarget} = await import('./sidecars.js')
      return new SidecarTarget({moatHome: options.moatHome, runtime: 'auto', runtimes}) as Target
    }

    case 'temp': {
      const {TempDirTarget} = await import('./temp-dirs.js')
      return new TempDirTarget({
        apple: options.runtime === 'apple' || (options.runtime === 'auto' && options.appleCli),
        docker: options.runtime !== 'apple',
        roots: options.tmpDirs,
      }) as Target
    }
  }
}
