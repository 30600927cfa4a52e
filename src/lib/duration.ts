// Go-style durations (time.ParseDuration) as moat's own `--min-age` takes them: 90s, 15m, 1h30m, 168h, 0s; plus days
// and weeks (7d, 2w, 1w2d), which Go lacks but people type: systemd-tmpfiles ages take them.
const UNIT_MS: Record<string, number> = {
  d: 86_400_000,
  h: 3_600_000,
  m: 60_000,
  ms: 1,
  ns: 1e-6,
  s: 1000,
  us: 1e-3,
  w: 604_800_000,
  µs: 1e-3,
}

// `ms` before `m`: the alternation takes the first unit that matches.
const UNIT = '(?:ns|us|µs|ms|s|m|h|d|w)'
const AMOUNT = String.raw`(?:\d+(?:\.\d*)?|\.\d+)`
const DURATION = new RegExp(`^(?:${AMOUNT}${UNIT})+$`)
const PART = new RegExp(`(${AMOUNT})(${UNIT})`, 'g')

/** Milliseconds for a duration, or undefined when the text is not one (negative values included). */
export function parseDuration(text: string): number | undefined {
  const value = text.trim()
  if (value === '0') return 0
  if (!DURATION.test(value)) return undefined
  let total = 0
  for (const [, amount, unit] of value.matchAll(PART)) total += Number(amount) * UNIT_MS[unit!]!
  return total
}

/** Short age the way moat prints it: 45s, 12m, 3.5h, 4d. */
export function formatAge(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000))
  if (seconds < 60) return `${seconds}s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`
  if (seconds < 86_400) return `${(seconds / 3600).toFixed(1)}h`
  return `${Math.floor(seconds / 86_400)}d`
}

/**
 * A duration the way Go prints it (1h0m0s becomes 1h, 7d becomes 168h, under a second 250ms): the one normalised
 * form --min-age is echoed back in, whatever units it was given in.
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s'
  if (ms < 1) return ms < 1e-3 ? `${Math.round(ms * 1e6)}ns` : `${Number((ms * 1000).toFixed(3))}µs`
  if (ms < 1000) return `${Number(ms.toFixed(6))}ms`
  const hours = Math.floor(ms / 3_600_000)
  const minutes = Math.floor((ms % 3_600_000) / 60_000)
  const seconds = (ms % 60_000) / 1000
  return [hours ? `${hours}h` : '', minutes ? `${minutes}m` : '', seconds ? `${Number(seconds.toFixed(3))}s` : ''].join('')
}
