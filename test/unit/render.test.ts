// The human and JSON renderings of a report (src/lib/output/render.ts): pure, so exact lines are asserted.
import {describe, expect, it} from 'vitest'

import type {Item, Report, TargetReport} from '../../src/lib/pipeline/pipeline.js'

import {describeItems, describeProblems, describeQuestion, describeReport, describeSummary, PLAIN, plannedSize, reportJson, wantsColour} from '../../src/lib/output/render.js'
import {totalsOf} from '../../src/lib/pipeline/pipeline.js'

function item(name: string, decision: Item['decision'], reason: string, extra: Partial<Item> = {}): Item {
  return {decision, details: {}, id: `/tmp/${name}`, name, reason, ...extra}
}

function section(target: string, noun: readonly [string, string], items: Item[]): TargetReport {
  return {items, noun, target, totals: totalsOf(items)}
}

function report(targets: TargetReport[], extra: Partial<Report> = {}): Report {
  return {
    canceled: false,
    dryRun: false,
    minAgeMs: 3_600_000,
    targets,
    totals: totalsOf(targets.flatMap((s) => s.items)),
    warnings: [],
    ...extra,
  }
}

const DIRS = ['temporary directory', 'temporary directories'] as const

describe('describeItems', () => {
  const aws1 = item('/tmp/moat-aws-1', 'kept', 'young: modified 1m ago', {
    ageMs: 90_000,
    bytes: 2048,
    details: {holds: 'AWS credential helper', path: '/tmp/moat-aws-1', users: ['a', 'b']},
  })

  it('one aligned row per item under a header: name, age, size, decision, reason; details only with --verbose', () => {
    const other = item('/tmp/moat-claude-22', 'orphan', 'run run_0123456789ab has ended', {ageMs: 7_200_000, bytes: 10})
    expect(describeItems([aws1, other], 'dry-run')).toEqual([
      'NAME                 AGE   SIZE     DECISION      REASON',
      '/tmp/moat-aws-1      1m    2.05 kB  keep          young: modified 1m ago',
      '/tmp/moat-claude-22  2.0h  10 B     would remove  run run_0123456789ab has ended',
    ])
    expect(describeItems([aws1], 'done', {...PLAIN, verbose: true})).toEqual([
      'NAME             AGE  SIZE     DECISION  REASON',
      '/tmp/moat-aws-1  1m   2.05 kB  keep      young: modified 1m ago',
      '    holds AWS credential helper, users a,b',
    ])
  })

  it('--verbose: under a removable row, its details, then each fact of its evidence on a line of its own', () => {
    const orphan = item('/tmp/moat-aws-1', 'orphan', 'unchanged for 2.0h; no process or container uses it', {
      ageMs: 7_200_000,
      details: {holds: 'AWS credential helper'},
      evidence: {age: 'whole tree older than --min-age 1h', containers: 'asked docker', processes: 'none uses it'},
    })
    expect(describeItems([orphan], 'dry-run', {...PLAIN, verbose: true})).toEqual([
      'NAME             AGE   DECISION      REASON',
      '/tmp/moat-aws-1  2.0h  would remove  unchanged for 2.0h; no process or container uses it',
      '    holds AWS credential helper',
      '    age: whole tree older than --min-age 1h',
      '    containers: asked docker',
      '    processes: none uses it',
    ])
    expect(describeItems([orphan], 'dry-run')).toHaveLength(2)
  })

  it('a skipped or failed row shows what happened; the judged reason stays, shown with --verbose', () => {
    const skipped = item('n1', 'skipped', 'run run_x has ended', {outcome: 'drift: started since the scan'})
    const removed = item('n2', 'removed', 'run run_y has ended', {outcome: 'removed'})
    expect(describeItems([skipped, removed], 'done', {...PLAIN, verbose: true})).toEqual([
      'NAME  DECISION  REASON',
      'n1    skipped   drift: started since the scan',
      '    judged: run run_x has ended',
      'n2    removed   run run_y has ended',
    ])
  })

  it('fits the terminal width: the reason is cut first, with an ellipsis', () => {
    const long = item('/tmp/moat-aws-1', 'kept', `in use: ${'x'.repeat(200)}`)
    const lines = describeItems([long], 'done', {...PLAIN, columns: 60})
    for (const line of lines) expect([...line].length).toBeLessThanOrEqual(60)
    expect(lines[1]).toMatch(/^\/tmp\/moat-aws-1 {2}keep {6}in use: x+…$/)
    // A pipe or a file gets the whole row.
    expect(describeItems([long], 'done')[1]).toContain('x'.repeat(200))
  })

  it('colours the decision on a terminal, and nothing else changes', () => {
    const lines = describeItems([item('a', 'removed', 'gone'), item('b', 'failed', 'EACCES')], 'done', {...PLAIN, colour: true})
    expect(lines[1]).toBe('a     \u001B[32mremoved\u001B[0m   gone')
    expect(lines[2]).toContain('\u001B[31mFAILED\u001B[0m')
    expect(lines.map((line) => line.replaceAll('\u001B[1m', '').replaceAll('\u001B[32m', '').replaceAll('\u001B[31m', '').replaceAll('\u001B[0m', ''))).toEqual(describeItems([item('a', 'removed', 'gone'), item('b', 'failed', 'EACCES')], 'done'))
  })

  it('2,000 items are 2,001 lines, not three per item', () => {
    const many = Array.from({length: 2000}, (_, index) => item(`/tmp/moat-aws-${index}`, 'orphan', 'ended', {bytes: 1}))
    expect(describeItems(many, 'dry-run')).toHaveLength(2001)
  })
})

describe('wantsColour', () => {
  it('a terminal, unless NO_COLOR or TERM=dumb; FORCE_COLOR wins', () => {
    expect(wantsColour({isTTY: true}, {})).toBe(true)
    expect(wantsColour({isTTY: false}, {})).toBe(false)
    expect(wantsColour({isTTY: true}, {NO_COLOR: '1'})).toBe(false)
    expect(wantsColour({isTTY: true}, {NO_COLOR: ''})).toBe(true)
    expect(wantsColour({isTTY: true}, {TERM: 'dumb'})).toBe(false)
    expect(wantsColour({isTTY: false}, {FORCE_COLOR: '1'})).toBe(true)
    expect(wantsColour({isTTY: true}, {FORCE_COLOR: '0'})).toBe(false)
  })
})


const rows = (lines: string[]) => lines.filter((line) => line.startsWith('moat-'))

describe('describeReport', () => {
  const temp = section('temp', DIRS, [
    item('moat-aws-1', 'removed', 'run ended', {bytes: 1000, outcome: 'removed'}),
    item('moat-aws-2', 'kept', 'young', {bytes: 10}),
    item('moat-aws-3', 'skipped', 'run ended', {bytes: 10, outcome: 'drift: newer mtime'}),
  ])

  it('the outcome: one table per target with totals, sizes freed only where items have sizes, and a grand total', () => {
    const networks = section('networks', ['network', 'networks'], [item('moat-run_0123456789ab', 'removed', 'run ended', {outcome: 'removed'})])
    const whole = report([temp, networks])
    const lines = describeReport(whole, 'done', {grandTotal: true})
    expect(lines.filter((line) => !/^(moat-|NAME)/.test(line))).toEqual([
      '3 moat temporary directories:',
      '',
      'Temporary directories: 3 found, 1 removed (1 kB freed), 1 kept, 1 skipped, 0 failed.',
      '1 moat network:',
      '',
      'Networks: 1 found, 1 removed, 0 kept, 0 skipped, 0 failed.',
      'Total: 4 found, 2 removed (1 kB freed), 1 kept, 1 skipped, 0 failed.',
    ])
    expect(rows(lines)).toHaveLength(4)
    expect(describeReport(report([temp]), 'done', {grandTotal: true}).at(-1)).toMatch(/^Temporary directories:/)
  })

  it('a dry run and a plan say what would happen; an empty target says none was found', () => {
    const plan = section('temp', DIRS, [item('moat-aws-1', 'orphan', 'orphan', {bytes: 2000}), item('moat-aws-2', 'kept', 'young', {bytes: 1})])
    const empty = section('networks', ['network', 'networks'], [])
    expect(describeReport(report([plan, empty]), 'dry-run').filter((line) => !/^(moat-|NAME)/.test(line))).toEqual([
      '2 moat temporary directories:',
      '',
      'Temporary directories: 2 found, 1 would be removed (2 kB), 1 kept.',
      'No moat networks found.',
      'Dry run: nothing was removed.',
    ])
    expect(describeReport(report([plan]), 'plan').at(-1)).toBe('Temporary directories: 2 found, 1 to remove, 1 kept.')
  })

  it('`only` limits the items listed, not the totals; a refusal and a cancel are said last', () => {
    const lines = describeReport(report([temp], {refused: 'too many'}), 'done', {only: (entry) => entry.decision !== 'kept'})
    expect(rows(lines).map((line) => line.split(' ')[0])).toEqual(['moat-aws-1', 'moat-aws-3'])
    expect(lines[0]).toBe('2 moat temporary directories:')
    expect(lines.at(-2)).toMatch(/^Temporary directories: 3 found/)
    expect(lines.at(-1)).toBe('Refused: too many.')
    expect(describeReport(report([temp], {canceled: true}), 'done').at(-1)).toBe('Canceled.')
  })
})

describe('describeQuestion', () => {
  it('one target: "these"; several: the count per target, with sizes where items have them', () => {
    const temp = section('temp', DIRS, [item('a', 'orphan', 'x', {bytes: 1500}), item('b', 'kept', 'y', {bytes: 1})])
    const networks = section('networks', ['network', 'networks'], [item('n', 'orphan', 'x'), item('m', 'orphan', 'x')])
    const none = section('sidecars', ['sidecar', 'sidecars'], [item('s', 'kept', 'x')])
    expect(describeQuestion([temp])).toBe('Remove these 1 temporary directory (1.5 kB)?')
    expect(describeQuestion([temp, none, networks])).toBe('Remove 1 temporary directory (1.5 kB) and 2 networks?')
  })
})

describe('plannedSize', () => {
  it('a total only when the items have sizes', () => {
    expect(plannedSize([item('a', 'orphan', 'orphan', {bytes: 1500}), item('b', 'orphan', 'orphan', {bytes: 500})])).toBe(' (2 kB)')
    expect(plannedSize([item('a', 'orphan', 'orphan')])).toBe('')
  })
})

describe('reportJson', () => {
  const temp = section('temp', DIRS, [
    item('moat-aws-1', 'removed', 'run run_0123456789ab has ended', {ageMs: 7_200_500, bytes: 18, details: {holds: 'AWS'}, outcome: 'removed'}),
  ])

  it('a single-target command: the section at the top level; the judged reason and the outcome side by side', () => {
    expect(reportJson(report([temp], {warnings: ['w']}), '2h', true)).toEqual({
      canceled: false,
      dryRun: false,
      items: [{ageSeconds: 7200, bytes: 18, decision: 'removed', holds: 'AWS', id: '/tmp/moat-aws-1', name: 'moat-aws-1', outcome: 'removed', reason: 'run run_0123456789ab has ended'}],
      minAge: '2h',
      refused: undefined,
      target: 'temp',
      totals: temp.totals,
      warnings: ['w'],
    })
  })

  it('the evidence of a removable item, as an object of its facts by what was checked', () => {
    const evidence = {age: 'created 3.0h ago', run: 'no run dir /m/runs/run_0123456789ab; no moat daemon running'}
    const networks = section('networks', ['network', 'networks'], [item('moat-run_0123456789ab', 'orphan', 'run ended', {evidence})])
    expect(reportJson(report([networks]), '1h', true)).toMatchObject({items: [{evidence, reason: 'run ended'}]})
  })

  it('`clean`: a section per target and the totals of all', () => {
    const networks = section('networks', ['network', 'networks'], [])
    const doc = reportJson(report([temp, networks]), '1h', false)
    expect(doc).toMatchObject({minAge: '1h', totals: {candidates: 1, removed: 1}, warnings: []})
    expect((doc.targets as Array<{target: string}>).map((entry) => entry.target)).toEqual(['temp', 'networks'])
    expect(doc).toMatchObject({targets: [{items: [{name: 'moat-aws-1'}]}, {items: []}]})
  })
})

describe('unknown and resumed (issue 21)', () => {
  const intent = {action: 'remove' as const, engine: 'unix:///var/run/docker.sock', id: 'c0ffee', name: 'run_0123456789ab', object: 'container' as const, target: 'containers', time: '2026-12-03T10:00:00.000Z'}
  const containers = section('containers', ['run container', 'run containers'], [
    item('run_aaaaaaaaaaaa', 'unknown', 'run ended', {outcome: 'Docker engine unreachable, not confirmed: reset; asked again, the engine did not answer: it may have removed it'}),
    item('run_bbbbbbbbbbbb', 'removed', 'run ended', {outcome: 'removed (confirmed by re-check: Error response from daemon: boom)'}),
  ])

  it('an unknown row says what is known; the totals count it, only when there is one', () => {
    const lines = describeReport(report([containers]), 'done')
    expect(lines.find((line) => line.startsWith('run_aaaaaaaaaaaa'))).toMatch(/ UNKNOWN +Docker engine unreachable, not confirmed: .*it may have removed it$/)
    expect(lines.at(-1)).toBe('Run containers: 2 found, 1 removed, 0 kept, 0 skipped, 0 failed, 1 unknown (the engine may have removed them; the next pass finds out).')
    expect(describeReport(report([temp()]), 'done').at(-1)).not.toContain('unknown')
  })

  it('what an interrupted earlier pass left open comes first, in the text and in the JSON', () => {
    const resumed = [
      {decision: 'removed' as const, intent, outcome: 'removed by an interrupted earlier pass, confirmed now'},
      {decision: 'unknown' as const, intent: {...intent, id: 'd00d', name: 'run_ffffffffffff'}, outcome: 'an interrupted earlier pass may have removed it: the engine did not answer'},
    ]
    const lines = describeReport(report([containers], {resumed}), 'done')
    expect(lines.slice(0, 4)).toEqual([
      '2 removals an interrupted earlier pass had started, resolved first:',
      '  removed containers run_0123456789ab: removed by an interrupted earlier pass, confirmed now',
      '  UNKNOWN containers run_ffffffffffff: an interrupted earlier pass may have removed it: the engine did not answer',
      '',
    ])
    expect(reportJson(report([containers], {resumed}), '1h', true).resumed).toEqual([
      {action: 'remove', decision: 'removed', engine: intent.engine, id: 'c0ffee', intendedAt: intent.time, name: 'run_0123456789ab', outcome: resumed[0]!.outcome, target: 'containers'},
      {action: 'remove', decision: 'unknown', engine: intent.engine, id: 'd00d', intendedAt: intent.time, name: 'run_ffffffffffff', outcome: resumed[1]!.outcome, target: 'containers'},
    ])
    expect(reportJson(report([containers]), '1h', true)).not.toHaveProperty('resumed', expect.anything())
  })

  function temp() {
    return section('temp', DIRS, [item('moat-aws-1', 'removed', 'run ended', {bytes: 10, outcome: 'removed'})])
  }
})

describe('--quiet', () => {
  const dirs = section('temp', DIRS, [
    item('/tmp/moat-aws-1', 'removed', 'unchanged for 3.0h', {bytes: 18}),
    item('/tmp/moat-aws-2', 'failed', 'unchanged for 3.0h', {bytes: 5, outcome: 'cannot create a quarantine in /tmp: EROFS'}),
  ])
  const networks = section('networks', ['network', 'networks'], [item('moat-run_0123456789ab', 'unknown', 'run ended', {outcome: 'not confirmed: the engine stopped answering'})])

  it('the summary: the totals line of the target, the grand total of clean, "No moat ... found." or "Canceled."', () => {
    expect(describeSummary(report([dirs]), 'done', false)).toBe('Temporary directories: 2 found, 1 removed (18 B freed), 0 kept, 0 skipped, 1 failed.')
    expect(describeSummary(report([dirs, networks]), 'done', true)).toMatch(/^Total: 3 found, /)
    expect(describeSummary(report([section('temp', DIRS, [])]), 'dry-run', false)).toBe('No moat temporary directories found.')
    expect(describeSummary(report([dirs], {canceled: true}), 'done', false)).toBe('Canceled.')
  })

  it('the problems: each failed and unknown item with its target and why, and a refusal; nothing else', () => {
    expect(describeProblems(report([dirs, networks], {refused: '3 items to remove is more than --max-delete 2'}))).toEqual([
      'Failed: temp /tmp/moat-aws-2: cannot create a quarantine in /tmp: EROFS',
      'Unknown: networks moat-run_0123456789ab: not confirmed: the engine stopped answering',
      'Refused: 3 items to remove is more than --max-delete 2.',
    ])
    expect(describeProblems(report([section('temp', DIRS, [item('/tmp/moat-aws-1', 'removed', 'x')])]))).toEqual([])
  })
})
