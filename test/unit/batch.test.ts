// How one batched engine call becomes per-ID outcomes (src/lib/runtime/batch.ts): what the CLIs print, replayed.
import {describe, expect, it} from 'vitest'

import {chunks, failureOf, firstLine, mergeOutcomes, outcomeOf, parseTimestamp} from '../../src/lib/runtime/batch.js'

describe('failureOf', () => {
  it.each([
    ['Error response from daemon: No such container: abc', 'gone'],
    ['Error: No such network: moat-run_0123456789ab', 'gone'],
    ['Error response from daemon: network moat-x not found', 'gone'],
    ['Error response from daemon: error while removing network: network moat-x id 1 has active endpoints', 'in-use'],
    ['Error response from daemon: cannot remove container "/x": container is running: stop the container before removing or force remove', 'in-use'],
    ['Error: failed to delete one or more networks: ["moat-x"] in use', 'in-use'],
    ['Error response from daemon: permission denied', 'error'],
  ])('%j is %s', (message, kind) => {
    expect(failureOf(`  ${message}\n`)).toEqual({kind, message})
  })
})

describe('outcomeOf', () => {
  const ids = ['aaa111', 'bbb222', 'ccc333']

  it('exit 0: every ID done', () => {
    expect(outcomeOf(ids, {exitCode: 0, stderr: '', stdout: ''}).failures.size).toBe(0)
  })

  it('an ID echoed on stdout is done; one named on stderr gets that line; one named nowhere gets the first error line', () => {
    const {failures} = outcomeOf(ids, {
      exitCode: 1,
      stderr: 'Error response from daemon: No such container: bbb222\nError response from daemon: something else broke\n',
      stdout: 'aaa111\n',
    })
    expect([...failures.keys()]).toEqual(['bbb222', 'ccc333'])
    expect(failures.get('bbb222')).toEqual({kind: 'gone', message: 'Error response from daemon: No such container: bbb222'})
    expect(failures.get('ccc333')).toEqual({kind: 'error', message: 'Error response from daemon: No such container: bbb222'})
  })

  it('a failure with no output at all names the exit code', () => {
    const {failures} = outcomeOf(['aaa111'], {exitCode: 125, stderr: '', stdout: ''})
    expect(failures.get('aaa111')).toEqual({kind: 'error', message: 'exit code 125'})
  })
})

describe('the other batch helpers', () => {
  it('chunks IDs into calls of at most the given size', () => {
    expect(chunks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]])
    expect(chunks([], 2)).toEqual([])
  })

  it('merges outcomes and takes a first line without "Error: "', () => {
    const merged = mergeOutcomes([
      {failures: new Map([['a', {kind: 'gone' as const, message: 'x'}]])},
      {failures: new Map([['b', {kind: 'error' as const, message: 'y'}]])},
    ])
    expect([...merged.failures.keys()]).toEqual(['a', 'b'])
    expect(firstLine('Error: boom\nmore')).toBe('boom')
  })

  it('parses RFC 3339 timestamps; Go zero time and junk are undefined', () => {
    expect(parseTimestamp('2026-01-02T03:04:05.123456789Z')).toBe(Date.parse('2026-01-02T03:04:05.123Z'))
    expect(parseTimestamp('0001-01-01T00:00:00Z')).toBeUndefined()
    expect(parseTimestamp('soon')).toBeUndefined()
    expect(parseTimestamp(42)).toBeUndefined()
  })
})
