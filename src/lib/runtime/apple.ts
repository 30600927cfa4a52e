// Apple's `container` CLI (macOS only), with exactly the invocations and output formats moat relies on
// (moat-resources.md §7): two JSON schemas for containers, a text table for networks, no labels, no volumes.
import {lstatSync} from 'node:fs'
import {delimiter, join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import type {
  BatchOutcome,
  BatchWatch,
  ContainerInfo,
  Endpoint,
  EngineRef,
  Failure,
  HostMount,
  ListFilter,
  Mount,
  MountProbe,
  NetworkInfo,
  ObjectInfo,
  ObjectKind,
  Runtime,
  StopOptions,
} from './types.js'

import {
  chunks,
  engineLost,
  type EngineWords,
  failureOf,
  firstLine,
  IN_USE,
  mergeOutcomes,
  nothingAsked,
  notSent,
  outcomeOf,
  parseTimestamp,
  watchedCall,
} from './batch.js'
import {RuntimeAbsentError, RuntimeUnreachableError} from './errors.js'
import {execFile, type ExecResult} from './exec.js'

const CALL_TIMEOUT_MS = 20_000
const PING_TIMEOUT_MS = 10_000
/** §4.4: `container network delete` is tried up to 5 times, waiting 0.5 s·2^(n-1) after an "in use" failure. */
const DELETE_ATTEMPTS = 5
const DELETE_BACKOFF_MS = 500

/** The CLI answered but its services (apiserver, XPC) did not: `container system start` has not run. */
const UNREACHABLE = /xpc connection|connection invalid|connection interrupted|apiserver|container system start/i

const APPLE_WORDS: EngineWords = {engine: 'Apple container services', unreachable: UNREACHABLE}
/** How intents name the Apple container services of this Mac (one per host). */
export const APPLE_ENGINE = 'apple-container'

interface RawAttachment {
  address?: string
  ipv4Address?: string
  network?: string
}

/** One entry of `container list --all --format json` or `container inspect`, in either schema (§7). */
interface RawContainer {
  configuration?: {creationDate?: string; id?: string; image?: {reference?: string}; mounts?: RawMount[]}
  /** legacy */
  created?: string
  id?: string
  /** legacy */
  image?: string
  /** legacy */
  mounts?: RawMount[]
  /** legacy; 1.0.0 has none and `id` carries the --name value */
  name?: string
  /** legacy */
  networks?: RawAttachment[]
  /** legacy: a bare string; 1.0.0: an object; may be null */
  status?: null | string | {networks?: RawAttachment[]; startedDate?: string; state?: string}
}

/** A `--volume src:dst[:ro]` share as the container's JSON carries it (§7 create). */
interface RawMount {
  destination?: string
  source?: string
}

interface TableRow {
  name: string
  subnet: string
}

export interface AppleCliOptions {
  /** First wait of the "in use" retry on network delete; later waits double. */
  retryBaseMs?: number
}

export class AppleCli implements MountProbe, Runtime {
  readonly name = 'apple'
  private readonly retryBaseMs: number

  constructor(options: AppleCliOptions = {}) {
    this.retryBaseMs = options.retryBaseMs ?? DELETE_BACKOFF_MS
  }

  /**
   * Apple container has no address pool to ask: each network is its own vmnet with a /24 (moat-resources.md §4.1),
   * so its leaks show only as the count of networks.
   */
  async addressSpace(): Promise<undefined> {
    return undefined
  }

  async disconnect(_network: string, endpoints: readonly Endpoint[]): Promise<BatchOutcome> {
    // §4.4: Apple has no disconnect primitive (its ForceRemoveNetwork is a plain delete).
    const failure: Failure = {kind: 'error', message: 'Apple container cannot disconnect a container from a network'}
    return {failures: new Map(endpoints.map((endpoint) => [endpoint.container, failure]))}
  }

  /** The Apple container services of this Mac: one per host, no address to tell apart. */
  engine(): EngineRef {
    return {address: APPLE_ENGINE}
  }

  async inspect<K extends ObjectKind>(kind: K, ids: readonly string[]): Promise<Map<string, ObjectInfo[K]>> {
    const found = new Map<string, ObjectInfo[K]>()
    if (ids.length === 0 || kind === 'volume') return found
    if (kind === 'network') {
      const wanted = new Set(ids)
      for (const network of (await this.snapshot()).networks) {
        if (wanted.has(network.id)) found.set(network.id, network as ObjectInfo[K])
      }

      return found
    }

    const rows = await this.networkRows()
    for (const batch of chunks(ids)) {
      // §7: inspect prints a JSON array of the containers it knows; an empty array means they are gone.
      // eslint-disable-next-line no-await-in-loop
      const result = await this.call(['inspect', ...batch])
      const entries = parseEntries(result)
      if (result.exitCode !== 0 && entries.length === 0 && failureOf(result.stderr).kind !== 'gone') {
        throw new Error(`container inspect failed: ${firstLine(result.stderr)}`)
      }

      for (const entry of entries) {
        const info = containerInfo(entry, rows)
        found.set(info.id, info as ObjectInfo[K])
      }
    }

    return found
  }

  async list<K extends ObjectKind>(kind: K, _filter?: ListFilter): Promise<Array<ObjectInfo[K]>> {
    // §5.1: the Apple runtime rejects volume mode, so moat never makes Apple volumes.
    if (kind === 'volume') return []
    const {containers, networks} = await this.snapshot()
    return (kind === 'container' ? containers : networks) as Array<ObjectInfo[K]>
  }

  /** Host dirs shared into running containers with `--volume` (§7), from one `container list --all --format json`. */
  async mountsOfRunningContainers(): Promise<HostMount[]> {
    const {containers} = await this.containersOnly()
    return containers
      .filter((container) => container.running)
      .flatMap((container) =>
        container.mounts
          .filter((mount) => mount.source)
          .map((mount) => ({container: container.name, runtime: 'apple' as const, source: mount.source})),
      )
  }

  /** Apple containers run on this Mac: its clock is the engine's. */
  now(): number {
    return Date.now()
  }

  async ping(): Promise<void> {
    // §7: moat's own readiness check.
    const result = await this.call(['list', '--quiet'], PING_TIMEOUT_MS)
    if (result.exitCode !== 0) {
      throw new RuntimeUnreachableError('apple', `Apple container services unreachable: ${firstLine(result.stderr) || `container list exited with ${result.exitCode}`}`)
    }
  }

  /** `container` on PATH: this host may run Apple containers. */
  present(): boolean {
    return appleCliPresent()
  }

  async remove(kind: ObjectKind, ids: readonly string[], watch?: BatchWatch): Promise<BatchOutcome> {
    // The CLI answers when it exits: the records go before the call, the outcomes after it.
    return watchedCall(ids, watch, () => this.removeAll(kind, ids))
  }

  async stop(ids: readonly string[], _options?: StopOptions, watch?: BatchWatch): Promise<BatchOutcome> {
    return watchedCall(ids, watch, async () => unlessNothingAsked(ids, await this.batched(['stop'], ids)))
  }

  /** As DockerCli's: what the CLI echoed before the services stopped answering is done, and kept as such. */
  private async batched(command: readonly string[], ids: readonly string[]): Promise<BatchOutcome> {
    const outcomes: BatchOutcome[] = []
    let lost = false
    for (const batch of chunks(ids)) {
      if (lost) {
        outcomes.push(notSent(batch, APPLE_WORDS))
        continue
      }

      // eslint-disable-next-line no-await-in-loop
      const result = await execFile('container', [...command, ...batch], {timeoutMs: CALL_TIMEOUT_MS})
      if (result.missing) throw new RuntimeAbsentError('apple', 'the Apple container CLI is not on PATH')
      outcomes.push(outcomeOf(batch, result, APPLE_WORDS))
      lost = engineLost(result, APPLE_WORDS)
    }

    return mergeOutcomes(outcomes)
  }

  private async call(args: readonly string[], timeoutMs = CALL_TIMEOUT_MS): Promise<ExecResult> {
    const result = await execFile('container', args, {timeoutMs})
    if (result.missing) throw new RuntimeAbsentError('apple', 'the Apple container CLI is not on PATH')
    if (result.timedOut) throw new RuntimeUnreachableError('apple', `Apple container did not answer: container ${args[0]} timed out after ${timeoutMs / 1000}s`)
    if (result.exitCode !== 0 && UNREACHABLE.test(result.stderr)) {
      throw new RuntimeUnreachableError('apple', `Apple container services unreachable: ${firstLine(result.stderr)}`)
    }

    return result
  }

  private async containersOnly(): Promise<{containers: ContainerInfo[]}> {
    const listed = await this.call(['list', '--all', '--format', 'json'])
    if (listed.exitCode !== 0) throw new Error(`container list failed: ${firstLine(listed.stderr) || `exit ${listed.exitCode}`}`)
    return {containers: parseEntries(listed).map((entry) => containerInfo(entry, []))}
  }

  /** §4.4: retried while the output says the network is busy; "not found"/"No such" means already gone. */
  private async deleteNetwork(name: string): Promise<BatchOutcome> {
    let failure: Failure | undefined
    for (let attempt = 1; attempt <= DELETE_ATTEMPTS; attempt++) {
      // eslint-disable-next-line no-await-in-loop
      const result = await this.call(['network', 'delete', name])
      if (result.exitCode === 0) return {failures: new Map()}
      const output = `${result.stderr}\n${result.stdout}`.trim()
      failure = failureOf(output)
      if (failure.kind === 'gone' || !IN_USE.test(output)) break
      // eslint-disable-next-line no-await-in-loop
      if (attempt < DELETE_ATTEMPTS) await sleep(this.retryBaseMs * 2 ** (attempt - 1))
    }

    return {failures: new Map([[name, failure!]])}
  }

  private async networkRows(): Promise<TableRow[]> {
    const table = await this.call(['network', 'list'])
    if (table.exitCode !== 0) throw new Error(`container network list failed: ${firstLine(table.stderr)}`)
    return parseNetworkTable(table.stdout)
  }

  private async removeAll(kind: ObjectKind, ids: readonly string[]): Promise<BatchOutcome> {
    if (kind === 'volume') {
      const failure: Failure = {kind: 'error', message: 'Apple container has no volumes'}
      return {failures: new Map(ids.map((id) => [id, failure]))}
    }

    if (kind === 'container') return unlessNothingAsked(ids, await this.batched(['rm'], ids))
    const outcomes: BatchOutcome[] = []
    // §7 shows `container network delete` with one name, and the "in use" retry is per network.
    // eslint-disable-next-line no-await-in-loop
    for (const name of ids) outcomes.push(await this.deleteNetwork(name))
    return mergeOutcomes(outcomes)
  }

  /** Containers and networks as one consistent picture: which container sits on which network comes from both. */
  private async snapshot(): Promise<{containers: ContainerInfo[]; networks: NetworkInfo[]}> {
    const tableRows = await this.networkRows()
    const listed = await this.call(['list', '--all', '--format', 'json'])
    if (listed.exitCode !== 0) throw new Error(`container list failed: ${firstLine(listed.stderr)}`)
    const containers = parseEntries(listed).map((entry) => containerInfo(entry, tableRows))
    const networks = tableRows.map(({name}): NetworkInfo => ({
      // §4.2: the table has no creation time; the network's name is its ID (§0).
      createdMs: undefined,
      endpoints: containers
        .filter((container) => container.running && container.networks.some((network) => network.name === name))
        .map((container) => ({container: container.id, name: container.name})),
      id: name,
      labels: {},
      name,
    }))
    return {containers, networks}
  }
}

function parseEntries(result: ExecResult): RawContainer[] {
  const text = result.stdout.trim()
  if (!text) return []
  const value = JSON.parse(text) as unknown
  return (Array.isArray(value) ? value : [value]) as RawContainer[]
}

/** §7: both schemas; `status` may be a string, an object or null. */
function containerInfo(raw: RawContainer, rows: readonly TableRow[]): ContainerInfo {
  const status = raw.status && typeof raw.status === 'object' ? raw.status : undefined
  const state = typeof raw.status === 'string' ? raw.status : (status?.state ?? 'unknown')
  const attachments = status?.networks?.length ? status.networks : (raw.networks ?? [])
  const id = raw.id ?? raw.configuration?.id ?? ''
  return {
    createdMs: parseTimestamp(raw.created ?? raw.configuration?.creationDate),
    finishedMs: undefined,
    id,
    image: raw.image ?? raw.configuration?.image?.reference ?? '',
    labels: {},
    mounts: (raw.configuration?.mounts ?? raw.mounts ?? []).map(
      (mount): Mount => ({destination: mount.destination ?? '', source: mount.source ?? '', type: 'bind'}),
    ),
    name: raw.name || id,
    networks: attachments.flatMap((attachment) => {
      const name = attachment.network ?? networkOfAddress(attachment.ipv4Address ?? attachment.address, rows)
      return name ? [{name}] : []
    }),
    running: state === 'running',
    state,
  }
}

/** §4.2: `container network list` prints a table, header `NETWORK STATE SUBNET`; the first column is the name. */
export function parseNetworkTable(text: string): TableRow[] {
  return text
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([name]) => name && name !== 'NETWORK')
    .map(([name, , subnet]) => ({name: name!, subnet: subnet ?? ''}))
}

function ipv4(text: string): number | undefined {
  const parts = text.split('.').map(Number)
  if (parts.length !== 4 || parts.some((part) => !Number.isInteger(part) || part < 0 || part > 255)) return undefined
  return parts.reduce((sum, part) => sum * 256 + part, 0)
}

/** The network whose subnet holds this address (`192.168.65.2/24`), which is how Apple's output ties them. */
function networkOfAddress(address: string | undefined, rows: readonly TableRow[]): string | undefined {
  const ip = address ? ipv4(address.split('/')[0]!) : undefined
  if (ip === undefined) return undefined
  return rows.find(({subnet}) => {
    const [base, bits] = subnet.split('/')
    const start = base ? ipv4(base) : undefined
    const size = 2 ** (32 - Number(bits))
    return start !== undefined && Number.isInteger(size) && ip >= start && ip < start + size
  })?.name
}

/** `container` on PATH means this host may run Apple containers (§7: moat finds it with exec.LookPath). */
export function appleCliPresent(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      return lstatSync(join(dir, 'container')).isFile()
    } catch {
      return false
    }
  })
}

/** Services that could not be asked about any ID are unreachable, as for any other call: nothing was done. */
function unlessNothingAsked(ids: readonly string[], outcome: BatchOutcome): BatchOutcome {
  const failure = nothingAsked(ids, outcome)
  if (failure) throw new RuntimeUnreachableError('apple', failure.message)
  return outcome
}
