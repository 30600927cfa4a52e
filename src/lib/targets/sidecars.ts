import type {RunRegistry} from '../moat/registry.js'
import type {ContainerInfo, Runtime} from '../runtime/types.js'
// BuildKit sidecars and service containers (moat-resources.md §3.1): on Docker the containers labelled
// moat.run-id=<run-id> and moat.role=buildkit-sidecar|service (§10.3), on Apple those named moat-<service>-<run-id>
// (no labels there, §7). One is removed when its run has ended, or its run is stopped or failed and the run's own
// container is not running; a running one is stopped first (a BuildKit sidecar is privileged, §3.4).
import type {Candidate, RunFacts, Verdict} from './container-target.js'

import {RUN_ID} from '../moat/run-id.js'
import {ContainerTarget} from './container-target.js'

/** §3.1: the roles moat gives its labelled Docker containers. */
const SIDECAR_ROLES: ReadonlySet<string> = new Set(['buildkit-sidecar', 'service'])

/** §3.1: `moat-buildkit-<run-id>` and `moat-<service>-<run-id>`. Apple's own builder, `buildkit`, never matches (§10.8). */
const SIDECAR_NAME = /^moat-(.+)-(run_[0-9a-f]{12})$/

/** §2.2: the persisted states of a run that has finished. */
const FINISHED_STATES: ReadonlySet<string> = new Set(['failed', 'stopped'])

export {type ContainerTargetOptions as SidecarTargetOptions} from './container-target.js'

export class SidecarTarget extends ContainerTarget {
  readonly kind = 'sidecars'
  readonly noun = ['sidecar or service container', 'sidecars and service containers'] as const

  protected candidate(runtime: Runtime, container: ContainerInfo): Candidate | undefined {
    const named = SIDECAR_NAME.exec(container.name)
    if (runtime.name !== 'docker') {
      // §7: Apple has no labels (and no BuildKit sidecar, §4.1): the name alone says it is moat's.
      return named ? {details: {role: 'service', service: named[1]}, runId: named[2]!} : undefined
    }

    // §10.3: on Docker the labels decide; a container merely named like a sidecar is not moat's.
    const runId = container.labels['moat.run-id']
    const role = container.labels['moat.role']
    if (!runId || !RUN_ID.test(runId) || !role || !SIDECAR_ROLES.has(role)) return undefined
    const service = role === 'service' && named?.[2] === runId ? named[1] : undefined
    return {details: {role, service}, runId}
  }

  protected keepRunning(): string | undefined {
    return undefined
  }

  protected override related(runId: string, registry: RunRegistry): string[] {
    // Only a stopped or failed run's verdict looks at its main container; an ended one's (no run dir) never does.
    const metadata = registry.runs.get(runId)?.metadata
    if (!metadata?.state || !FINISHED_STATES.has(metadata.state)) return []
    return metadata.containerId ? [metadata.containerId, runId] : [runId]
  }

  protected verdict({containers, registry, runId}: RunFacts): Verdict {
    const alive = registry.aliveReason(runId)
    if (!alive) return {basis: {kind: 'ended'}, evidence: {run: registry.endedEvidence(runId)}, reason: 'run ended'}
    const state = registry.runs.get(runId)?.metadata?.state
    if (!state || !FINISHED_STATES.has(state)) return {keep: `run ${runId} is alive: ${alive}`}
    if (registry.daemon.runIds.has(runId)) return {keep: `run ${runId} is alive: the moat daemon lists it`}

    // §2.2: container_id is the Docker ID, or on Apple the run ID, which is also the main container's name (§3.1).
    const containerId = registry.runs.get(runId)?.metadata?.containerId
    const main = [containerId ? containers.id(containerId) : undefined, containers.named(runId)].find(
      (container) => container?.running,
    )
    if (main) return {keep: `run ${runId} is ${state} but its container ${main.name} is running`}
    return {
      basis: {kind: 'stopped', state},
      evidence: {run: `its metadata.json says ${state}; its container ${containerId ?? runId} is not running; ${registry.daemonFact()}`},
      reason: `run ${state}, its container not running`,
    }
  }
}
