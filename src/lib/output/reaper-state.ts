// The state file of a running reaper (issue 24), so that `status` can say whether a reaper is watching a moat home:
// `$XDG_STATE_HOME/moat-system/reaper-<12 hex of sha256(moat home)>.json` beside the journal, 0600 in the 0700 state
// directory. It holds the reaper's PID and process start time and what it watches; it is replaced whole (a new file
// of a random name, renamed over it) when that changes, and removed when the reaper exits. A reaper that was killed
// leaves it behind: `status` tells that one from a live one by the PID and its start time, as the clean lock does.
import {hostname} from 'node:os'
import {join} from 'node:path'

import type {WatchState} from '../pipeline/watch.js'

import {readStateFile, removeFile, Unreadable} from '../host/checked-fs.js'
import {privateDirectory, replacePrivateFile} from '../host/journal-files.js'
import {processStartTime} from '../host/proc.js'
import {ownerAlive} from '../pipeline/lock.js'
import {homeHash} from './journal.js'

export interface ReaperState {
  host: string
  /** Full passes every this long (the backstop). */
  intervalMs: number
  pid: number
  processStart?: string
  startedAt: string
  /** What it watches; absent for `--no-watch`, which only sweeps every interval. */
  watch?: WatchState
}

/** What `status` says of the reaper of a moat home. */
export interface ReaperStatus {
  /** A state file that says nothing usable (unreadable, not this tool's): why. */
  problem?: string
  /** Its process is alive (on another host: cannot be told, so taken as alive). */
  running: boolean
  /** The state file, when there is one. */
  state?: ReaperState
}

export function reaperStatePath(dir: string, moatHome: string): string {
  return join(dir, `reaper-${homeHash(moatHome)}.json`)
}

/** A reaper's own state file: written at start, replaced when what it watches changes, removed at exit. */
export class ReaperStateFile {
  private readonly path: string
  private problem?: string
  private readonly started = new Date().toISOString()

  constructor(
    private readonly dir: string,
    moatHome: string,
    private readonly intervalMs: number,
  ) {
    this.path = reaperStatePath(dir, moatHome)
  }

  /** Removes the file (only if it is still this process's): at exit. */
  remove(): void {
    try {
      const current = readReaperState(this.path)
      if (current.state?.pid === process.pid && current.state.host === hostname()) removeFile(this.path)
    } catch {}
  }

  /** Writes what the reaper watches now; a file that cannot be written is returned once as a note, and nothing else depends on it. */
  write(watch: undefined | WatchState): string | undefined {
    const state: ReaperState = {
      host: hostname(),
      intervalMs: this.intervalMs,
      pid: process.pid,
      processStart: processStartTime(process.pid),
      startedAt: this.started,
      ...(watch ? {watch} : {}),
    }
    try {
      privateDirectory(this.dir)
      replacePrivateFile(this.path, `${JSON.stringify(state, null, 2)}\n`)
      return undefined
    } catch (error) {
      if (this.problem) return undefined
      const {code, message} = error as NodeJS.ErrnoException
      this.problem = `the reaper's state file ${this.path} cannot be written (${code ?? message}): status will not show this reaper`
      return this.problem
    }
  }
}

function readReaperState(path: string): ReaperStatus {
  let text: string | undefined
  try {
    text = readStateFile(path, 'reaper state')
  } catch (error) {
    return {problem: error instanceof Unreadable ? error.message : String(error), running: false}
  }

  if (text === undefined) return {running: false}
  let state: ReaperState
  try {
    state = JSON.parse(text) as ReaperState
  } catch {
    return {problem: `${path} does not parse`, running: false}
  }

  if (typeof state?.pid !== 'number' || typeof state.startedAt !== 'string') return {problem: `${path} names no reaper`, running: false}
  return {running: ownerAlive({command: 'reap', host: state.host, pid: state.pid, processStart: state.processStart, startedAt: state.startedAt}), state}
}

/** The reaper of this moat home as its state file says, and whether its process is alive; read only. */
export function reaperStatus(dir: string, moatHome: string): ReaperStatus {
  return readReaperState(reaperStatePath(dir, moatHome))
}
