// The pipeline alone, with small in-memory targets: no root, no engine, no file system.
import {describe, expect, it} from 'vitest'

import {
  type AnyTarget,
  exitCodeOf,
  type PipelineOptions,
  type PlannedItem,
  runPipeline,
  type Target,
  type TargetReport,
  totalsOf,
} from '../../src/lib/pipeline/pipeline.js'

interface Memory {
  gone: Set<string>
  /** How many times remove() was called. */
  removeCalls: number
  target: AnyTarget
}

interface MemoryOptions {
  /** remove() throws once this many items are removed. */
  failAfter?: number
  /** Items whose name starts with `keep` are planned as kept. */
  names: string[]
  /** Called in remove() after each item is settled (where a test stops the run). */
  onRemoved?: (id: string) => void
}

/** A target over named items held in memory: no file system, no engine, no root. */
function memoryTarget(kind: string, options: MemoryOptions | string[], failAfter?: number): Memory {
  const {names, onRemoved, ...rest} = Array.isArray(options) ? {failAfter, names: options} : options
  const memory: Memory = {gone: new Set<string>(), removeCalls: 0, target: undefined!}
  const target: Target<string, undefined> = {
    async classify(_ctx, scanned) {
      return scanned.map((name): PlannedItem<undefined> => {
        const kept = name.startsWith('keep')
        return {decision: kept ? 'kept' : 'orphan', details: {}, fingerprint: undefined, id: name, name, reason: kept ? 'young' : `${name} has ended`}
      })
    },
    kind,
    noun: ['thing', 'things'],
    async remove(ctx, items, settle) {
      memory.removeCalls++
      for (const item of items) {
        if (ctx.signal?.aborted) return
        if (rest.failAfter !== undefined && memory.gone.size === rest.failAfter) throw new Error('engine died\nsecond line')
        memory.gone.add(item.id)
        settle(item, 'removed', 'removed')
        onRemoved?.(item.id)
      }
    },
    async scan() {
      return names
    },
  }
  memory.target = target
  return memory
}

/** Runs the pipeline with a recorded onDecision and a confirm that says yes unless told otherwise. */
async function run(targets: Memory[], options: Partial<PipelineOptions> = {}) {
  const decisions: string[] = []
  const asked: Array<readonly TargetReport[]> = []
  const report = await runPipeline(
    targets.map((memory) => memory.target),
    {
      async confirm(plan) {
        asked.push(plan)
        return true
      },
      dryRun: false,
      minAgeMs: 0,
      onDecision: (target, item) => decisions.push(`${target}:${item.id}:${item.decision}`),
      ...options,
    },
  )
  const itemOf = (id: string) => report.targets.flatMap((section) => section.items).find((item) => item.id === id)
  return {asked, decisions, itemOf, report}
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
    // What happened sits beside why it was judged an orphan, which no outcome overwrites.
    expect(decisionOf(0, 'a')).toMatchObject({decision: 'removed', outcome: 'removed', reason: 'a has ended'})
    expect(decisionOf(0, 'c')).toMatchObject({decision: 'failed', outcome: 'not done: engine died', reason: 'c has ended'})
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

  it('dry run: reports the plan, asks nothing, removes nothing, and still reports every decision', async () => {
    const memory = memoryTarget('things', ['a', 'keep-b'])
    const {asked, decisions, itemOf, report} = await run([memory], {dryRun: true})
    expect(memory.removeCalls).toBe(0)
    expect(memory.gone.size).toBe(0)
    expect(asked).toEqual([])
    expect(itemOf('a')).toMatchObject({decision: 'orphan'})
    expect(itemOf('keep-b')).toMatchObject({decision: 'kept', reason: 'young'})
    expect(report).toMatchObject({canceled: false, dryRun: true, totals: {kept: 1, orphans: 1, removed: 0}})
    expect(decisions).toEqual(['things:keep-b:kept', 'things:a:orphan'])
    expect(exitCodeOf(report)).toBe(0)
  })

  it('canceled at the prompt: only the planned items were shown, nothing removed, each skipped with the reason', async () => {
    const memory = memoryTarget('things', ['a', 'b', 'keep-c'])
    const {asked, decisions, itemOf, report} = await run([memory], {confirm: async () => false})
    expect(memory.removeCalls).toBe(0)
    expect(report.canceled).toBe(true)
    expect(itemOf('a')).toMatchObject({decision: 'skipped', outcome: 'canceled at the prompt'})
    expect(itemOf('keep-c')).toMatchObject({decision: 'kept'})
    expect(decisions).toEqual(['things:keep-c:kept', 'things:a:skipped', 'things:b:skipped'])
    expect(exitCodeOf(report)).toBe(0)
    expect(asked).toEqual([])
  })

  it('asks once with the whole plan of every target', async () => {
    let plan: readonly TargetReport[] = []
    await run([memoryTarget('first', ['a']), memoryTarget('second', ['x', 'keep-y'])], {
      async confirm(shown) {
        plan = shown
        return true
      },
    })
    expect(plan.map((section) => [section.target, section.items.map((item) => `${item.id}:${item.decision}`)])).toEqual([
      ['first', ['a:orphan']],
      ['second', ['x:orphan', 'keep-y:kept']],
    ])
  })

  it('nothing to remove: does not ask', async () => {
    const {asked, report} = await run([memoryTarget('things', ['keep-a'])])
    expect(asked).toEqual([])
    expect(report.totals).toMatchObject({candidates: 1, kept: 1})
  })

  it('over --max-delete: refuses the whole pass before asking, nothing removed, every orphan skipped, exit 3', async () => {
    const first = memoryTarget('first', ['a', 'b'])
    const second = memoryTarget('second', ['x'])
    const {asked, itemOf, report} = await run([first, second], {maxDelete: 2})
    expect(first.removeCalls + second.removeCalls).toBe(0)
    expect(asked).toEqual([])
    expect(report.refused).toBe('3 items to remove is more than --max-delete 2; nothing was removed')
    for (const id of ['a', 'b', 'x']) expect(itemOf(id)).toMatchObject({decision: 'skipped', outcome: `refused: ${report.refused}`})
    expect(exitCodeOf(report)).toBe(3)
    // At the limit it goes ahead.
    const atLimit = await run([memoryTarget('first', ['a', 'b'])], {maxDelete: 2})
    expect(atLimit.report.totals.removed).toBe(2)
  })

  it('a dry run over --max-delete only warns that a real run would refuse', async () => {
    const {report} = await run([memoryTarget('things', ['a', 'b'])], {dryRun: true, maxDelete: 1})
    expect(report.refused).toBeUndefined()
    expect(report.warnings).toEqual(['A real run would refuse: 2 items to remove is more than --max-delete 1; nothing was removed.'])
  })

  it('interrupted (signal aborted mid-remove): what was removed is reported, the rest `skipped: not reached`, later targets not started', async () => {
    const controller = new AbortController()
    const first = memoryTarget('first', {
      names: ['a', 'b', 'c'],
      onRemoved: (id) => id === 'a' && controller.abort(),
    })
    const second = memoryTarget('second', ['x'])
    const {decisions, itemOf, report} = await run([first, second], {signal: controller.signal})
    expect(first.gone).toEqual(new Set(['a']))
    expect(second.removeCalls).toBe(0)
    expect(itemOf('a')).toMatchObject({decision: 'removed'})
    for (const id of ['b', 'c', 'x']) {
      expect(itemOf(id)).toMatchObject({decision: 'skipped', outcome: 'not reached: the run was interrupted'})
    }

    expect(decisions).toEqual(['first:a:removed', 'first:b:skipped', 'first:c:skipped', 'second:x:skipped'])
    expect(exitCodeOf(report)).toBe(0)
  })

  it('onDecision: kept items as each target is planned, then the others as they are settled, each exactly once', async () => {
    const {decisions, report} = await run([memoryTarget('first', ['keep-a', 'b']), memoryTarget('second', ['c', 'keep-d'])])
    expect(decisions).toEqual(['first:keep-a:kept', 'second:keep-d:kept', 'first:b:removed', 'second:c:removed'])
    expect(decisions).toHaveLength(report.totals.candidates)
  })

  it('a target that settles an item twice is counted once', async () => {
    const twice: Target<string, undefined> = {
      async classify(_ctx, scanned) {
        return scanned.map((name) => ({decision: 'orphan' as const, details: {}, fingerprint: undefined, id: name, name, reason: 'orphan'}))
      },
      kind: 'twice',
      noun: ['thing', 'things'],
      async remove(_ctx, items, settle) {
        for (const item of items) {
          settle(item, 'removed', 'removed')
          settle(item, 'failed', 'late')
        }
      },
      async scan() {
        return ['a']
      },
    }
    const decisions: string[] = []
    const report = await runPipeline([twice], {
      confirm: async () => true,
      dryRun: false,
      minAgeMs: 0,
      onDecision: (target, item) => decisions.push(`${target}:${item.id}:${item.decision}`),
    })
    expect(decisions).toEqual(['twice:a:removed'])
    expect(report.totals).toMatchObject({failed: 0, removed: 1})
  })
})

/** A target that records an intent for each item before "sending" it, then settles it as `decision`. */
function recordingTarget(decision: 'removed' | 'unknown'): AnyTarget {
  const target: Target<string, undefined> = {
    async classify(_ctx, scanned) {
      return scanned.map((name): PlannedItem<undefined> => ({decision: 'orphan', details: {}, fingerprint: undefined, id: `id-${name}`, name, reason: 'ended'}))
    },
    kind: 'things',
    noun: ['thing', 'things'],
    async remove(ctx, items, settle) {
      for (const item of items) {
        if (!ctx.intend('remove', [{item, place: {engine: 'unix:///e.sock', engineId: 'E1', object: 'container'}}])) return
        settle(item, decision, decision === 'unknown' ? 'asked again, no answer: it may have removed it' : 'removed')
      }
    },
    async scan() {
      return ['a', 'b']
    },
  }
  return target
}

describe('the write-ahead record (issue 21)', () => {
  it('each decision comes with the intent recorded before its request; `unknown` is counted and exits 3', async () => {
    const intents: string[] = []
    const decided: string[] = []
    const report = await runPipeline([recordingTarget('unknown')], {
      confirm: async () => true,
      dryRun: false,
      minAgeMs: 0,
      onDecision: (target, item, intent) => decided.push(`${target}:${item.name}:${item.decision}:${intent?.engine}:${intent?.action}`),
      onIntent: (made) => intents.push(...made.map((intent) => `${intent.target}:${intent.id}:${intent.engineId}`)),
    })
    expect(intents).toEqual(['things:id-a:E1', 'things:id-b:E1'])
    expect(decided).toEqual(['things:a:unknown:unix:///e.sock:remove', 'things:b:unknown:unix:///e.sock:remove'])
    expect(report.totals).toMatchObject({removed: 0, unknown: 2})
    expect(exitCodeOf(report)).toBe(3)
  })

  it('an intent that cannot be written sends nothing: the item is reported not reached', async () => {
    const report = await runPipeline([recordingTarget('removed')], {
      confirm: async () => true,
      dryRun: false,
      minAgeMs: 0,
      onIntent() {
        throw new Error('ENOSPC')
      },
    })
    expect(report.targets[0]!.items.map((entry) => [entry.name, entry.decision, entry.outcome])).toEqual([
      ['a', 'skipped', 'not reached: the run was interrupted'],
      ['b', 'skipped', 'not reached: the run was interrupted'],
    ])
  })

  it('an interrupted earlier pass whose removal could not be confirmed now exits 3, one confirmed now does not', () => {
    const base = {canceled: false, dryRun: false, minAgeMs: 0, targets: [], totals: totalsOf([]), warnings: []}
    const intent = {action: 'remove' as const, engine: 'unix:///e.sock', id: 'c1', name: 'run_0123456789ab', object: 'container' as const, target: 'containers'}
    expect(exitCodeOf({...base, resumed: [{decision: 'removed', intent, outcome: 'removed by an interrupted earlier pass, confirmed now'}]})).toBe(0)
    expect(exitCodeOf({...base, resumed: [{decision: 'unknown', intent, outcome: 'may have removed it'}]})).toBe(3)
  })
})
