// Which moat runs are alive (moat-resources.md §10.1): a run is alive while $MOAT_HOME/runs/<id>/ exists, with or
// without metadata.json, or while the moat daemon lists it. Read this only after listing runtime resources: moat
// creates the run dir before any network or container (§2.1), so that order can never see a new run's resources
// without its dir.
import {readdirSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'

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
   * Reads runs/ and asks the daemon. Throws when runs/ cannot be read: with a wrong --moat-home every run would
   * look ended, so nothing may be judged.
   */
  static async read(moatHome: string, options: RegistryOptions = {}): Promise<RunRegistry> {
    const runsDir = join(moatHome, 'runs')
    const daemon = askDaemon(moatHome, options.daemonTimeoutMs)
    let names: string[]
    try {
      names = readdirSync(runsDir)
    } catch (error) {
      const {code} = error as NodeJS.ErrnoException
      const what = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`
      throw new Error(
        `moat's runs directory ${runsDir} ${what}, so no run can be told alive; point --moat-home (or MOAT_HOME) at moat's home, e.g. --moat-home ~/.moat`,
      )
    }

    const runs = new Map<string, RunRecord>()
    for (const id of names) {
      // Only names moat could have made (§10.2), and only directories (any content counts).
      if (!RUN_ID.test(id) || !isDirectory(join(runsDir, id))) continue
      runs.set(id, readRun(join(runsDir, id), id))
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
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

function readRun(dir: string, id: string): RunRecord {
  let text: string
  try {
    text = readFileSync(join(dir, 'metadata.json'), 'utf8')
  } catch (error) {
    const {code} = error as NodeJS.ErrnoException
    return code === 'ENOENT' ? {dir, id} : {dir, id, metadataError: code ?? String(error)}
  }

  try {
    return {dir, id, metadata: parseMetadata(text)}
  } catch (error) {
    return {dir, id, metadataError: (error as Error).message}
  }
}

function describeRunDir(run: RunRecord): string {
  if (run.metadata) return `run dir exists${run.metadata.state ? ` (state ${run.metadata.state})` : ''}`
  if (run.metadataError) return `run dir exists (metadata.json unreadable: ${run.metadataError})`
  // §2.1: a dir without metadata.json counts as alive, as moat's own sweeps count it.
  return 'run dir exists without metadata.json (a run being created, or one that crashed before saving it)'
}
