import {closeSync, writeSync} from 'node:fs'
import {dirname} from 'node:path'
import prettyBytes from 'pretty-bytes'

import type {Item, Totals} from '../pipeline/pipeline.js'

import {InputError} from '../exit-codes.js'
import {makeDirectories, openAppendFile} from '../host/checked-fs.js'
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
  private readonly noted = new Set<string>()
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

  decision(pass: number, target: string, item: Item): void {
    const {bytes, decision, evidence, id, name, outcome, reason} = item
    const word = decision === 'orphan' && this.dryRun ? 'would remove' : decision
    // The text line: what happened (why it was skipped or failed), then why it had been judged so, and on what facts.
    const why = outcome && outcome !== 'removed' && (decision === 'skipped' || decision === 'failed') ? `${outcome} (judged: ${reason})` : reason
    const facts = evidence ? ` [${evidenceLines(item).join('; ')}]` : ''
    this.write(
      {bytes, decision, dryRun: this.dryRun || undefined, event: 'decision', evidence, id, name, outcome, pass, reason, target},
      `${word.padEnd(7)} ${target} ${name}${bytes ? ` (${prettyBytes(bytes)})` : ''}: ${why}${facts}`,
    )
  }

  /** A note, once per pass: one given while the targets were built is also among the report's warnings. */
  note(pass: number, message: string): void {
    const key = `${pass}\u0000${message}`
    if (this.noted.has(key)) return
    this.noted.add(key)
    this.write({event: 'note', message, pass}, `note: ${message}`)
  }

  pass(pass: number, summary: PassSummary): void {
    const {busy, durationMs, error, nextPassInMs, refused, totals} = summary
    const next = nextPassInMs === undefined ? '' : `; next pass in ${Math.round(nextPassInMs / 1000)}s`
    const text = error
      ? `pass ${pass} failed after ${durationMs} ms: ${error}${next}`
      : busy
        ? `pass ${pass}: another clean is running (${busy}); nothing done`
        : this.dryRun
          ? `pass ${pass} (dry run) done in ${durationMs} ms: ${totals?.orphans ?? 0} would be removed, ${totals?.kept ?? 0} kept; nothing removed${refused ? `; a real pass would refuse: ${refused}` : ''}`
          : `pass ${pass} done in ${durationMs} ms: ${totals?.removed ?? 0} removed, ${totals?.kept ?? 0} kept, ${totals?.skipped ?? 0} skipped, ${totals?.failed ?? 0} failed${refused ? `; refused: ${refused}` : ''}`
    this.write({busy, dryRun: this.dryRun || undefined, durationMs, error, event: 'pass', nextPassInMs, pass, refused, totals}, text)
  }

  private write(record: Record<string, unknown>, text: string): void {
    if (this.problem) return
    const time = new Date().toISOString()
    const line = Buffer.from((this.format === 'json' ? JSON.stringify({time, ...record}) : `${time} ${text}`) + '\n')
    try {
      // One write(2) per line; a short write (the disk filled mid-line) is an error too.
      const written = writeSync(this.fd, line)
      if (written !== line.length) throw Object.assign(new Error('short write'), {code: 'ENOSPC'})
    } catch (error) {
      const {code, message} = error as NodeJS.ErrnoException
      this.problem = `the audit log ${this.file ?? 'on stderr'} cannot be written (${code ?? message}); nothing more is deleted`
      this.abort.abort()
    }
  }
}
