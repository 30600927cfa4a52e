// Durations (Go-style plus days and weeks): parsing (the duration flags), formatting (ages and --min-age echoed back), and the one-line
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
    ['7d', 604_800_000],
    ['2w', 1_209_600_000],
    ['1w2d', 777_600_000],
    ['1d12h', 129_600_000],
    ['1.5d', 129_600_000],
    ['1ms', 1],
    ['1m1ms', 60_001],
  ])('%j is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms)
  })

  it.each(['', 'x', '10', '-1h', '+1h', '1 h', 'h', '1h-5m', '1hh', '1y', '1mo', 'd', '1w-2d', '1dd'])('%j is not a duration', (text) => {
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
    expect(formatDuration(250)).toBe('250ms')
    expect(formatDuration(0.5)).toBe('500µs')
    expect(formatDuration(1e-6)).toBe('1ns')
  })

  it('normalises days and weeks to hours, as Go prints them', () => {
    expect(formatDuration(parseDuration('7d')!)).toBe('168h')
    expect(formatDuration(parseDuration('1w2d')!)).toBe('216h')
    expect(formatDuration(parseDuration('90m')!)).toBe('1h30m')
  })

  it('round-trips what it formats', () => {
    for (const ms of [0, 0.5, 250, 1000, 90_000, 5_400_000, 604_800_000]) expect(parseDuration(formatDuration(ms))).toBe(ms)
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
  const minAge = {examples: '90s, 15m, 1h30m, 7d or 2w (0s for no minimum)'}

  it.each([
    ['1h30m', 5_400_000, '1h30m'],
    ['90m', 5_400_000, '1h30m'],
    ['7d', 604_800_000, '168h'],
    ['1h0m0s', 3_600_000, '1h'],
    ['0', 0, '0s'],
  ])('%j is kept normalised beside the milliseconds (echoed in --json): %d ms, %j', (given, ms, text) => {
    expect(parseDurationFlag('min-age', given, minAge)).toEqual({ms, text})
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
      '--min-age: "x" is not a duration; use one such as 90s, 15m, 1h30m, 7d or 2w (0s for no minimum).',
    )
    expect((error as UsageError).oclif.exit).toBe(EXIT.usage)
  })

  it('enforces a minimum with an example', () => {
    const interval = {examples: '30s, 10m or 1h', min: {example: '--interval 10m', ms: 1000}}
    expect(() => parseDurationFlag('interval', '0.5s', interval)).toThrow('--interval: must be at least 1s, e.g. --interval 10m')
    expect(parseDurationFlag('interval', '1s', interval).ms).toBe(1000)
  })
})
