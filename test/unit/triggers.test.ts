// The watching reaper's trigger queue (issue 24) on a clock the test moves: which triggers are one pass, when a pass
// is due, and what each pass looks at. The real clock, inotify and the engine's events are in
// test/engine/reap-watch.test.ts.
import {describe, expect, it} from 'vitest'

import {inScope, kindScope, kindsIn, mergeScopes, type QueueClock, runScope, type Trigger, triggerOf, TriggerQueue} from '../../src/lib/pipeline/triggers.js'

/** A clock whose time moves only with advance(), firing the timers that come due. */
function testClock(): QueueClock & {advance(ms: number): void} {
  let now = 0
  let timers: Array<{at: number; fn: () => void}> = []
  return {
    advance(ms) {
      const until = now + ms
      for (;;) {
        const next = timers.filter((timer) => timer.at <= until).sort((a, b) => a.at - b.at)[0]
        if (!next) break
        now = next.at
        timers = timers.filter((timer) => timer !== next)
        next.fn()
      }

      now = until
    },
    now: () => now,
    setTimer(fn, ms) {
      const timer = {at: now + ms, fn}
      timers.push(timer)
      return () => {
        timers = timers.filter((other) => other !== timer)
      }
    },
  }
}

const item = (run: string) => ({details: {run}})

function runDir(run: string, at = 0): Trigger {
  return {at, kind: 'run-dir', run, scope: runScope(run, ['containers', 'networks']), what: `run dir ${run} removed`}
}

/** The batches next() gives while the clock runs for `ms`, with the time each came. */
async function batches(queue: TriggerQueue, clock: ReturnType<typeof testClock>, ms: number, step = 10): Promise<Array<{at: number; runs: string[]}>> {
  const got: Array<{at: number; runs: string[]}> = []
  const controller = new AbortController()
  const loop = (async () => {
    for (;;) {
      const batch = await queue.next(controller.signal)
      if (!batch) return
      got.push({at: clock.now(), runs: batch.map((trigger) => trigger.run ?? trigger.kind)})
    }
  })()
  for (let t = 0; t < ms; t += step) {
    clock.advance(step)
    // Let the loop take each batch before the clock moves on.
    await new Promise((resolve) => {
      setImmediate(resolve)
    })
  }

  controller.abort()
  await loop
  return got
}

describe('the trigger queue', () => {
  it('a burst of settling triggers is one batch, after the settle delay of the first', async () => {
    const clock = testClock()
    const queue = new TriggerQueue({clock, coalesceMs: 1000})
    for (let i = 0; i < 50; i++) {
      queue.add(runDir(`run_${String(i).padStart(12, '0')}`), 2000, {settling: true})
      clock.advance(5)
    }

    const got = await batches(queue, clock, 5000)
    expect(got).toHaveLength(1)
    expect(got[0]!.runs).toHaveLength(50)
    expect(got[0]!.at).toBe(2000)
  })

  it('a steady stream is never pushed back: each trigger goes within its settle delay', async () => {
    const clock = testClock()
    const queue = new TriggerQueue({clock, coalesceMs: 1000})
    const addedAt = new Map<string, number>()
    const controller = new AbortController()
    const took = new Map<string, number>()
    const loop = (async () => {
      for (;;) {
        const batch = await queue.next(controller.signal)
        if (!batch) return
        for (const trigger of batch) took.set(trigger.run!, clock.now())
      }
    })()
    for (let i = 0; i < 20; i++) {
      const run = `run_${String(i).padStart(12, '0')}`
      addedAt.set(run, clock.now())
      queue.add(runDir(run), 2000, {settling: true})
      for (let t = 0; t < 600; t += 10) {
        clock.advance(10)
        await new Promise((resolve) => {
          setImmediate(resolve)
        })
      }
    }

    // In steps, so that each batch is taken at the time it was given.
    for (let t = 0; t < 3000; t += 10) {
      clock.advance(10)
      await new Promise((resolve) => {
        setImmediate(resolve)
      })
    }

    controller.abort()
    await loop
    expect(took.size).toBe(20)
    for (const [run, at] of took) {
      const waited = at - addedAt.get(run)!
      // Not later than its settle delay; not sooner than its delay less the coalescing window.
      expect(waited).toBeLessThanOrEqual(2000)
      expect(waited).toBeGreaterThanOrEqual(1000)
    }
  })

  it('triggers that are not settling wait for their own time; a key keeps only the earliest', async () => {
    const clock = testClock()
    const queue = new TriggerQueue({clock, coalesceMs: 1000})
    queue.add({at: 0, kind: 'interval', scope: {full: true}, what: 'the interval'}, 3000, {key: 'interval'})
    queue.add({at: 0, kind: 'interval', scope: {full: true}, what: 'the interval'}, 5000, {key: 'interval'})
    queue.add({at: 0, kind: 'age', scope: kindScope(['temp']), what: 'temp'}, 3500, {key: 'age:temp'})
    queue.add({at: 0, kind: 'age', scope: kindScope(['temp']), what: 'temp'}, 2500, {key: 'age:temp'})
    const got = await batches(queue, clock, 6000)
    expect(got).toEqual([
      {at: 2500, runs: ['age']},
      {at: 3000, runs: ['interval']},
    ])
  })

  it('a pass looks at the kinds and runs its triggers name; the earliest covering trigger is the record\'s', () => {
    const first = runDir('run_000000000001', 10)
    const second = runDir('run_000000000002', 5)
    const pool: Trigger = {at: 20, kind: 'pool', scope: kindScope(['networks']), what: 'pool'}
    const scope = mergeScopes([first.scope, second.scope, pool.scope])
    expect(kindsIn(scope, ['containers', 'sidecars', 'networks', 'temp'])).toEqual(['containers', 'networks'])
    expect(inScope(scope, 'containers', item('run_000000000001'))).toBe(true)
    expect(inScope(scope, 'containers', item('run_000000000003'))).toBe(false)
    // The pool trigger makes every network part of the pass.
    expect(inScope(scope, 'networks', item('run_000000000003'))).toBe(true)
    expect(inScope(scope, 'temp', item('run_000000000001'))).toBe(false)
    expect(triggerOf([first, second, pool], 'networks', item('run_000000000001'))).toBe(first)
    expect(triggerOf([first, second, pool], 'networks', item('run_000000000003'))).toBe(pool)
    expect(triggerOf([first, second, pool], 'containers', item('run_000000000003'))).toBeUndefined()
  })
})
