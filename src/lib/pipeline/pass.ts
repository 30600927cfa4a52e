import {hostname} from 'node:os'

import type {Intent, Resumed} from './intents.js'

import {checkMoatHome, missingHomeNote, privateLockParent} from '../moat/home.js'
import {Journal} from '../output/journal.js'
import {acquireLock, lockDirOf, type LockOwner, STUCK_LOCK_MS} from './lock.js'
import {type PipelineOptions, type Report, runPipeline, type Target} from './pipeline.js'
import {resolveIntents} from './resume.js'

/** The audit trail besides the journal (`reap`'s log, a --log-file): it gets the intents and the resolved ones too. */
export interface Trail {
  intents(intents: readonly Intent[]): void
  resumed(resolved: readonly Resumed[]): void
}

export interface PassOptions extends PipelineOptions {
  /** Names the lock holder for whoever finds the lock taken (the command id). */
  command: string
  /**
   * moat-system's state directory, where a removing pass keeps its journal (the write-ahead record, issue 21) and
   * resolves first what an interrupted earlier pass left open in it. Absent: no journal (the pipeline's own tests).
   */
  journalDir?: string
  lockTimeoutMs: number
  moatHome: string
  trail?: Trail
}

/** A pass either ran, or found another deleting pass on the same MOAT_HOME and did nothing. */
export type PassOutcome = {busy: false; report: Report} | {busy: true; holder?: LockOwner; lockDir: string}

/**
 * One clean pass: the pipeline under the MOAT_HOME lock, so two deleters never race over the same items. A dry run
 * deletes nothing, so it neither takes nor waits for the lock.
 */
export async function runPass(targets: readonly Target[], options: PassOptions): Promise<PassOutcome> {
  // Before the lock: a file as --moat-home is a usage error, a missing home is never created.
  const home = checkMoatHome(options.moatHome)
  // A dry run takes no lock: its note must not say where one is taken.
  const note = missingHomeNote(options.moatHome, home, !options.dryRun)
  if (note) options.warn?.(note)
  const run = async () => {
    const report = await runPipeline(targets, options)
    if (note && !report.warnings.includes(note)) report.warnings.unshift(note)
    return {busy: false as const, report}
  }

  if (options.dryRun) return run()
  if (!home.exists) privateLockParent(home.lockParent)
  const lock = await acquireLock(home.lockParent, options.command, options.lockTimeoutMs)
  if (!lock.ok) return {busy: true, holder: lock.owner, lockDir: lockDirOf(home.lockParent)}
  let journal: Journal | undefined
  try {
    // Under the lock: only one pass of a moat home writes its journal.
    journal = options.journalDir ? Journal.open(options.journalDir, options.moatHome) : undefined
    return await recorded(targets, options, journal, note)
  } finally {
    // Whatever ended the pass (an error too): what was decided is already written; the journal keeps what is open.
    journal?.close()
    lock.held.release()
  }
}

/**
 * A removing pass with its write-ahead record: first what an interrupted earlier pass left open is resolved and
 * reported, then the pipeline runs with every intent synced to the journal (and the trail) before its request, and
 * every outcome written as it is known. A record that cannot be written stops the pass like a signal.
 */
async function recorded(targets: readonly Target[], options: PassOptions, journal: Journal | undefined, note?: string): Promise<PassOutcome> {
  const resumed = journal && journal.leftOpen.length > 0 ? await resolveIntents(journal.leftOpen, {moatHome: options.moatHome}) : []
  journal?.resumed(resumed)
  options.trail?.resumed(resumed)
  const signals = [options.signal, journal?.failed].filter((signal) => signal !== undefined)
  const report = await runPipeline(targets, {
    ...options,
    onDecision(target, item, intent) {
      journal?.decision(target, item, intent)
      options.onDecision?.(target, item, intent)
    },
    onIntent(intents) {
      journal?.intents(intents)
      options.trail?.intents(intents)
      options.onIntent?.(intents)
    },
    signal: signals.length > 0 ? AbortSignal.any(signals) : undefined,
  })
  if (resumed.length > 0) report.resumed = resumed
  if (journal?.problem) report.warnings.push(journal.problem)
  if (note && !report.warnings.includes(note)) report.warnings.unshift(note)
  return {busy: false, report}
}

/**
 * Who holds the lock and since when; past STUCK_LOCK_MS (a pass takes seconds to minutes) also exactly how to
 * clear it, because a holder on another host, or a reused PID such as 1, cannot be told dead from here.
 */
export function describeHolder(holder: LockOwner | undefined, lockDir?: string, now = Date.now()): string {
  if (!holder) return 'starting up'
  // The host only when it is another one: a shared or copied $MOAT_HOME.
  const where = `pid ${holder.pid}${holder.host && holder.host !== hostname() ? ` on ${holder.host}` : ''}`
  const text = `${where}, ${holder.command}, since ${holder.startedAt}`
  const since = Date.parse(holder.startedAt)
  if (!lockDir || !(now - since > STUCK_LOCK_MS)) return text
  return `${text}; held for over ${STUCK_LOCK_MS / 3_600_000}h: if no clean is running as ${where}, clear it with: rm -r ${lockDir}`
}
