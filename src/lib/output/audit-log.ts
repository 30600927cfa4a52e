import {closeSync, openSync, writeSync} from 'node:fs'
import prettyBytes from 'pretty-bytes'

import type {Item, Totals} from '../pipeline/pipeline.js'

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
 * The reaper's audit trail: one line per decision and one per pass, written with a synchronous write(2) on an
 * O_APPEND descriptor as each happens, so a crash or SIGKILL mid-pass loses no line already decided.
 */
export class AuditLog {
  private readonly fd: number
  private readonly owned: boolean

  constructor(
    private readonly format: LogFormat,
    file?: string,
  ) {
    this.owned = file !== undefined
    this.fd = file === undefined ? 2 : openSync(file, 'a', 0o600)
  }

  close(): void {
    if (this.owned) closeSync(this.fd)
  }

  decision(pass: number, target: string, item: Item): void {
    this.write(
      {bytes: item.bytes, decision: item.decision, event: 'decision', id: item.id, name: item.name, pass, reason: item.reason, target},
      `${item.decision.padEnd(7)} ${target} ${item.name}${item.bytes ? ` (${prettyBytes(item.bytes)})` : ''}: ${item.reason}`,
    )
  }

  note(pass: number, message: string): void {
    this.write({event: 'note', message, pass}, `note: ${message}`)
  }

  pass(pass: number, summary: PassSummary): void {
    const {busy, durationMs, error, nextPassInMs, refused, totals} = summary
    const next = nextPassInMs === undefined ? '' : `; next pass in ${Math.round(nextPassInMs / 1000)}s`
    const text = error
      ? `pass ${pass} failed after ${durationMs} ms: ${error}${next}`
      : busy
        ? `pass ${pass}: another clean is running (${busy}); nothing done`
        : `pass ${pass} done in ${durationMs} ms: ${totals?.removed ?? 0} removed, ${totals?.kept ?? 0} kept, ${totals?.skipped ?? 0} skipped, ${totals?.failed ?? 0} failed${refused ? `; refused: ${refused}` : ''}`
    this.write({busy, durationMs, error, event: 'pass', nextPassInMs, pass, refused, totals}, text)
  }

  private write(record: Record<string, unknown>, text: string): void {
    const time = new Date().toISOString()
    const line = this.format === 'json' ? JSON.stringify({time, ...record}) : `${time} ${text}`
    writeSync(this.fd, line + '\n')
  }
}
