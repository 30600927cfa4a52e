// "Did you mean ...?" for a mistyped command or flag: the one helper both the command_not_found hook and
// BaseCommand's unknown-flag error use. A few lines of Levenshtein instead of @oclif/plugin-not-found's: that plugin
// always names the nearest id however far it is, and prints no suggestion at all without a terminal.

/** Edit distance (insertions, deletions, substitutions, and swapping two neighbours: the commonest typo) of a and b. */
export function editDistance(a: string, b: string): number {
  // Rows i-2, i-1 and i of the optimal-string-alignment table.
  let before: number[] = []
  let previous = Array.from({length: b.length + 1}, (_, index) => index)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) current[j] = Math.min(current[j]!, before[j - 2]! + 1)
    }

    before = previous
    previous = current
  }

  return previous[b.length]!
}

/**
 * The candidate nearest to `input`, or undefined when none is near enough to be what was meant: at most a third of
 * the input's length apart (at least 1, at most 3), so `clena` finds `clean` but `version` finds nothing.
 * `alias` gives another spelling of a candidate to compare with (a command id without its topic).
 */
export function closest(input: string, candidates: readonly string[], alias?: (candidate: string) => string): string | undefined {
  const limit = Math.min(3, Math.max(1, Math.floor(input.length / 3)))
  let best: undefined | {distance: number; value: string}
  for (const value of candidates) {
    const distance = Math.min(editDistance(input, value), alias ? editDistance(input, alias(value)) : Number.POSITIVE_INFINITY)
    if (distance <= limit && (!best || distance < best.distance)) best = {distance, value}
  }

  return best?.value
}

/**
 * What docker users type (issue 23: `docker system prune`, `docker system df`, `docker network prune`), and the
 * command that does that here: suggested in the unknown-command error however far the words are from ours.
 */
export const DOCKER_COMMANDS: Readonly<Record<string, string>> = {
  'container:prune': 'system:clean-containers',
  df: 'system:status',
  'network:prune': 'system:clean-networks',
  prune: 'system:clean',
  'system:df': 'system:status',
  'system:prune': 'system:clean',
  'volume:prune': 'system:clean-volumes',
}

/**
 * docker's flags for the same thing, by the flag they are here (`--older-than 24h` is `--min-age 24h`); the value
 * given goes with the suggestion. Only suggested to a command that has the flag.
 */
export const DOCKER_FLAGS: Readonly<Record<string, {flag: string; value?: string}>> = {
  '--older-than': {flag: 'min-age'},
  '--until': {flag: 'min-age'},
  '--volumes': {flag: 'include', value: 'volumes'},
  '--yes': {flag: 'force'},
}
