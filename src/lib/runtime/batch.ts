// Helpers both CLI adapters use to turn one batched call into per-ID outcomes.
import type {BatchOutcome, Failure} from './types.js'

const NOT_FOUND = /no such (?:container|network|volume|object)|not found|notfound/i
// Docker's refusals, and the Apple wordings moat retries on (moat-resources.md §4.4).
export const IN_USE =
  /has active endpoints|cannot remove a running container|container is running|in use|active container|ip allocator cannot be disabled|pending operation/i

/**
 * IDs per CLI call. Linux allows about 2 MiB of arguments; 2,000 full IDs are 130 kB, so any real host needs one
 * call per batch, and a pathological one still never hits E2BIG.
 */
const IDS_PER_CALL = 2000

export function chunks<T>(items: readonly T[], size = IDS_PER_CALL): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

export function failureOf(message: string): Failure {
  const text = message.trim()
  if (NOT_FOUND.test(text)) return {kind: 'gone', message: text}
  if (IN_USE.test(text)) return {kind: 'in-use', message: text}
  return {kind: 'error', message: text}
}

/** The first line of a CLI's error output, without a leading `Error: ` (our messages say what failed). */
export function firstLine(text: string): string {
  return (text.trim().split('\n')[0] ?? '').replace(/^Error: /, '')
}

/**
 * Per-ID outcome of one call over many IDs, for CLIs that echo each ID they handled on stdout and write one error
 * line per failed ID, naming it, on stderr (docker rm / network rm / volume rm / stop; Apple's rm and stop).
 */
export function outcomeOf(
  ids: readonly string[],
  result: {exitCode: number; stderr: string; stdout: string},
): BatchOutcome {
  const failures = new Map<string, Failure>()
  if (result.exitCode === 0) return {failures}
  const done = new Set(result.stdout.split('\n').map((line) => line.trim()))
  const lines = result.stderr.split('\n').filter((line) => line.trim())
  for (const id of ids) {
    if (done.has(id)) continue
    const line = lines.find((candidate) => candidate.includes(id))
    failures.set(id, line ? failureOf(line) : {kind: 'error', message: firstLine(result.stderr) || `exit code ${result.exitCode}`})
  }

  return {failures}
}

export function mergeOutcomes(outcomes: readonly BatchOutcome[]): BatchOutcome {
  return {failures: new Map(outcomes.flatMap((outcome) => [...outcome.failures]))}
}

/** An RFC 3339 timestamp (any precision; engines and moat write them) in ms; undefined for Go's zero time or anything unparsable. */
export function parseTimestamp(text: unknown): number | undefined {
  if (typeof text !== 'string' || !text) return undefined
  const ms = Date.parse(text)
  // Go's zero time (0001-01-01T00:00:00Z) means "never" (moat-resources.md §2.2).
  return Number.isFinite(ms) && ms > 0 ? ms : undefined
}
