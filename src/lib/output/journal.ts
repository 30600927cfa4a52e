// The journal (issue 21): every removing pass's write-ahead record, whatever command runs it and whether or not it
// has a --log-file. One small file per user and moat home in moat-system's state directory:
// `$XDG_STATE_HOME/moat-system/journal-<12 hex of sha256(moat home)>.jsonl` (`~/.local/state/...` without
// XDG_STATE_HOME), 0600 in a 0700 directory. It holds JSON lines: `intent` (synced before the request goes out),
// `decision` (the outcome of an item that had one) and `resumed` (an open intent resolved by a later pass). Written
// only under the moat home's clean lock; emptied when a pass ends with every intent resolved, and cut down to the
// open ones when it grows past COMPACT_BYTES, so it stays small.
import {closeSync, fstatSync} from 'node:fs'
import {join} from 'node:path'

import type {Item} from '../pipeline/pipeline.js'

import {appendSynced, openPrivateAppend, privateDirectory, readPrivateFile, replacePrivateFile, truncateFile} from '../host/journal-files.js'
import {type Intent, intentKey, type Resumed} from '../pipeline/intents.js'

/** A journal that ends a pass larger than this with intents still open is rewritten with only those. */
const COMPACT_BYTES = 256 * 1024

/** The journal of one moat home: passes over different homes never share one (each is kept under its own lock). */
export function journalPath(dir: string, moatHome: string): string {
  return join(dir, `journal-${homeHash(moatHome)}.jsonl`)
}

/** 12 hex of sha256(moat home): the journal's and the reaper state file's name for a moat home. */
export function homeHash(moatHome: string): string {
  // node:crypto loaded only here: loading it costs every run some 2 ms of start-up (host/checked-fs.ts randomHex).
  const {createHash} = process.getBuiltinModule('node:crypto')
  return createHash('sha256').update(moatHome).digest('hex').slice(0, 12)
}

type JournalLine = Record<string, unknown> & {event?: string}

function intentOf(line: JournalLine): Intent | undefined {
  const {action, engine, id, name, object, target} = line
  if (typeof action !== 'string' || typeof id !== 'string' || typeof target !== 'string' || typeof object !== 'string') return undefined
  const number = (value: unknown) => (typeof value === 'number' ? value : undefined)
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined)
  return {
    action: action as Intent['action'],
    createdMs: number(line.createdMs),
    dev: number(line.dev),
    engine: text(engine) ?? '',
    engineId: text(line.engineId),
    id,
    ino: number(line.ino),
    name: text(name) ?? id,
    object: object as Intent['object'],
    runId: text(line.runId),
    target,
    time: text(line.time),
  }
}

/**
 * The intents of a journal's text that nothing closed: no decision and no resolution after them, or only `unknown`
 * ones (the engine could not be asked). Lines a crash cut short are ignored.
 */
export function openIntentsIn(text: string): Map<string, Intent> {
  const open = new Map<string, Intent>()
  for (const raw of text.split('\n')) {
    if (!raw.trim()) continue
    let line: JournalLine
    try {
      line = JSON.parse(raw) as JournalLine
    } catch {
      continue
    }

    if (line.event === 'intent') {
      const intent = intentOf(line)
      if (intent) open.set(intentKey(intent), intent)
    } else if ((line.event === 'decision' || line.event === 'resumed') && typeof line.id === 'string' && typeof line.target === 'string' && line.decision !== 'unknown') open.delete(intentKey({engine: line.engine as string | undefined, id: line.id, target: line.target}))
  }

  return open
}

/** The open intents of a moat home's journal, read without creating or changing anything (`status`). */
export function readOpenIntents(dir: string, moatHome: string): Intent[] {
  return [...openIntentsIn(readPrivateFile(journalPath(dir, moatHome))).values()]
}

function line(record: Record<string, unknown>): string {
  return JSON.stringify({time: new Date().toISOString(), ...record}) + '\n'
}

function intentLine(intent: Intent): string {
  const fields: Partial<Intent> = {...intent}
  delete fields.time
  return line({event: 'intent', ...fields, pid: process.pid})
}

export class Journal {
  /** Aborted by the first record that could not be written: no removal goes without its intent. */
  readonly failed: AbortSignal
  /** What was open when this pass opened it: left by an earlier pass that was interrupted. */
  readonly leftOpen: readonly Intent[]
  /** Why it cannot be written, once a record failed. */
  problem?: string
  private readonly abort = new AbortController()
  private readonly fd: number
  private readonly open: Map<string, Intent>

  private constructor(readonly path: string) {
    this.open = openIntentsIn(readPrivateFile(path))
    this.leftOpen = [...this.open.values()]
    this.fd = openPrivateAppend(path)
    this.failed = this.abort.signal
  }

  /** Opens (creates) the journal of this moat home in `dir`; throws with one line saying what is wrong. */
  static open(dir: string, moatHome: string): Journal {
    const path = journalPath(dir, moatHome)
    try {
      privateDirectory(dir)
      return new Journal(path)
    } catch (error) {
      const {code, message} = error as NodeJS.ErrnoException
      throw new Error(
        `the journal ${path} cannot be kept (${code ?? message}): no removal goes without its record; make ${dir} a writable directory of yours, or point XDG_STATE_HOME elsewhere`,
      )
    }
  }

  /** Trims what every intent's outcome made useless, then closes. */
  close(): void {
    try {
      if (!this.problem && this.open.size === 0) truncateFile(this.fd)
      else if (!this.problem && fstatSync(this.fd).size > COMPACT_BYTES) {
        replacePrivateFile(this.path, [...this.open.values()].map((intent) => intentLine(intent)).join(''))
      }
    } catch {
      // Only its size is at stake: the next pass reads it the same.
    } finally {
      closeSync(this.fd)
    }
  }

  /** An item's outcome, when its removal had an intent; not synced (the intent makes a lost one recoverable). */
  decision(target: string, item: Item, intent?: Intent): void {
    if (!intent) return
    const {decision, id, name, outcome} = item
    this.write(line({decision, engine: intent.engine, event: 'decision', id, name, outcome, target}), false)
    if (decision !== 'unknown') this.open.delete(intentKey({engine: intent.engine, id, target}))
  }

  /** Synced before the requests go out; throws when it cannot be written (and aborts `failed`). */
  intents(intents: readonly Intent[]): void {
    if (intents.length === 0) return
    if (!this.write(intents.map((intent) => intentLine(intent)).join(''), true)) throw new Error(this.problem)
    for (const intent of intents) this.open.set(intentKey(intent), intent)
  }

  /** How this pass resolved what an earlier one left open. */
  resumed(resolved: readonly Resumed[]): void {
    if (resolved.length === 0) return
    const text = resolved
      .map(({decision, intent, outcome}) =>
        line({action: intent.action, decision, engine: intent.engine, event: 'resumed', id: intent.id, name: intent.name, outcome, target: intent.target}),
      )
      .join('')
    this.write(text, false)
    for (const {decision, intent} of resolved) if (decision !== 'unknown') this.open.delete(intentKey(intent))
  }

  private write(text: string, sync: boolean): boolean {
    if (this.problem) return false
    try {
      appendSynced(this.fd, text, sync)
      return true
    } catch (error) {
      const {code, message} = error as NodeJS.ErrnoException
      this.problem = `the journal ${this.path} cannot be written (${code ?? message}); nothing more is removed`
      this.abort.abort()
      return false
    }
  }
}
