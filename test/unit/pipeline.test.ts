// The pipeline alone, with small in-memory targets: no root, no engine, no file system.
import {describe, expect, it} from 'vitest'

import {exitCodeOf, type PlannedItem, runPipeline, type Target} from '../../src/lib/pipeline/pipeline.js'

interface Memory {
  gone: Set<string>
  target: Target
}

/** A target over named items; `failAfter` makes remove() throw once that many items are removed. */
function memoryTarget(kind: string, names: string[], failAfter?: number): Memory {
  const gone = new Set<string>()
  const target: Target<string, undefined> = {
    async classify(_ctx, scanned) {
      return scanned.map((name): PlannedItem<undefined> => ({decision: 'orphan', details: {}, fingerprint: undefined, id: name, name, reason: 'orphan'}))
    },
    kind,
    noun: ['thing', 'things'],
    async remove(_ctx, items, settle) {
      for (const item of items) {
        if (failAfter !== undefined && gone.size === failAfter) throw new Error('engine died\nsecond line')
        gone.add(item.id)
        settle(item, 'removed', 'removed')
      }
    },
    async scan() {
      return names
    },
  }
  return {gone, target: target as Target}
}

describe('runPipeline', () => {
  it('contains a target whose remove throws: removals done stay reported, later targets still run, exit 3', async () => {
    const first = memoryTarget('first', ['a', 'b', 'c', 'd'], 2)
    const second = memoryTarget('second', ['x', 'y'])
    const decisions: string[] = []
    const report = await runPipeline([first.target, second.target], {
      confirm: async () => true,
      dryRun: false,
      minAgeMs: 0,
      onDecision: (target, item) => decisions.push(`${target}:${item.id}:${item.decision}`),
    })
    const decisionOf = (section: number, id: string) => report.targets[section]!.items.find((item) => item.id === id)
    expect(first.gone).toEqual(new Set(['a', 'b']))
    expect(decisionOf(0, 'a')?.decision).toBe('removed')
    expect(decisionOf(0, 'c')).toMatchObject({decision: 'failed', reason: 'not done: engine died'})
    expect(second.gone).toEqual(new Set(['x', 'y']))
    expect(report.totals).toMatchObject({failed: 2, removed: 4})
    expect(exitCodeOf(report)).toBe(3)
    expect(decisions).toEqual([
      'first:a:removed',
      'first:b:removed',
      'first:c:failed',
      'first:d:failed',
      'second:x:removed',
      'second:y:removed',
    ])
    expect(report.warnings).toEqual(['first: stopped by an error: engine died'])
  })
})
