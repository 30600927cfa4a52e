// `--filter`, docker's way to narrow a prune, for what moat's users need to narrow (README "Narrowing a pass"): one
// run's leftovers alone (`run=<id>`, to clean up after one crashed run), or everything but one run's (`run!=<id>`,
// to keep a run's containers and dirs for a post-mortem), and `until=<duration>`, docker's spelling of --min-age.
// The pipeline applies it to every target alike, after the plan: an orphan it leaves out is kept, with why.
import type {Item} from './pipeline.js'

import {InputError} from '../exit-codes.js'
import {RUN_ID} from '../moat/run-id.js'

/** The runs a pass is narrowed to (`run=`), or the runs it leaves alone (`run!=`). */
export interface RunFilter {
  except: boolean
  runs: ReadonlySet<string>
}

export interface Filters {
  runs?: RunFilter
  /** `until=<duration>`: --min-age by docker's name (the text as given). */
  until?: string
}

const EXAMPLE = 'e.g. --filter run=run_0123456789ab, --filter run!=run_0123456789ab or --filter until=24h'

/**
 * Parses `--filter` values (`key=value`, repeatable; several `run=` mean any of those runs) or throws InputError with
 * one line saying what is supported. `label=` is refused with why: moat's labels name a run or a kind, which run= and
 * --only already choose, and run containers and temp dirs carry none.
 */
export function parseFilters(values: readonly string[]): Filters {
  const filters: Filters = {}
  const runs = new Set<string>()
  const ops = new Set<string>()
  for (const value of values) {
    const match = /^([a-z]+)(!?=)(.*)$/.exec(value.trim())
    if (!match) throw new InputError(`--filter: "${value}" is not key=value; ${EXAMPLE}`)
    const [, key, op, operand] = match as unknown as [string, string, string, string]
    if (key === 'label') {
      throw new InputError(
        `--filter ${value}: labels are not a filter here: moat's labels only name a run or a kind of object, and run containers and temp dirs carry none; choose a run with --filter run=<run-id>, a kind with --only (e.g. --only sidecars)`,
      )
    }

    if (key === 'until') {
      if (op !== '=') throw new InputError(`--filter ${value}: until takes =, e.g. --filter until=24h`)
      if (filters.until !== undefined) throw new InputError(`--filter: until is given twice (until=${filters.until}, ${value}); give one, e.g. --filter until=24h`)
      filters.until = operand
      continue
    }

    if (key !== 'run') throw new InputError(`--filter: "${key}" is not a filter; the filters are run=, run!= and until= (${EXAMPLE})`)
    if (!RUN_ID.test(operand)) throw new InputError(`--filter ${value}: "${operand}" is not a run ID (run_ and 12 hex digits), e.g. --filter ${key}${op}run_0123456789ab`)
    runs.add(operand)
    ops.add(op)
  }

  if (ops.size > 1) throw new InputError('--filter: run= and run!= do not go together; give one kind, e.g. --filter run=run_0123456789ab')
  if (runs.size > 0) filters.runs = {except: ops.has('!='), runs}

  return filters
}

/** The filter as the user would write it again: `run=a`, `run!=b` (for notes and the JSON document). */
export function describeRunFilter(filter: RunFilter): string[] {
  return [...filter.runs].map((runId) => `run${filter.except ? '!=' : '='}${runId}`)
}

/**
 * Why the filter leaves this orphan out of the pass, or undefined when it stays in. An item tied to no run (a temp
 * dir, a volume export helper, a daemon temp file) is left out either way: with run= it is not the run's, and with
 * run!= it might be the very run's, which cannot be told, so it is kept (fail closed).
 */
export function filteredOut(filter: RunFilter, item: Item): string | undefined {
  const run = typeof item.details.run === 'string' && item.details.run ? item.details.run : undefined
  const given = describeRunFilter(filter).join(' ')
  if (!run) return filter.except ? `--filter ${given}: tied to no run, so it may be that run's` : `--filter ${given}: tied to no run`
  if (filter.except) return filter.runs.has(run) ? `--filter ${given}: of run ${run}, kept as asked` : undefined
  return filter.runs.has(run) ? undefined : `--filter ${given}: of another run (${run})`
}
