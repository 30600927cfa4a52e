import {closeSync, fsyncSync, writeSync} from 'node:fs'
import {dirname} from 'node:path'
import prettyBytes from 'pretty-bytes'

import type {Item, Totals} from '../pipeline/pipeline.js'

import {InputError} from '../exit-codes.js'
import {makeDirectories, openAppendFile} from '../host/checked-fs.js'
import {type Intent, onHost, type Resumed} from '../pipeline/intents.js'
import {describeTriggers, type Trigger} from '../pipeline/triggers.js'
import {evidenceLines} from './render.js'

export type LogFormat = 'json' | 'text'

export interface PassSummary {
  /** Who holds the lock, when the pass found another clean running. */
  busy?: string
  durationMs: number
  /** Why the pass could not finish. */
  error?: string
  /** When the reaper runs the next pass after a failed one. */
  nextPassInMs?: number
  refused?: string
  totals?: Totals
  /** What woke the pass (a reaper's; issue 24). */
  triggers?: readonly Trigger[]
}

/** The triggers a pass line lists in full; a burst is summed up in `trigger` and counted in `triggerCount`. */
const LISTED_TRIGGERS = 10

/** How long a write to stderr waits for a reader that is behind before the log counts as not writable. */
const STDERR_PATIENCE_MS = 30_000
const pause = new Int32Array(new SharedArrayBuffer(4))

/** All of `data` to a descriptor that may be a non-blocking pipe: partial writes continue, EAGAIN waits a millisecond. */
function writeAllToPipe(fd: number, data: Buffer): void {
  const deadline = Date.now() + STDERR_PATIENCE_MS
  let offset = 0
  while (offset < data.length) {
    try {
      offset += writeSync(fd, data, offset)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() > deadline) throw error
      Atomics.wait(pause, 0, 0, 1)
    }
  }
}

/** What a finished pass did, in the text line; `unknown` only when there is one. */
function doneCounts(totals: Totals | undefined): string {
  const counts = `${totals?.removed ?? 0} removed, ${totals?.kept ?? 0} kept, ${totals?.skipped ?? 0} skipped, ${totals?.failed ?? 0} failed`
  return totals?.unknown ? `${counts}, ${totals.unknown} unknown` : counts
}

/**
 * Opens (appends to) the log file, creating missing parent directories 0700 (the README's cron line and the
 * systemd unit on a fresh home); a new log is created by this open alone, and a symlink at its name is never
 * followed (host/checked-fs.ts). What cannot be a log file is a usage error with one line: exit 2.
 */
function openLogFile(file: string): number {
  const example = 'e.g. --log-file ~/.moat/reap.log'
  try {
    makeDirectories(dirname(file))
  } catch (error) {
    const {code} = error as NodeJS.ErrnoException
    throw new InputError(`--log-file: cannot create the directory of ${file} (${code}); give a file in a writable directory, ${example}`)
  }

  try {
    return openAppendFile(file)
  } catch (error) {
    const {code} = error as NodeJS.ErrnoException
    const why =
      code === 'EISDIR'
        ? 'is a directory'
        : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
          ? `is not writable (${code}${code === 'EPERM' ? ': immutable or append-only' : ''})`
          : code === 'ELOOP'
            ? 'is a symlink, never followed (give the file it points to)'
            : code === 'ENOTREG' || code === 'ENXIO'
              ? 'is not a regular file'
              : `cannot be opened (${code})`
    throw new InputError(`--log-file: ${file} ${why}; give a writable file, ${example}`)
  }
}

/**
 * The reaper's audit trail: one line per decision and one per pass, written with a synchronous write(2) on an
 * O_APPEND descriptor as each happens, so a crash or SIGKILL mid-pass loses no line already decided: the line of a
 * decision is on its way to the disk before the next deletion starts. A line that cannot be written (a full disk)
 * aborts `failed`: the pass deletes nothing more, and `problem` says why.
 */
export class AuditLog {
  /** Aborted by the first line that could not be written. */
  readonly failed: AbortSignal
  /** Why the log cannot be written, once a line failed. */
  problem?: string
  private readonly abort: AbortController
  private readonly fd: number
  /** The notes written in the pass `notedPass`: a long-running reaper keeps only the current pass's. */
  private readonly noted = new Set<string>()
  private notedPass?: number
  private readonly owned: boolean

  constructor(
    private readonly format: LogFormat,
    private readonly file?: string,
    /** A dry run's log says "would remove" and marks its pass events `dryRun`. */
    private readonly dryRun = false,
  ) {
    this.owned = file !== undefined
    this.fd = file === undefined ? 2 : openLogFile(file)
    this.abort = new AbortController()
    this.failed = this.abort.signal
  }

  close(): void {
    if (this.owned) closeSync(this.fd)
  }

  /**
   * An item's decision; `intent`, when its removal had one, names the engine, so the line closes that intent;
   * `trigger`, in a reaper's pass, is what woke the pass for this item.
   */
  decision(pass: number, target: string, item: Item, intent?: Intent, trigger?: Trigger): void {
    const {bytes, decision, evidence, id, name, outcome, reason} = item
    const word = decision === 'orphan' && this.dryRun ? 'would remove' : decision
    // The text line: what happened (why it was skipped, failed or is unknown), then why it had been judged so, and on
    // what facts.
    const why =
      outcome && outcome !== 'removed' && (decision === 'skipped' || decision === 'failed' || decision === 'unknown') ? `${outcome} (judged: ${reason})` : reason
    const facts = evidence ? ` [${evidenceLines(item).join('; ')}]` : ''
    const engine = intent && !onHost(intent) ? intent.engine : undefined
    this.write(
      {bytes, decision, dryRun: this.dryRun || undefined, engine, event: 'decision', evidence, id, name, outcome, pass, reason, target, trigger: trigger && triggerRecord(trigger)},
      `${word.padEnd(7)} ${target} ${name}${bytes ? ` (${prettyBytes(bytes)})` : ''}: ${why}${facts}${trigger && watched(trigger) ? ` [${trigger.kind}: ${trigger.what}]` : ''}`,
    )
  }

  /**
   * The write-ahead intents of engine and daemon requests, before they are sent: one write(2) for all of them and,
   * for a file, an fsync. Throws when they cannot be written (and aborts `failed`): then nothing of them is sent.
   * Moves into the quarantine are in the journal only: the quarantine on disk is their record, and the outcome of
   * each comes here as it is known.
   */
  intents(pass: number, intents: readonly Intent[]): void {
    const lines = intents
      .filter((intent) => !onHost(intent))
      .map((intent) => {
        const fields: Partial<Intent> = {...intent}
        delete fields.time
        return this.line({event: 'intent', pass, ...fields}, `intent  ${intent.action} ${intent.target} ${intent.name} on ${intent.engine}`)
      })
    if (lines.length === 0) return
    if (!this.writeLines(lines.join(''), this.owned)) throw new Error(this.problem)
  }

  /** A note, once per pass: one given while the targets were built is also among the report's warnings. */
  note(pass: number, message: string): void {
    if (pass !== this.notedPass) {
      this.noted.clear()
      this.notedPass = pass
    }

    if (this.noted.has(message)) return
    this.noted.add(message)
    this.write({event: 'note', message, pass}, `note: ${message}`)
  }

  pass(pass: number, summary: PassSummary): void {
    const {busy, durationMs, error, nextPassInMs, refused, totals, triggers} = summary
    const next = nextPassInMs === undefined ? '' : `; next pass in ${Math.round(nextPassInMs / 1000)}s`
    // The start and the interval are every reaper's; what a watch heard is named at the end of the line.
    const heard = triggers?.filter((trigger) => watched(trigger)) ?? []
    const woken = heard.length > 0 ? `; woken by ${describeTriggers(heard)}` : ''
    const text = error
      ? `pass ${pass} failed after ${durationMs} ms: ${error}${next}${woken}`
      : busy
        ? `pass ${pass}: another clean is running (${busy}); nothing done${woken}`
        : this.dryRun
          ? `pass ${pass} (dry run) done in ${durationMs} ms: ${totals?.orphans ?? 0} would be removed, ${totals?.kept ?? 0} kept; nothing removed${refused ? `; a real pass would refuse: ${refused}` : ''}${woken}`
          : `pass ${pass} done in ${durationMs} ms: ${doneCounts(totals)}${refused ? `; refused: ${refused}` : ''}${woken}`
    const woke =
      triggers && triggers.length > 0
        ? {
            trigger: [...new Set(triggers.map((trigger) => trigger.kind))],
            triggerCount: triggers.length,
            triggers: triggers.slice(0, LISTED_TRIGGERS).map((trigger) => triggerRecord(trigger)),
          }
        : {}
    this.write({busy, dryRun: this.dryRun || undefined, durationMs, error, event: 'pass', nextPassInMs, pass, refused, totals, ...woke}, text)
  }

  /** What this pass found of intents an interrupted earlier pass left open, and what is known of each now. */
  resumed(pass: number, resolved: readonly Resumed[]): void {
    for (const {decision, intent, outcome} of resolved) {
      this.write(
        {action: intent.action, decision, engine: intent.engine, event: 'resumed', id: intent.id, intendedAt: intent.time, name: intent.name, outcome, pass, target: intent.target},
        `resumed ${decision} ${intent.target} ${intent.name}: ${outcome}`,
      )
    }
  }

  /** Something that will wake a pass, as it happens (a watching reaper's trigger, before its settle delay). */
  trigger(trigger: Trigger, dueInMs: number): void {
    this.write(
      {...triggerRecord(trigger), dueInMs, event: 'trigger'},
      `trigger ${trigger.kind}: ${trigger.what}; pass in ${dueInMs < 1000 ? `${dueInMs} ms` : `${Math.round(dueInMs / 100) / 10}s`}`,
    )
  }

  private line(record: Record<string, unknown>, text: string): string {
    const time = new Date().toISOString()
    return (this.format === 'json' ? JSON.stringify({time, ...record}) : `${time} ${text}`) + '\n'
  }

  private write(record: Record<string, unknown>, text: string): void {
    this.writeLines(this.line(record, text), false)
  }

  /**
   * One write(2) to a file; a short write (the disk filled mid-line) is an error too. On stderr, a pipe whose reader
   * is behind (EAGAIN, a partial write) is waited for, up to STDERR_PATIENCE_MS. False once the log cannot be written.
   */
  private writeLines(text: string, sync: boolean): boolean {
    if (this.problem) return false
    const data = Buffer.from(text)
    try {
      if (this.owned) {
        const written = writeSync(this.fd, data)
        if (written !== data.length) throw Object.assign(new Error('short write'), {code: 'ENOSPC'})
      } else writeAllToPipe(this.fd, data)

      if (sync) fsyncSync(this.fd)
      return true
    } catch (error) {
      const {code, message} = error as NodeJS.ErrnoException
      this.problem = `the audit log ${this.file ?? 'on stderr'} cannot be written (${code ?? message}); nothing more is deleted`
      this.abort.abort()
      return false
    }
  }
}

/** A trigger a watch heard, not the start or the interval every reaper has. */
function watched(trigger: Trigger): boolean {
  return trigger.kind !== 'start' && trigger.kind !== 'interval'
}

/** A trigger as a log line records it: what, when (ISO time), and the run or engine it concerns. */
function triggerRecord(trigger: Trigger): Record<string, unknown> {
  return {
    at: new Date(trigger.at).toISOString(),
    engine: trigger.engine,
    kind: trigger.kind,
    replayed: trigger.replayed,
    run: trigger.run,
    what: trigger.what,
  }
}
