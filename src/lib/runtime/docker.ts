import {existsSync, readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'

import type {
  AddressPool,
  AddressSpace,
  BatchOutcome,
  BatchWatch,
  ContainerInfo,
  Endpoint,
  EngineIdentity,
  EngineRef,
  HostMount,
  ListFilter,
  MountProbe,
  NetworkInfo,
  NetworkSubnets,
  ObjectInfo,
  ObjectKind,
  Runtime,
  StopOptions,
  VolumeInfo,
} from './types.js'

import {
  chunks,
  engineLost,
  type EngineWords,
  failureOf,
  firstLine,
  mergeOutcomes,
  nothingAsked,
  notSent,
  outcomeOf,
  parseTimestamp,
  watchedCall,
} from './batch.js'
import {resolveDockerEndpoint} from './docker-endpoint.js'
import {RuntimeAbsentError, RuntimeUnreachableError} from './errors.js'
import {execFile, type ExecResult} from './exec.js'

const CALL_TIMEOUT_MS = 20_000
/** Extra time a removal call gets per ID: the daemon takes tens of ms for each network. */
const REMOVE_MS_PER_ID = 250
/** Concurrent `docker network rm` processes for a large batch. */
const NETWORK_RM_PROCESSES = 4

function removeTimeout(count: number): number {
  return CALL_TIMEOUT_MS + count * REMOVE_MS_PER_ID
}

/** `docker stop`: the engine's default grace period before SIGKILL, and how many containers the CLI stops at once. */
const DOCKER_STOP_GRACE_S = 10
const STOP_PARALLEL = 50
/** An engine that takes longer than this to say its time is treated as not answering. */
const PING_TIMEOUT_MS = 10_000

/** The CLI's closing line after per-ID errors, which names no ID. */
const EXIT_STATUS = /^exit status \d+$/

const UNREACHABLE =
  /cannot connect to the docker daemon|error during connect|is the docker daemon running|connection refused|no such host|dial unix|context deadline exceeded|permission denied while trying to connect/i

const DOCKER_WORDS: EngineWords = {engine: 'Docker engine', unreachable: UNREACHABLE}

// The subsets of `docker inspect` output read here.
export interface RawContainer {
  Config?: {Image?: string; Labels?: null | Record<string, string>}
  Created?: string
  Id: string
  Mounts?: Array<{Destination?: string; Name?: string; Source?: string; Type?: string}>
  Name?: string
  NetworkSettings?: {Networks?: null | Record<string, {NetworkID?: string}>}
  State?: {FinishedAt?: string; Running?: boolean; Status?: string}
}

interface RawNetwork {
  Containers?: null | Record<string, {Name?: string}>
  Created?: string
  Id: string
  IPAM?: {Config?: Array<{Subnet?: string}> | null}
  Labels?: null | Record<string, string>
  Name: string
  Scope?: string
}

/** `DefaultAddressPools` of `docker info` / GET /info: null or absent when the daemon uses its built-in pools. */
export type RawAddressPools = Array<{Base?: string; Size?: number}> | null | undefined

interface RawVolume {
  CreatedAt?: string
  Driver?: string
  Labels?: null | Record<string, string>
  Mountpoint?: string
  Name: string
  Options?: null | Record<string, string>
}

export interface DockerCliOptions {
  /**
   * What to set in the docker CLI's environment to reach one engine (`DOCKER_HOST`, or `DOCKER_CONTEXT` for a
   * context); without it the CLI finds its engine itself, as a user's `docker` would.
   */
  env?: NodeJS.ProcessEnv
}

/**
 * The docker CLI, so DOCKER_HOST and docker contexts work as users expect (DESIGN.md "Runtimes"). Every method
 * spawns a fixed number of processes whatever the number of IDs (see chunks() for the one exception), except
 * disconnect(), whose CLI takes one container per call.
 */
export class DockerCli implements MountProbe, Runtime {
  /** Who the engine is, read by ping(). */
  identity?: EngineIdentity
  readonly name = 'docker'
  /** Engine clock minus ours, measured by ping(). */
  private clockOffsetMs = 0

  constructor(private readonly options: DockerCliOptions = {}) {}

  /**
   * True when nothing at all points at an engine: no DOCKER_HOST, no context, no default socket. Lets a command
   * that only needs the engine as a safety check skip spawning the CLI.
   */
  static obviouslyAbsent(env: NodeJS.ProcessEnv = process.env): boolean {
    if (env.DOCKER_HOST || env.DOCKER_CONTEXT) return false
    const config = join(env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json')
    try {
      if (JSON.parse(readFileSync(config, 'utf8')).currentContext) return false
    } catch {}

    return !existsSync('/var/run/docker.sock')
  }

  /** The environment a `docker` process for this engine needs (for a `docker cp` started elsewhere). */
  get env(): NodeJS.ProcessEnv | undefined {
    return this.options.env
  }

  /** The pools and every network's subnets: one `info`, one `network ls` and one batched `network inspect`. */
  async addressSpace(): Promise<AddressSpace> {
    const [info, ids] = await Promise.all([
      this.checked(['info', '--format', '{{json .DefaultAddressPools}}']),
      this.checked(['network', 'ls', '--no-trunc', '--quiet']),
    ])
    const networks: unknown[] = []
    for (const batch of chunks(ids.stdout.split('\n').filter(Boolean))) {
      // A network removed between the list and the inspect holds no subnet any more: its error is not one.
      // eslint-disable-next-line no-await-in-loop
      const result = await this.call(['network', 'inspect', ...batch])
      networks.push(...parseJsonArray(result.stdout))
    }

    return toAddressSpace(JSON.parse(info.stdout.trim() || 'null') as RawAddressPools, networks)
  }

  /** Runs one docker CLI call; throws RuntimeUnreachableError when the engine cannot be asked. */
  async call(args: readonly string[], timeoutMs = CALL_TIMEOUT_MS): Promise<ExecResult> {
    const result = await execFile('docker', args, {env: this.options.env, timeoutMs})
    if (result.missing) throw new RuntimeAbsentError('docker', 'the docker CLI is not on PATH')
    if (result.timedOut) throw new RuntimeUnreachableError('docker', `Docker engine did not answer: docker ${args[0]} timed out after ${timeoutMs / 1000}s`)
    if (result.exitCode !== 0 && UNREACHABLE.test(result.stderr)) {
      throw new RuntimeUnreachableError('docker', `Docker engine unreachable: ${firstLine(result.stderr)}`)
    }

    return result
  }

  async disconnect(network: string, endpoints: readonly Endpoint[]): Promise<BatchOutcome> {
    const outcomes: BatchOutcome[] = []
    for (const endpoint of endpoints) {
      // `docker network disconnect` takes one container per call. Callers pass only the stale endpoints of a dead
      // run's stopped containers, so this loop is as long as what one crashed run left, never the candidate count.
      // --force: an endpoint whose container is gone can only be dropped that way, and only by its name.
      // eslint-disable-next-line no-await-in-loop
      let result = await this.call(['network', 'disconnect', '--force', network, endpoint.container])
      if (result.exitCode !== 0 && endpoint.name && failureOf(result.stderr).kind === 'gone') {
        // eslint-disable-next-line no-await-in-loop
        result = await this.call(['network', 'disconnect', '--force', network, endpoint.name])
      }

      const failure = result.exitCode === 0 ? undefined : failureOf(result.stderr)
      outcomes.push({failures: new Map(failure ? [[endpoint.container, failure]] : [])})
    }

    return mergeOutcomes(outcomes)
  }

  /** The engine the CLI reaches as this process's environment says (its own ID is not read on this path). */
  engine(): EngineRef {
    try {
      // The engine this CLI is pointed at (engines.ts gives DOCKER_HOST or DOCKER_CONTEXT), else the one it finds itself.
      return {address: resolveDockerEndpoint({...process.env, ...this.options.env}).host, id: this.identity?.id}
    } catch {
      return {address: 'docker (the CLI default)', id: this.identity?.id}
    }
  }

  async inspect<K extends ObjectKind>(kind: K, ids: readonly string[]): Promise<Map<string, ObjectInfo[K]>> {
    const found = new Map<string, ObjectInfo[K]>()
    for (const batch of chunks(ids)) {
      // eslint-disable-next-line no-await-in-loop
      const result = await this.call([kind, 'inspect', ...batch])
      // A missing ID makes inspect exit 1 but it still prints the others; anything else is a real failure.
      const problems = result.stderr
        .split('\n')
        .filter((line) => line.trim() && !EXIT_STATUS.test(line) && failureOf(line).kind !== 'gone')
      if (result.exitCode !== 0 && problems.length > 0) {
        throw new Error(`docker ${kind} inspect failed: ${problems[0]!.trim()}`)
      }

      for (const raw of parseJsonArray(result.stdout)) {
        const info = toInfo(kind, raw)
        found.set(info.id, info as ObjectInfo[K])
      }
    }

    return found
  }

  async list<K extends ObjectKind>(kind: K, filter: ListFilter = {}): Promise<Array<ObjectInfo[K]>> {
    const args: string[] = {container: ['ps', '--all'], network: ['network', 'ls'], volume: ['volume', 'ls']}[kind]
    if (kind !== 'volume') args.push('--no-trunc')
    if (filter.label) args.push('--filter', `label=${filter.label}`)
    const ids = (await this.checked([...args, '--quiet'])).stdout.split('\n').filter(Boolean)
    if (ids.length === 0) return []
    return [...(await this.inspect(kind, ids)).values()]
  }

  /** Host paths bind-mounted into running containers: one `ps` and one batched `inspect`. */
  async mountsOfRunningContainers(): Promise<HostMount[]> {
    const ids = (await this.checked(['ps', '--quiet', '--no-trunc'])).stdout.split('\n').filter(Boolean)
    if (ids.length === 0) return []
    const containers = await this.inspect('container', ids)
    return [...containers.values()].flatMap((container) =>
      container.mounts
        .filter((mount) => mount.type === 'bind' && mount.source)
        .map((mount) => ({container: container.name, runtime: 'docker' as const, source: mount.source})),
    )
  }

  now(): number {
    return Date.now() + this.clockOffsetMs
  }

  async ping(): Promise<void> {
    // One call proves the engine answers and gives its clock (`docker version` has no time) and who it is.
    const sentAt = Date.now()
    const format = '{"SystemTime":{{json .SystemTime}},"ID":{{json .ID}},"Name":{{json .Name}},"DockerRootDir":{{json .DockerRootDir}}}'
    const result = await this.call(['info', '--format', format], PING_TIMEOUT_MS)
    let info: Record<string, unknown> = {}
    try {
      info = JSON.parse(result.stdout.trim() || '{}')
    } catch {}

    const engineMs = parseTimestamp(info.SystemTime)
    // Some CLI versions print the client half of `info` and exit 0 when the server half fails.
    if (result.exitCode !== 0 || (engineMs === undefined && result.stderr.trim())) {
      throw new RuntimeUnreachableError('docker', `Docker engine unreachable: ${firstLine(result.stderr) || `docker info exited with ${result.exitCode}`}`)
    }

    // The CLI shows no reply headers: an engine reached only through it is taken for Docker (README "Runtimes").
    this.identity = identityOf(info, 'docker')
    // An engine that answers without a time is still reachable; then our clock stands in for its clock.
    this.clockOffsetMs = engineMs === undefined ? 0 : engineMs - (sentAt + Date.now()) / 2
  }

  /** An engine is configured or its default socket exists: then its containers may mount host dirs (issue 9). */
  present(): boolean {
    return !DockerCli.obviouslyAbsent({...process.env, ...this.options.env})
  }

  async remove(kind: ObjectKind, ids: readonly string[], watch?: BatchWatch): Promise<BatchOutcome> {
    // The CLI answers when it exits: the records go before the call, the outcomes after it.
    return watchedCall(ids, watch, () => this.removeAll(kind, ids))
  }

  async stop(ids: readonly string[], options: StopOptions = {}, watch?: BatchWatch): Promise<BatchOutcome> {
    const time = options.timeoutSeconds === undefined ? [] : ['--time', String(options.timeoutSeconds)]
    // The CLI stops STOP_PARALLEL containers at a time, each taking up to the grace period: allow for every wave.
    const graceMs = (options.timeoutSeconds ?? DOCKER_STOP_GRACE_S) * 1000
    return watchedCall(ids, watch, async () =>
      unlessNothingAsked(ids, await this.batched(['stop', ...time], ids, (count) => CALL_TIMEOUT_MS + Math.ceil(count / STOP_PARALLEL) * graceMs)),
    )
  }

  /**
   * One removing or stopping call per chunk of IDs. Never throws for an engine that stops answering half-way: the
   * IDs the CLI echoed before are done and kept as such, the others fail with the engine's words (outcomeOf).
   */
  private async batched(
    command: readonly string[],
    ids: readonly string[],
    timeoutMs: (count: number) => number = () => CALL_TIMEOUT_MS,
  ): Promise<BatchOutcome> {
    const outcomes: BatchOutcome[] = []
    let lost = false
    for (const batch of chunks(ids)) {
      if (lost) {
        outcomes.push(notSent(batch, DOCKER_WORDS))
        continue
      }

      // eslint-disable-next-line no-await-in-loop
      const result = await execFile('docker', [...command, ...batch], {env: this.options.env, timeoutMs: timeoutMs(batch.length)})
      if (result.missing) throw new RuntimeAbsentError('docker', 'the docker CLI is not on PATH')
      outcomes.push(outcomeOf(batch, result, DOCKER_WORDS))
      lost = engineLost(result, DOCKER_WORDS)
    }

    return mergeOutcomes(outcomes)
  }

  private async checked(args: readonly string[]): Promise<ExecResult> {
    const result = await this.call(args)
    if (result.exitCode !== 0) throw new Error(`docker ${args.join(' ')} failed: ${firstLine(result.stderr)}`)
    return result
  }

  private async removeAll(kind: ObjectKind, ids: readonly string[]): Promise<BatchOutcome> {
    // Never --force: the engine refuses running containers, networks with endpoints and volumes in use.
    const command = {container: ['rm'], network: ['network', 'rm'], volume: ['volume', 'rm']}[kind]
    if (kind !== 'network') return unlessNothingAsked(ids, await this.batched(command, ids, removeTimeout))
    // The CLI removes networks one after another, each a slow daemon round trip (~50 ms): a fixed number of CLIs
    // side by side keeps the process count constant and the time near `docker network prune`.
    // A handful of networks go in one call: the process count is one of two constants, never growing with the IDs.
    const processes = ids.length < 2 * NETWORK_RM_PROCESSES ? 1 : NETWORK_RM_PROCESSES
    const groups = chunks(ids, Math.max(1, Math.ceil(ids.length / processes)))
    return unlessNothingAsked(ids, mergeOutcomes(await Promise.all(groups.map((group) => this.batched(command, group, removeTimeout)))))
  }
}

/** An engine that could not be asked about any ID is unreachable, as for any other call: nothing was done. */
function unlessNothingAsked(ids: readonly string[], outcome: BatchOutcome): BatchOutcome {
  const failure = nothingAsked(ids, outcome)
  if (failure) throw new RuntimeUnreachableError('docker', failure.message)
  return outcome
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value ? value : undefined
}

/** The identity fields of a `/info` reply (the API's or `docker info`'s JSON). */
export function identityOf(info: {DockerRootDir?: unknown; ID?: unknown; Name?: unknown}, kind: EngineIdentity['kind']): EngineIdentity {
  return {id: nonEmpty(info.ID), kind, name: nonEmpty(info.Name), rootDir: nonEmpty(info.DockerRootDir)}
}

export function toInfo(kind: ObjectKind, raw: unknown): ContainerInfo | NetworkInfo | VolumeInfo {
  if (kind === 'container') return containerInfo(raw as RawContainer)
  if (kind === 'network') return networkInfo(raw as RawNetwork)
  const volume = raw as RawVolume
  return {
    createdMs: parseTimestamp(volume.CreatedAt),
    driver: volume.Driver || undefined,
    id: volume.Name,
    labels: volume.Labels ?? {},
    mountpoint: volume.Mountpoint || undefined,
    name: volume.Name,
    options: volume.Options ?? undefined,
  }
}

function containerInfo(raw: RawContainer): ContainerInfo {
  const networks = Object.entries(raw.NetworkSettings?.Networks ?? {}).map(([name, net]) => ({
    // A container attached while stopped has no network ID yet, only the name.
    id: net?.NetworkID || undefined,
    name,
  }))
  return {
    createdMs: parseTimestamp(raw.Created),
    finishedMs: parseTimestamp(raw.State?.FinishedAt),
    id: raw.Id,
    image: raw.Config?.Image ?? '',
    labels: raw.Config?.Labels ?? {},
    mounts: (raw.Mounts ?? []).map((mount) => ({
      destination: mount.Destination ?? '',
      name: mount.Name || undefined,
      source: mount.Source ?? '',
      type: mount.Type ?? '',
    })),
    name: (raw.Name ?? '').replace(/^\//, ''),
    networks,
    running: raw.State?.Running === true,
    state: raw.State?.Status ?? 'unknown',
  }
}

function networkInfo(raw: RawNetwork): NetworkInfo {
  return {
    createdMs: parseTimestamp(raw.Created),
    endpoints: Object.entries(raw.Containers ?? {}).map(([container, endpoint]) => ({
      container,
      name: endpoint?.Name ?? '',
    })),
    id: raw.Id,
    labels: raw.Labels ?? {},
    name: raw.Name,
  }
}

/** The engine's pools and its networks' subnets, from the raw `DefaultAddressPools` and network objects. */
export function toAddressSpace(pools: RawAddressPools, networks: readonly unknown[], engine?: string): AddressSpace {
  return {
    engine,
    networks: networks.map((raw): NetworkSubnets => {
      const network = raw as RawNetwork
      const subnets = (network.IPAM?.Config ?? []).flatMap((config) => (config.Subnet ? [config.Subnet] : []))
      return {id: network.Id, name: network.Name, scope: network.Scope ?? 'local', subnets}
    }),
    pools: (pools ?? [])
      .filter((pool) => typeof pool.Base === 'string' && typeof pool.Size === 'number')
      .map((pool): AddressPool => ({base: pool.Base!, size: pool.Size!})),
  }
}

export function parseJsonArray(text: string): unknown[] {
  const trimmed = text.trim()
  if (!trimmed) return []
  const value = JSON.parse(trimmed)
  return Array.isArray(value) ? value : [value]
}

