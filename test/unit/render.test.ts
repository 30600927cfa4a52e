// The human and JSON renderings of a report (src/lib/output/render.ts): pure, so exact lines are asserted.
import {describe, expect, it} from 'vitest'

import type {Item, Report, TargetReport} from '../../src/lib/pipeline/pipeline.js'

import {describeItem, describeReport, plannedSize, reportJson} from '../../src/lib/output/render.js'
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

describe('describeItem', () => {
  it('lists facts (not the path), age and size, then the decision with its reason', () => {
    const dir = item('moat-aws-1', 'kept', 'young', {
      ageMs: 90_000,
      bytes: 2048,
      details: {holds: 'AWS credential helper', path: '/tmp/moat-aws-1', users: ['a', 'b']},
    })
    expect(describeItem(dir, 'done')).toEqual([
      '  moat-aws-1',
      '      holds AWS credential helper, users a,b, age 1m, 2.05 kB',
      '      keep: young',
    ])
  })

  it('says "would remove" in a dry run and repeats no reason that only restates the decision', () => {
    expect(describeItem(item('x', 'orphan', 'orphan'), 'dry-run').at(-1)).toBe('      would remove')
    expect(describeItem(item('x', 'orphan', 'orphan'), 'plan').at(-1)).toBe('      remove')
    expect(describeItem(item('x', 'removed', 'removed'), 'done').at(-1)).toBe('      removed')
    expect(describeItem(item('x', 'failed', 'EACCES'), 'done').at(-1)).toBe('      FAILED: EACCES')
  })
})

describe('describeReport', () => {
  const temp = section('temp', DIRS, [
    item('moat-aws-1', 'removed', 'removed', {bytes: 1000}),
    item('moat-aws-2', 'kept', 'young', {bytes: 10}),
    item('moat-aws-3', 'skipped', 'drift: newer mtime', {bytes: 10}),
  ])

  it('the outcome: one block per target with totals, sizes freed only where items have sizes', () => {
    const networks = section('networks', ['network', 'networks'], [item('moat-run_0123456789ab', 'removed', 'removed')])
    const lines = describeReport(report([temp, networks]), 'done')
    expect(lines.filter((line) => !line.startsWith('  '))).toEqual([
      '3 moat temporary directories:',
      '',
      'Temporary directories: 3 found, 1 removed (1 kB freed), 1 kept, 1 skipped, 0 failed.',
      '1 moat network:',
      '',
      'Networks: 1 found, 1 removed, 0 kept, 0 skipped, 0 failed.',
    ])
  })

  it('a dry run and a plan say what would happen; an empty target says none was found', () => {
    const plan = section('temp', DIRS, [item('moat-aws-1', 'orphan', 'orphan'), item('moat-aws-2', 'kept', 'young')])
    const empty = section('networks', ['network', 'networks'], [])
    expect(describeReport(report([plan, empty]), 'dry-run').filter((line) => !line.startsWith('  '))).toEqual([
      '2 moat temporary directories:',
      '',
      'Temporary directories: 2 found, 1 would be removed, 1 kept.',
      'No moat networks found.',
      'Dry run: nothing was removed.',
    ])
    expect(describeReport(report([plan]), 'plan').at(-1)).toBe('Temporary directories: 2 found, 1 to remove, 1 kept.')
  })

  it('`only` limits the items listed, not the totals; a refusal and a cancel are said last', () => {
    const lines = describeReport(report([temp], {refused: 'too many'}), 'done', (entry) => entry.decision !== 'kept')
    expect(lines.filter((line) => line.startsWith('  ') && !line.startsWith('      '))).toEqual(['  moat-aws-1', '  moat-aws-3'])
    expect(lines[0]).toBe('2 moat temporary directories:')
    expect(lines.at(-2)).toMatch(/^Temporary directories: 3 found/)
    expect(lines.at(-1)).toBe('Refused: too many.')
    expect(describeReport(report([temp], {canceled: true}), 'done').at(-1)).toBe('Canceled.')
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
    item('moat-aws-1', 'removed', 'removed', {ageMs: 7_200_500, bytes: 18, details: {holds: 'AWS'}}),
  ])

  it('a single-target command: the section at the top level, with the --min-age text as given', () => {
    expect(reportJson(report([temp], {warnings: ['w']}), '2h', true)).toEqual({
      canceled: false,
      dryRun: false,
      items: [{ageSeconds: 7200, bytes: 18, decision: 'removed', holds: 'AWS', id: '/tmp/moat-aws-1', name: 'moat-aws-1', reason: 'removed'}],
      minAge: '2h',
      refused: undefined,
      target: 'temp',
      totals: temp.totals,
      warnings: ['w'],
    })
  })

  it('`clean`: a section per target and the totals of all', () => {
    const networks = section('networks', ['network', 'networks'], [])
    const doc = reportJson(report([temp, networks]), '1h', false)
    expect(doc).toMatchObject({minAge: '1h', totals: {candidates: 1, removed: 1}, warnings: []})
    expect((doc.targets as Array<{target: string}>).map((entry) => entry.target)).toEqual(['temp', 'networks'])
    expect(doc).toMatchObject({targets: [{items: [{name: 'moat-aws-1'}]}, {items: []}]})
  })
})
