// Run containers (moat-resources.md §3.1, §3.2): named exactly <run-id>, with no labels, on Docker and Apple. One is
// removed when its run has ended (no run dir, not listed by the daemon) or crashed between creating the container
// and saving metadata.json (§2.1, §3.4), and it is not running; a running one only with --include-running.
import type {ContainerInfo, Runtime} from '../runtime/types.js'
import type {Candidate, ContainerTargetOptions, RunFacts, Verdict} from './container-target.js'

import {formatAge, formatDuration} from '../duration.js'
import {entryStat} from '../host/checked-fs.js'
import {walkTree} from '../host/tree.js'
import {RUN_ID} from '../moat/run-id.js'
import {ContainerTarget} from './container-target.js'

export interface RunContainerTargetOptions extends ContainerTargetOptions {
  /** Stop and remove running orphans too (`clean-containers --include-running`); otherwise they are kept. */
  includeRunning?: boolean
}

export class RunContainerTarget extends ContainerTarget {
  readonly kind = 'containers'
  readonly noun = ['run container', 'run containers'] as const
  private readonly includeRunning: boolean

  constructor(options: RunContainerTargetOptions) {
    super(options)
    this.includeRunning = options.includeRunning ?? false
  }

  protected candidate(_runtime: Runtime, container: ContainerInfo): Candidate | undefined {
    // §3.2: moat itself keeps exactly the containers whose name is a run ID (§10.2); they carry no labels (§3.1).
    return RUN_ID.test(container.name) ? {details: {}, runId: container.name} : undefined
  }

  protected keepRunning(): string | undefined {
    return this.includeRunning ? undefined : 'running: pass --include-running'
  }

  protected verdict({ctx, registry, runId}: RunFacts): Verdict {
    if (registry.daemon.runIds.has(runId)) return {keep: `run ${runId} is alive: the moat daemon lists it`}
    const run = registry.runs.get(runId)
    if (!run) return {basis: {kind: 'ended'}, evidence: {run: registry.endedEvidence(runId)}, reason: 'run ended'}
    if (run.metadata || run.metadataError || run.unreadable) return {keep: `run ${runId} is alive: ${registry.aliveReason(runId)}`}
    // §2.1, §3.4: a run dir without metadata.json is a run being created, or one that crashed after creating its
    // container and before saving metadata.json. Once nothing in the dir changed for --min-age, it is the latter.
    let facts: ReturnType<typeof walkTree>
    try {
      const stat = entryStat(run.dir)
      if (!stat) return {keep: `run ${runId} is alive: its run dir ${run.dir} vanished while it was read`}
      facts = walkTree(run.dir, stat)
    } catch (error) {
      return {keep: `run ${runId} is alive: its run dir cannot be read (${(error as Error).message})`}
    }

    if (facts.error) return {keep: `run ${runId} is alive: its run dir cannot be read in full (${facts.error})`}
    // Files are on the host's clock, as the cutoff is.
    const idle = formatAge(ctx.now - facts.newestMtimeMs)
    if (facts.newestMtimeMs > ctx.cutoffMs) {
      return {
        keep: `run ${runId} may still be starting: run dir without metadata.json, modified ${idle} ago (--min-age ${formatDuration(ctx.minAgeMs)})`,
      }
    }

    return {
      basis: {dirMtimeMs: facts.newestMtimeMs, kind: 'crashed'},
      evidence: {run: `run dir ${run.dir} has no metadata.json and is unchanged for ${idle} (--min-age ${formatDuration(ctx.minAgeMs)}): moat crashed before saving it; ${registry.daemonFact()}`},
      reason: 'run crashed before saving metadata.json',
    }
  }
}
