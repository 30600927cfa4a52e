// "Did you mean ...?": the one suggestion helper the unknown-command hook and the unknown-flag error share.
import {describe, expect, it} from 'vitest'

import {closest, editDistance} from '../../src/lib/cli/suggest.js'

const COMMANDS = ['system:clean', 'system:clean-temp', 'system:clean-state', 'system:reap', 'autocomplete', 'version', 'system']
const withoutTopic = (id: string) => id.split(':').at(-1)!

describe('editDistance', () => {
  it.each([
    ['', '', 0],
    ['abc', '', 3],
    ['clean', 'clena', 1],
    ['raep', 'reap', 1],
    ['ca', 'abc', 3],
    ['--dryrun', '--dry-run', 1],
    ['kitten', 'sitting', 3],
  ])('%j to %j is %d', (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance)
    expect(editDistance(b, a)).toBe(distance)
  })
})

describe('closest', () => {
  it.each([
    ['system:clena', 'system:clean'],
    ['system:clean-tmp', 'system:clean-temp'],
    ['sytem', 'system'],
    ['clean', 'system:clean'],
    ['raep', 'system:reap'],
    ['autocomplet', 'autocomplete'],
  ])('%j: did you mean %j', (input, expected) => {
    expect(closest(input, COMMANDS, withoutTopic)).toBe(expected)
  })

  it('suggests nothing when nothing is near: a guess far off is worse than none', () => {
    expect(closest('frobnicate', COMMANDS, withoutTopic)).toBeUndefined()
    expect(closest('rm', COMMANDS, withoutTopic)).toBeUndefined()
    expect(closest('--bogus', ['--dry-run', '--force', '--json'])).toBeUndefined()
  })

  it('finds mistyped flags', () => {
    const flags = ['--dry-run', '--force', '--min-age', '--max-delete', '--json', '--help']
    expect(closest('--dryrun', flags)).toBe('--dry-run')
    expect(closest('--min-ag', flags)).toBe('--min-age')
    expect(closest('--forse', flags)).toBe('--force')
  })
})
