// Go-style durations: parsing (the duration flags), formatting (ages and --min-age echoed back), and the one-line
// usage error a duration flag fails with.
import {describe, expect, it} from 'vitest'

import {parseDurationFlag, UsageError} from '../../src/lib/cli/flags.js'
import {formatAge, formatDuration, parseDuration} from '../../src/lib/duration.js'
import {EXIT} from '../../src/lib/exit-codes.js'

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['15m', 900_000],
    ['1h30m', 5_400_000],
    ['168h', 604_800_000],
    ['0s', 0],
    ['0', 0],
    ['1.5h', 5_400_000],
    ['.5s', 500],
    ['250ms', 250],
    ['1h0m0s', 3_600_000],
    [' 10m ', 600_000],
  ])('%j is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms)
  })

  it.each(['', 'x', '10', '-1h', '+1h', '1d', '1 h', 'h', '1h-5m', '1hh'])('%j is not a duration', (text) => {
    expect(parseDuration(text)).toBeUndefined()
  })
})

describe('formatDuration and formatAge', () => {
  it('formats as Go prints a duration, dropping zero units', () => {
    expect(formatDuration(0)).toBe('0s')
    expect(formatDuration(3_600_000)).toBe('1h')
    expect(formatDuration(5_400_000)).toBe('1h30m')
    expect(formatDuration(90_000)).toBe('1m30s')
    expect(formatDuration(1500)).toBe('1.5s')
  })

  it('round-trips what it formats', () => {
    for (const ms of [1000, 90_000, 5_400_000, 604_800_000]) expect(parseDuration(formatDuration(ms))).toBe(ms)
  })

  it('shows ages the way moat prints them', () => {
    expect(formatAge(-5)).toBe('0s')
    expect(formatAge(45_000)).toBe('45s')
    expect(formatAge(12 * 60_000)).toBe('12m')
    expect(formatAge(3.5 * 3_600_000)).toBe('3.5h')
    expect(formatAge(4 * 86_400_000 + 5)).toBe('4d')
  })
})

describe('parseDurationFlag', () => {
  const minAge = {examples: '90s, 15m, 1h30m or 168h (0s for no minimum)'}

  it('keeps the text as given beside the milliseconds (echoed in --json)', () => {
    expect(parseDurationFlag('min-age', '1h30m', minAge)).toEqual({ms: 5_400_000, text: '1h30m'})
  })

  it('fails with one usage line naming the flag, the value and examples: exit 2', () => {
    let error: unknown
    try {
      parseDurationFlag('min-age', 'x', minAge)
    } catch (error_) {
      error = error_
    }

    expect(error).toBeInstanceOf(UsageError)
    expect((error as UsageError).line).toBe(
      '--min-age: "x" is not a duration; use a Go-style one such as 90s, 15m, 1h30m or 168h (0s for no minimum).',
    )
    expect((error as UsageError).oclif.exit).toBe(EXIT.usage)
  })

  it('enforces a minimum with an example', () => {
    const interval = {examples: '30s, 10m or 1h', min: {example: '--interval 10m', ms: 1000}}
    expect(() => parseDurationFlag('interval', '0.5s', interval)).toThrow('--interval: must be at least 1s, e.g. --interval 10m')
    expect(parseDurationFlag('interval', '1s', interval).ms).toBe(1000)
  })
})
