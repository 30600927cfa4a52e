// Which moat runs are alive (moat-resources.md §10.1): a run is alive while $MOAT_HOME/runs/<id>/ exists, with or
// without metadata.json, or while the moat daemon lists it. Read this only after listing runtime resources: moat
// creates the run dir before any network or container (§2.1), so that order can never see a new run's resources
// without its dir.
import {join} from 'node:path'

import {entryStat, listDirectory, readStateFile, Unreadable} from '../host/checked-fs.js'
import {askDaemon, type DaemonRuns} from './daemon.js'
import {parseMetadata, type RunMetadata} from './metadata.js'
import {RUN_ID} from './run-id.js'

export interface RunRecord {
  dir: string
  id: string
  /** Absent when the dir has no metadata.json: a run being created, or one that crashed before moat saved it. */
  metadata?: RunMetadata
  /** Why an existing metadata.json could not be read (the run is alive all the same). */
  metadataError?: string
  /**
   * Why runs/<id> itself could not be checked (ELOOP, EIO, ...): it may be a run dir, so the run counts as alive and
   * nothing in it is judged (issue 20: only "does not exist" means absent).
   */
  unreadable?: string
}

export interface RegistryOptions {
  daemonTimeoutMs?: number
}

export class RunRegistry {
  private constructor(
    readonly runsDir: string,
    readonly runs: ReadonlyMap<string, RunRecord>,
    readonly daemon: DaemonRuns,
  ) {}

  /**
   * Reads runs/ and asks the daemon. Throws when runs/ cannot be read, or listed but not searched (mode r--): with a
   * wrong --moat-home, or with every run dir unreadable, every run would look ended, so nothing may be judged.
   */
  static async read(moatHome: string, options: RegistryOptions = {}): Promise<RunRegistry> {
    const runsDir = join(moatHome, 'runs')
    const daemon = askDaemon(moatHome, options.daemonTimeoutMs)
    let names: string[] | undefined
    let why = 'does not exist'
    try {
      names = listDirectory(runsDir)
    } catch (error) {
      if (!(error instanceof Unreadable)) throw error
      why = error.why
    }

    if (!names) {
      throw new Error(
        `moat's runs directory ${runsDir} ${why}, so no run can be told alive; point --moat-home (or MOAT_HOME) at moat's home, e.g. --moat-home ~/.moat`,
      )
    }

    const runs = new Map<string, RunRecord>()
    for (const id of names) {
      // Only names moat could have made (§10.2), and only directories (any content counts).
      if (!RUN_ID.test(id)) continue
      const run = checkRun(join(runsDir, id), id)
      if (run) runs.set(id, run)
    }

    return new RunRegistry(runsDir, runs, await daemon)
  }

  /** Why this run counts as alive, or undefined when it has ended. */
  aliveReason(runId: string): string | undefined {
    const run = this.runs.get(runId)
    if (run) return describeRunDir(run)
    if (this.daemon.runIds.has(runId)) return 'the moat daemon lists it'
    return undefined
  }

  /** What the daemon said of a run it does not list, for the evidence that the run has ended (§10.1). */
  daemonFact(): string {
    if (this.daemon.answered) return 'the moat daemon does not list it'
    if (this.daemon.problem) return `not asked: ${this.daemon.problem}`
    return 'no moat daemon running'
  }

  /** The evidence that a run has ended (§10.1), as checked: its run dir, and the daemon. */
  endedEvidence(runId: string): string {
    return `no run dir ${join(this.runsDir, runId)}; ${this.daemonFact()}`
  }
}

/**
 * The run at runs/<id>: undefined when there is no directory there (absent, or a file); a directory (a symlink to
 * one counts, as it always did) is a run, with its metadata.json read; anything that cannot be checked is a run too.
 */
function checkRun(dir: string, id: string): RunRecord | undefined {
  let stat
  try {
    stat = entryStat(dir, {follow: true})
  } catch (error) {
    if (!(error instanceof Unreadable)) throw error
    return {dir, id, unreadable: error.message}
  }

  if (!stat?.isDirectory()) return undefined
  let text: string | undefined
  try {
    text = readStateFile(join(dir, 'metadata.json'), 'metadata.json')
  } catch (error) {
    if (!(error instanceof Unreadable)) throw error
    return {dir, id, metadataError: error.message}
  }

  if (text === undefined) return {dir, id}
  try {
    return {dir, id, metadata: parseMetadata(text)}
  } catch (error) {
    return {dir, id, metadataError: (error as Error).message}
  }
}

function describeRunDir(run: RunRecord): string {
  if (run.unreadable) return `its run dir cannot be checked: ${run.unreadable}`
  if (run.metadata) return `run dir exists${run.metadata.state ? ` (state ${run.metadata.state})` : ''}`
  if (run.metadataError) return `run dir exists (metadata.json unreadable: ${run.metadataError})`
  // §2.1: a dir without metadata.json counts as alive, as moat's own sweeps count it.
  return 'run dir exists without metadata.json (a run being created, or one that crashed before saving it)'
}
