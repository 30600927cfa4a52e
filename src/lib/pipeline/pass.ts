import {acquireLock, type LockOwner} from './lock.js'
import {type PipelineOptions, type Report, runPipeline, type Target} from './pipeline.js'

export interface PassOptions extends PipelineOptions {
  /** Names the lock holder for whoever finds the lock taken (the command id). */
  command: string
  lockTimeoutMs: number
  moatHome: string
}

/** A pass either ran, or found another deleting pass on the same MOAT_HOME and did nothing. */
export type PassOutcome = {busy: false; report: Report} | {busy: true; holder?: LockOwner}

/**
 * One clean pass: the pipeline under the MOAT_HOME lock, so two deleters never race over the same items. A dry run
 * deletes nothing, so it neither takes nor waits for the lock.
 */
export async function runPass(targets: readonly Target[], options: PassOptions): Promise<PassOutcome> {
  if (options.dryRun) return {busy: false, report: await runPipeline(targets, options)}
  const lock = await acquireLock(options.moatHome, options.command, options.lockTimeoutMs)
  if (!lock.ok) return {busy: true, holder: lock.owner}
  try {
    return {busy: false, report: await runPipeline(targets, options)}
  } finally {
    lock.held.release()
  }
}

export function describeHolder(holder: LockOwner | undefined): string {
  return holder ? `pid ${holder.pid}, ${holder.command}, since ${holder.startedAt}` : 'starting up'
}
