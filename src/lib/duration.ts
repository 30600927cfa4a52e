// Go-style durations (time.ParseDuration) as moat's own `--min-age` takes them: 90s, 15m, 1h30m, 168h, 0s.
const UNIT_MS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  ms: 1,
  ns: 1e-6,
  s: 1000,
  us: 1e-3,
  µs: 1e-3,
}

const DURATION = /^(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h)(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))*$/
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g

/** Milliseconds for a Go-style duration, or undefined when the text is not one (negative values included). */
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

/** A duration the way Go prints it (1h0m0s becomes 1h): for echoing --min-age back to the user. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s'
  const hours = Math.floor(ms / 3_600_000)
  const minutes = Math.floor((ms % 3_600_000) / 60_000)
  const seconds = (ms % 60_000) / 1000
  return [hours ? `${hours}h` : '', minutes ? `${minutes}m` : '', seconds ? `${Number(seconds.toFixed(3))}s` : ''].join('')
}
