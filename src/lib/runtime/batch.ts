// Helpers both CLI adapters use to turn one batched call into per-ID outcomes.
import type {BatchOutcome, BatchWatch, Failure} from './types.js'

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

/** How a CLI says that the engine itself could not be asked, for outcomeOf. */
export interface EngineWords {
  /** "Docker engine", "Apple container services". */
  engine: string
  unreachable: RegExp
}

/** What outcomeOf reads of one finished (or killed) CLI call. */
export interface CallResult {
  exitCode: number
  stderr: string
  stdout: string
  /** Killed at its timeout: what it printed until then still counts. */
  timedOut?: boolean
}

/**
 * Per-ID outcome of one call over many IDs, for CLIs that echo each ID they handled on stdout and write one error
 * line per failed ID, naming it, on stderr (docker rm / network rm / volume rm / stop; Apple's rm and stop).
 * Every ID echoed was done, also when the call then failed or was killed half-way (an engine that died mid-batch):
 * those are never lost. An ID not echoed is failed, with the engine's words, and never `gone`: an engine that could
 * not be asked confirms nothing.
 */
export function outcomeOf(ids: readonly string[], result: CallResult, words?: EngineWords): BatchOutcome {
  const failures = new Map<string, Failure>()
  if (result.exitCode === 0 && !result.timedOut) return {failures}
  const done = new Set(result.stdout.split('\n').map((line) => line.trim()))
  const lines = result.stderr.split('\n').filter((line) => line.trim())
  // Not echoed and the engine went: it may have done it. The caller asks it again (Failure.unconfirmed).
  const lost = (text: string): Failure => ({
    kind: 'error',
    lost: true,
    message: `${words!.engine} unreachable, not confirmed: ${firstLine(text)}`,
    unconfirmed: true,
  })
  const general = firstLine(result.stderr)
  const fallback: Failure = result.timedOut
    ? {
        kind: 'error',
        lost: true,
        message: `${words?.engine ?? 'the engine'} did not answer in time, not confirmed${general ? `: ${general}` : ''}`,
        unconfirmed: true,
      }
    : words?.unreachable.test(general)
      ? lost(general)
      : {kind: 'error', message: general || `exit code ${result.exitCode}`}
  for (const id of ids) {
    if (done.has(id)) continue
    const line = lines.find((candidate) => candidate.includes(id))
    if (line) {failures.set(id, words?.unreachable.test(line) ? lost(line) : failureOf(line))}
    else {failures.set(id, fallback)}
  }

  return {failures}
}

/** The engine could not be asked during this call: later batches of the same job are not even tried. */
export function engineLost(result: CallResult, words: EngineWords): boolean {
  return Boolean(result.timedOut) || (result.exitCode !== 0 && words.unreachable.test(result.stderr))
}

/** The outcome for IDs a job never sent because the engine was lost before their batch. */
export function notSent(ids: readonly string[], words: EngineWords): BatchOutcome {
  const failure: Failure = {
    kind: 'error',
    lost: true,
    message: `${words.engine} unreachable, not tried: it stopped answering earlier in this batch`,
  }
  return {failures: new Map(ids.map((id) => [id, failure]))}
}

/**
 * The engine could not be asked about any of these IDs, so nothing was done and nothing can be lost: the caller
 * treats it as the engine unreachable (as any other call). Undefined when anything was done or answered.
 */
export function nothingAsked(ids: readonly string[], outcome: BatchOutcome): Failure | undefined {
  const first = outcome.failures.get(ids[0] ?? '')
  if (!first?.lost) return undefined
  return ids.every((id) => outcome.failures.get(id)?.lost) ? first : undefined
}

/** Never sent: the caller stopped the batch (BatchWatch) before these IDs' turn. */
export const NOT_SENT: Failure = {interrupted: true, kind: 'error', message: 'not sent: the pass was stopped before its turn'}

/**
 * BatchWatch for adapters that learn outcomes per call rather than per ID (the CLIs, which answer when the process
 * ends): the record before the call, then each ID's outcome once the call is done. Nothing is sent once the signal
 * is aborted or the record could not be written.
 */
export async function watchedCall(
  ids: readonly string[],
  watch: BatchWatch | undefined,
  call: () => Promise<BatchOutcome>,
): Promise<BatchOutcome> {
  if (!watch || ids.length === 0) return call()
  if (watch.signal?.aborted || (watch.beforeSend && !watch.beforeSend(ids))) {
    const outcome = {failures: new Map(ids.map((id) => [id, NOT_SENT]))}
    for (const id of ids) watch.onReply?.(id, NOT_SENT)
    return outcome
  }

  const outcome = await call()
  for (const id of ids) watch.onReply?.(id, outcome.failures.get(id))
  return outcome
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
