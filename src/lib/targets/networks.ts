// Per-run networks `moat-<run-id>` (moat-resources.md §4): Docker ones labelled moat.managed=true, Apple ones by
// name alone (no labels, §7). A network is removed only when its run has ended, it is older than --min-age on the
// engine's clock, and no running container, and no container of anyone else, is attached to it.
import type {PlannedItem, Settle, Target, TargetContext} from '../pipeline/pipeline.js'
import type {ContainerInfo, Endpoint, NetworkInfo, Runtime} from '../runtime/types.js'

import {formatAge, formatDuration} from '../duration.js'
import {RunRegistry} from '../moat/registry.js'
import {belongsToRun, runOfNetworkName} from '../moat/run-id.js'
import {sameLabels} from '../runtime/labels.js'
import {type RuntimeChoice, selectRuntimes} from '../runtime/select.js'

/** §4.1, §10.3: the label moat puts on every Docker network it creates. */
const MOAT_MANAGED = 'moat.managed=true'

export interface NetworkTargetOptions {
  daemonTimeoutMs?: number
  moatHome: string
  runtime: RuntimeChoice
  /** The runtimes --runtime chooses from; default docker and Apple. */
  runtimes?: readonly Runtime[]
}

interface ScannedNetwork {
  /** Containers configured on the network or holding an endpoint on it. */
  attached: ContainerInfo[]
  /** Endpoints whose container no longer exists. */
  dangling: Endpoint[]
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
  registry: RunRegistry
  runId: string
  runtime: Runtime
}

type Planned = PlannedItem<NetworkFingerprint>

export class NetworkTarget implements Target<ScannedNetwork, NetworkFingerprint> {
  readonly kind = 'networks'
  readonly noun = ['network', 'networks'] as const

  constructor(private readonly options: NetworkTargetOptions) {}

  async classify(ctx: TargetContext, scanned: ScannedNetwork[]): Promise<Planned[]> {
    return scanned.map((entry) => this.judge(ctx, entry))
  }

  async remove(ctx: TargetContext, items: Planned[], settle: Settle): Promise<void> {
    // The run dirs are looked at again and the daemon asked once for all runtimes.
    const alive = await items[0]!.fingerprint.registry.recheck(items.map((item) => item.fingerprint.runId))
    const byRuntime = new Map<Runtime, Planned[]>()
    for (const item of items) byRuntime.set(item.fingerprint.runtime, [...(byRuntime.get(item.fingerprint.runtime) ?? []), item])
    for (const [runtime, group] of byRuntime) {
      if (ctx.signal?.aborted) return
      // eslint-disable-next-line no-await-in-loop
      await this.removeGroup(runtime, group, alive, settle)
    }
  }

  async scan(ctx: TargetContext): Promise<ScannedNetwork[]> {
    const runtimes = await selectRuntimes(this.options.runtime, ctx.warn, this.options.runtimes)
    const listed = await Promise.all(
      runtimes.map(async (runtime) => {
        const networks = (await runtime.list('network', {label: MOAT_MANAGED})).filter((network) =>
          isCandidate(runtime, network),
        )
        const containers = networks.length > 0 ? await runtime.list('container') : []
        return {containers, networks, runtime}
      }),
    )
    if (listed.every(({networks}) => networks.length === 0)) return []
    // §10.1: runtime resources first, run dirs after.
    const registry = await RunRegistry.read(this.options.moatHome, {daemonTimeoutMs: this.options.daemonTimeoutMs})
    if (registry.daemon.problem) ctx.warn(`${registry.daemon.problem}; runs only the daemon knows are not protected.`)
    return listed.flatMap(({containers, networks, runtime}) => {
      const byId = new Map(containers.map((container) => [container.id, container]))
      return networks.map((network) => {
        const attached = containers.filter((container) => isAttached(container, network))
        for (const endpoint of network.endpoints) {
          const container = byId.get(endpoint.container)
          if (container && !attached.includes(container)) attached.push(container)
        }

        const dangling = network.endpoints.filter((endpoint) => !byId.has(endpoint.container))
        return {attached, dangling, network, registry, runId: runOfNetworkName(network.name)!, runtime}
      })
    })
  }

  /** What changed since the scan that forbids removing this network now, if anything. */
  private drift(
    item: Planned,
    now: NetworkInfo | undefined,
    alive: Map<string, string>,
    detached: Map<string, ContainerInfo>,
  ): string | undefined {
    const {fingerprint} = item
    const reason = alive.get(fingerprint.runId)
    if (reason) return reason
    if (!now) return 'gone since the scan'
    if (now.name !== fingerprint.name) return `renamed to ${now.name}`
    if (!sameLabels(now.labels, fingerprint.labels)) return 'labels changed since the scan'
    const expected = new Set(fingerprint.detach.map((endpoint) => endpoint.container))
    const newcomer = now.endpoints.find((endpoint) => !expected.has(endpoint.container))
    if (newcomer) return `container ${newcomer.name || newcomer.container} attached since the scan`
    const restarted = [...detached.values()].find(
      (container) => container.running && expected.has(container.id),
    )
    if (restarted) return `container ${restarted.name} is running again`
    return undefined
  }

  private judge(ctx: TargetContext, entry: ScannedNetwork): Planned {
    const {attached, dangling, network, registry, runId, runtime} = entry
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
        run: runId,
        runtime: runtime.name,
      },
      fingerprint: {detach, labels: network.labels, name: network.name, registry, runId, runtime},
      id: network.id,
      name: network.name,
      reason: `run ${runId} has ended: no run dir, not listed by the moat daemon`,
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

    return item
  }

  private async removeGroup(
    runtime: Runtime,
    items: Planned[],
    alive: Map<string, string>,
    settle: Settle,
  ): Promise<void> {
    // Re-verify right before the batch removal: one inspect of all the networks, and one of the containers to
    // detach (only when there are any).
    const now = await runtime.inspect('network', items.map((item) => item.id))
    const toDetach = [...new Set(items.flatMap((item) => item.fingerprint.detach.map((endpoint) => endpoint.container)))]
    const detached = toDetach.length > 0 ? await runtime.inspect('container', toDetach) : new Map<string, ContainerInfo>()
    const ready: Planned[] = []
    for (const item of items) {
      const drift = this.drift(item, now.get(item.id), alive, detached)
      if (drift) settle(item, 'skipped', `drift: ${drift}`)
      else ready.push(item)
    }

    const removable: Planned[] = []
    for (const item of ready) {
      if (item.fingerprint.detach.length === 0) {
        removable.push(item)
        continue
      }

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

    if (removable.length === 0) return
    // By full ID and without force: the engine itself refuses a network that gained an endpoint meanwhile.
    const {failures} = await runtime.remove('network', removable.map((item) => item.id))
    for (const item of removable) {
      const failure = failures.get(item.id)
      if (!failure) settle(item, 'removed', 'removed')
      else if (failure.kind === 'gone') settle(item, 'skipped', 'drift: gone before removal')
      else if (failure.kind === 'in-use') settle(item, 'skipped', `drift: the engine refused, in use: ${failure.message}`)
      else settle(item, 'failed', failure.message)
    }
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

