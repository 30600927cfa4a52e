import type {RunRegistry} from '../moat/registry.js'
// Per-run networks `moat-<run-id>` (moat-resources.md §4): Docker ones labelled moat.managed=true, Apple ones by
// name alone (no labels, §7). A network is removed only when its run has ended, it is older than --min-age on the
// engine's clock, and no running container, and no container of anyone else, is attached to it.
import type {PlannedItem, Settle, Target, TargetContext} from '../pipeline/pipeline.js'
import type {ContainerInfo, Endpoint, NetworkInfo, Runtime} from '../runtime/types.js'

import {formatAge, formatDuration} from '../duration.js'
import {belongsToRun, runOfNetworkName} from '../moat/run-id.js'
import {sameLabels} from '../runtime/labels.js'
import {containersForScan, engineDetail, type EngineTargetOptions, removeByRuntime, removeRecorded, rereadRuns, revived, scanEngine} from './engine-target.js'

/** §4.1, §10.3: the label moat puts on every Docker network it creates. */
const MOAT_MANAGED = 'moat.managed=true'

export type NetworkTargetOptions = EngineTargetOptions

interface ScannedNetwork {
  /** Containers configured on the network or holding an endpoint on it. */
  attached: ContainerInfo[]
  /** Endpoints whose container no longer exists. */
  dangling: Endpoint[]
  /** The engine's address, when the pass asked several Docker engines. */
  engine?: string
  network: NetworkInfo
  registry: RunRegistry
  runId: string
  runtime: Runtime
}

export interface NetworkFingerprint {
  /** Stopped containers of the dead run (and endpoints left by its deleted ones) to detach before removal. */
  detach: Endpoint[]
  labels: Record<string, string>
  name: string
  runId: string
  runtime: Runtime
}

type Planned = PlannedItem<NetworkFingerprint>

/** The removal of one runtime's networks, with the run registry read again right before it. */
interface Round {
  ctx: TargetContext
  registry: RunRegistry
  runtime: Runtime
  settle: Settle
}

export class NetworkTarget implements Target<ScannedNetwork, NetworkFingerprint> {
  readonly kind = 'networks'
  readonly noun = ['network', 'networks'] as const

  constructor(private readonly options: NetworkTargetOptions) {}

  async classify(ctx: TargetContext, scanned: ScannedNetwork[]): Promise<Planned[]> {
    return scanned.map((entry) => this.judge(ctx, entry))
  }

  async remove(ctx: TargetContext, items: Planned[], settle: Settle): Promise<void> {
    // The run dirs are read again and the daemon asked once for all runtimes.
    const registry = await rereadRuns(this.options, items, settle)
    if (!registry) return
    await removeByRuntime(ctx, items, (runtime, group) => this.removeGroup({ctx, registry, runtime, settle}, group))
  }

  async scan(ctx: TargetContext): Promise<ScannedNetwork[]> {
    const scanned = await scanEngine(ctx, this.options, async (runtime) => {
      const networks = (await runtime.list('network', {label: MOAT_MANAGED})).filter((network) => isCandidate(runtime, network))
      const containers = networks.length > 0 ? await containersForScan(ctx, runtime) : []
      return networks.map((network) => ({containers, network}))
    })
    if (!scanned) return []
    const {listed, registry, runtimes} = scanned
    return listed.flatMap(({found, runtime}) => {
      const {containers} = found[0]!
      const byId = new Map(containers.map((container) => [container.id, container]))
      return found.map(({network}) => {
        const attached = containers.filter((container) => isAttached(container, network))
        for (const endpoint of network.endpoints) {
          const container = byId.get(endpoint.container)
          if (container && !attached.includes(container)) attached.push(container)
        }

        const dangling = network.endpoints.filter((endpoint) => !byId.has(endpoint.container))
        return {attached, dangling, engine: engineDetail(runtime, runtimes), network, registry, runId: runOfNetworkName(network.name)!, runtime}
      })
    })
  }

  /**
   * What changed since the scan that forbids removing this network now, if anything. `referring` are the containers
   * configured on it now, running or not.
   */
  private drift(
    {ctx, registry}: Round,
    item: Planned,
    now: NetworkInfo | undefined,
    referring: readonly ContainerInfo[],
  ): string | undefined {
    const {fingerprint} = item
    const reason = revived(registry, fingerprint.runId)
    if (reason) return reason
    if (!now) return 'gone since the scan'
    if (now.name !== fingerprint.name) return `renamed to ${now.name}`
    if (!sameLabels(now.labels, fingerprint.labels)) return 'labels changed since the scan'
    const expected = new Set(fingerprint.detach.map((endpoint) => endpoint.container))
    const newcomer = now.endpoints.find((endpoint) => !expected.has(endpoint.container))
    if (newcomer) return `container ${newcomer.name || newcomer.container} attached since the scan`
    const restarted = referring.find((container) => container.running && expected.has(container.id))
    if (restarted) return `container ${restarted.name} is running again`
    // Only the dead run's stopped containers this pass detaches may still refer to the network; any other one,
    // even stopped, would fail its next start with "network not found" once the network is gone.
    const stranger = referring.find((container) => !expected.has(container.id))
    if (!stranger) return undefined
    const name = stranger.name || stranger.id.slice(0, 12)
    return ctx.planned.some((planned) => planned.id === stranger.id)
      ? `container ${name} was to be removed first in this pass but is still there (${stranger.state})`
      : `container ${name} attached since the scan (${stranger.state})`
  }

  private judge(ctx: TargetContext, entry: ScannedNetwork): Planned {
    const {attached, dangling, engine, network, registry, runId, runtime} = entry
    const {createdMs} = network
    const ageMs = createdMs === undefined ? undefined : runtime.now() - createdMs
    // In `clean`, containers an earlier target will remove first are leaving: they neither keep the network nor
    // need detaching (re-verification then finds their endpoints gone, or the network is skipped as drift).
    const leaving = new Set(ctx.planned.map((planned) => planned.id))
    const staying = attached.filter((container) => !leaving.has(container.id))
    const detach = [
      ...staying.filter((container) => !container.running).map((container) => ({container: container.id, name: container.name})),
      ...dangling,
    ]
    const item: Planned = {
      ageMs,
      decision: 'orphan',
      details: {
        detach: detach.length > 0 ? detach.map((endpoint) => endpoint.name || endpoint.container) : undefined,
        engine,
        run: runId,
        runtime: runtime.name,
      },
      fingerprint: {detach, labels: network.labels, name: network.name, runId, runtime},
      id: network.id,
      name: network.name,
      reason: '',
    }
    const keep = (reason: string): Planned => {
      item.decision = 'kept'
      item.reason = reason
      item.details.detach = undefined
      return item
    }

    const alive = registry.aliveReason(runId)
    if (alive) return keep(`run ${runId} is alive: ${alive}`)
    const running = staying.filter((container) => container.running)
    if (running.length > 0) return keep(`in use: running container ${names(running)} attached`)
    const foreign = staying.filter((container) => !belongsToRun(container, runId))
    if (foreign.length > 0) return keep(`container ${names(foreign)} of another owner is attached (stopped)`)
    const strangers = dangling.filter((endpoint) => !belongsToRun({labels: {}, name: endpoint.name}, runId))
    if (strangers.length > 0) return keep(`endpoint ${strangers.map((endpoint) => endpoint.name || endpoint.container).join(', ')} of a deleted container not of this run is attached`)
    if (ageMs === undefined && runtime.name !== 'apple') return keep('age unknown: the engine gave no creation time')
    if (ageMs === undefined) {
      // §4.2: Apple's network table has no creation time. The run dir (made before the network, §2.1) decides.
      if (ctx.minAgeMs > 0) ctx.warn('Apple container networks carry no creation time: --min-age is not applied to them; their run dir decides.')
    } else if (ageMs < ctx.minAgeMs) {
      return keep(`young: created ${formatAge(ageMs)} ago (--min-age ${formatDuration(ctx.minAgeMs)})`)
    }

    const leavingFirst = attached.length - staying.length
    const first = leavingFirst > 0 ? `; ${leavingFirst} removed first in this pass` : ''
    item.evidence = {
      age:
        ageMs === undefined
          ? 'not applied: Apple container networks carry no creation time; the run dir decides'
          : `created ${formatAge(ageMs)} ago by the engine's clock (--min-age ${formatDuration(ctx.minAgeMs)})`,
      attached:
        detach.length > 0
          ? `no running container; detached first: ${detach.map((endpoint) => endpoint.name || endpoint.container).join(', ')} (stopped or deleted, of this run)${first}`
          : `no container attached, running or stopped${first}`,
      run: registry.endedEvidence(runId),
    }
    item.reason = `run ended; ${ageMs === undefined ? 'age unknown' : `created ${formatAge(ageMs)} ago`}; ${detach.length > 0 ? 'only stopped containers of its run attached' : 'no container attached'}`
    return item
  }

  private async removeGroup(round: Round, items: Planned[]): Promise<void> {
    const {ctx, runtime, settle} = round
    // Re-verify right before the batch removal, with the same calls whatever the number of networks: one inspect of
    // all the networks (their live endpoints) and one list of every container, running or not. A stopped container
    // holds no endpoint, and `docker network rm` does not refuse for it, but its next start fails without the network.
    const [now, containers] = await Promise.all([
      runtime.inspect('network', items.map((item) => item.id)),
      runtime.list('container'),
    ])
    const ready: Planned[] = []
    for (const item of items) {
      const network = now.get(item.id)
      const referring = network ? containers.filter((container) => isAttached(container, network)) : []
      const drift = this.drift(round, item, network, referring)
      if (drift) settle(item, 'skipped', `drift: ${drift}`)
      else ready.push(item)
    }

    const removable: Planned[] = []
    for (const item of ready) {
      if (item.fingerprint.detach.length === 0) {
        removable.push(item)
        continue
      }

      // After the first signal no new engine call starts; what is left is reported as not reached.
      if (ctx.signal?.aborted) return
      // `docker network rm` refuses while endpoints exist: detach exactly the dead run's stopped containers first.
      // eslint-disable-next-line no-await-in-loop
      const {failures} = await runtime.disconnect(item.id, item.fingerprint.detach)
      const stuck = item.fingerprint.detach.find((endpoint) => {
        const failure = failures.get(endpoint.container)
        return failure && failure.kind !== 'gone'
      })
      if (stuck) {
        const why = failures.get(stuck.container)!.message
        settle(item, 'failed', `could not detach ${stuck.name || stuck.container}: ${why}`)
      } else removable.push(item)
    }

    if (removable.length === 0 || ctx.signal?.aborted) return
    // By full ID and without force: the engine itself refuses a network that gained an endpoint meanwhile.
    await removeRecorded(round, 'network', removable, {done: () => 'removed'})
  }
}

/** §4.2, §10.2, §10.3: named moat-<run-id>; on Docker also labelled moat.managed=true (moat-shared never is a candidate). */
function isCandidate(runtime: Runtime, network: NetworkInfo): boolean {
  if (!runOfNetworkName(network.name)) return false
  return runtime.name !== 'docker' || network.labels['moat.managed'] === 'true'
}

function isAttached(container: ContainerInfo, network: NetworkInfo): boolean {
  return container.networks.some((net) => net.id === network.id || net.name === network.name)
}

function names(containers: readonly ContainerInfo[]): string {
  return containers.map((container) => container.name || container.id.slice(0, 12)).join(', ')
}

