// `--filter` (src/lib/pipeline/filter.ts): what it takes, the one-line errors for what it does not, and how the
// pipeline narrows a pass with it, with in-memory targets.
import {describe, expect, it} from 'vitest'

import {describeRunFilter, filteredOut, parseFilters} from '../../src/lib/pipeline/filter.js'
import {type PlannedItem, runPipeline, type Target} from '../../src/lib/pipeline/pipeline.js'

const A = 'run_aaaaaaaaaaaa'
const B = 'run_bbbbbbbbbbbb'

describe('parseFilters', () => {
  it('run= (several: any of them), run!= and until=', () => {
    expect(parseFilters([])).toEqual({})
    expect(parseFilters([`run=${A}`, `run=${B}`])).toEqual({runs: {except: false, runs: new Set([A, B])}})
    expect(parseFilters([`run!=${A}`, 'until=24h'])).toEqual({runs: {except: true, runs: new Set([A])}, until: '24h'})
    expect(describeRunFilter(parseFilters([`run!=${A}`]).runs!)).toEqual([`run!=${A}`])
  })

  it.each([
    ['label=moat.role=service', /^--filter label=moat\.role=service: labels are not a filter here: .*choose a run with --filter run=<run-id>, a kind with --only \(e\.g\. --only sidecars\)$/],
    ['run=xyz', /^--filter run=xyz: "xyz" is not a run ID \(run_ and 12 hex digits\), e\.g\. --filter run=run_0123456789ab$/],
    ['run!=RUN_AAAAAAAAAAAA', /^--filter run!=RUN_AAAAAAAAAAAA: "RUN_AAAAAAAAAAAA" is not a run ID .* e\.g\. --filter run!=run_0123456789ab$/],
    ['foo=bar', /^--filter: "foo" is not a filter; the filters are run=, run!= and until= \(e\.g\. /],
    ['until', /^--filter: "until" is not key=value; e\.g\. /],
    ['until!=1h', /^--filter until!=1h: until takes =, e\.g\. --filter until=24h$/],
  ])('%j: one line naming what is wrong, with an example', (value, message) => {
    expect(() => parseFilters([value])).toThrow(message)
  })

  it('run= with run!=, or until= twice: one line saying so', () => {
    expect(() => parseFilters([`run=${A}`, `run!=${B}`])).toThrow(/^--filter: run= and run!= do not go together/)
    expect(() => parseFilters(['until=1h', 'until=2h'])).toThrow(/^--filter: until is given twice \(until=1h, until=2h\)/)
  })
})

/** An orphan of this run, or of none. */
const item = (run?: string) => ({decision: 'orphan' as const, details: {run}, id: 'x', name: 'x', reason: 'run ended'})

describe('filteredOut', () => {
  it('run=: the run named stays in; another run, or none, is left out with why', () => {
    const filter = parseFilters([`run=${A}`]).runs!
    expect(filteredOut(filter, item(A))).toBeUndefined()
    expect(filteredOut(filter, item(B))).toBe(`--filter run=${A}: of another run (${B})`)
    expect(filteredOut(filter, item())).toBe(`--filter run=${A}: tied to no run`)
  })

  it('run!=: the run named is left out; so is what is tied to no run, since it may be that run\'s (fail closed)', () => {
    const filter = parseFilters([`run!=${A}`]).runs!
    expect(filteredOut(filter, item(A))).toBe(`--filter run!=${A}: of run ${A}, kept as asked`)
    expect(filteredOut(filter, item(B))).toBeUndefined()
    expect(filteredOut(filter, item())).toBe(`--filter run!=${A}: tied to no run, so it may be that run's`)
  })
})

/** A target over items of given runs; `seen` records what later targets found planned before them. */
function runTarget(kind: string, runs: Array<string | undefined>, seen?: string[][]): Target<string | undefined, undefined> {
  return {
    async classify(ctx, scanned) {
      seen?.push(ctx.planned.map((item) => item.id))
      return scanned.map((run, index): PlannedItem<undefined> => ({
        decision: 'orphan',
        details: {detach: ['c1'], run},
        evidence: {run: 'ended'},
        fingerprint: undefined,
        id: `${kind}-${index}`,
        name: `${kind}-${index}`,
        reason: 'run ended',
      }))
    },
    kind,
    noun: ['thing', 'things'],
    async remove(_ctx, items, settle) {
      for (const item of items) settle(item, 'removed', 'removed')
    },
    async scan() {
      return runs
    },
  }
}

describe('the pipeline with a filter', () => {
  it('keeps what the filter leaves out (why, no evidence, no planned action), before later targets look at the plan', async () => {
    const seen: string[][] = []
    const report = await runPipeline([runTarget('containers', [A, B, undefined]), runTarget('networks', [A], seen)], {
      confirm: async () => true,
      dryRun: false,
      filter: parseFilters([`run=${B}`]).runs,
      minAgeMs: 0,
    })
    const [containers, networks] = report.targets
    expect(containers!.items.map(({decision, reason}) => [decision, reason])).toEqual([
      ['kept', `--filter run=${B}: of another run (${A})`],
      ['removed', 'run ended'],
      ['kept', `--filter run=${B}: tied to no run`],
    ])
    expect(containers!.items[0]).toMatchObject({details: {run: A}})
    expect(containers!.items[0]!.evidence).toBeUndefined()
    expect(containers!.items[0]!.details).not.toHaveProperty('detach')
    expect(containers!.items[1]!.evidence).toEqual({run: 'ended'})
    // The networks target saw only the container the filter let through as leaving.
    expect(seen).toEqual([['containers-1']])
    expect(networks!.items[0]).toMatchObject({decision: 'kept'})
    expect(report.filter).toEqual([`run=${B}`])
  })
})
