// What cleanup targets need from a container runtime, whatever its CLI: list, inspect and remove many objects at
// once, stop containers, and per-ID outcomes that tell "already gone" from "in use" from other failures. An engine
// that cannot be asked at all throws RuntimeUnreachableError instead (errors.ts).

export type RuntimeName = 'apple' | 'docker'

export type ObjectKind = 'container' | 'network' | 'volume'

export interface EngineObject {
  /** Creation time on the engine's clock (ms since epoch); undefined when the runtime does not say. */
  createdMs: number | undefined
  /** Full ID (Docker: 64 hex; Apple: the name, which is its ID). */
  id: string
  /** Empty on Apple, which has no labels (moat-resources.md §7). */
  labels: Record<string, string>
  name: string
}

export interface Mount {
  destination: string
  /** The volume's name, for a volume mount. */
  name?: string
  source: string
  /** bind, volume, tmpfs ... */
  type: string
}

export interface ContainerInfo extends EngineObject {
  /** When it last exited; undefined if it never ran or the runtime does not say. */
  finishedMs: number | undefined
  image: string
  mounts: Mount[]
  /** Networks it is configured on, by name and, when the engine knows it, by ID (a stopped one may lack it). */
  networks: Array<{id?: string; name: string}>
  /** Not stopped: running, paused or restarting. */
  running: boolean
  /** The engine's word: created, running, paused, restarting, removing, exited, dead, stopped ... */
  state: string
}

/** A container's live attachment to a network. */
export interface Endpoint {
  /** Container ID, or the engine's endpoint key when the container no longer exists. */
  container: string
  /** Container name as the network records it. */
  name: string
}

export interface NetworkInfo extends EngineObject {
  /** Containers attached right now (Docker `.Containers`; Apple: running containers with an address in its subnet). */
  endpoints: Endpoint[]
}

export interface VolumeInfo extends EngineObject {
  /** The volume driver (`local` for moat's workspace volumes). */
  driver?: string
  /** Where the engine keeps the volume's files, when it says (a path on the engine's own host). */
  mountpoint?: string
  /** The driver's options: a `local` volume with any (`type=nfs`, `device=...`) has its files there only while mounted. */
  options?: Record<string, string>
}

export interface ObjectInfo {
  container: ContainerInfo
  network: NetworkInfo
  volume: VolumeInfo
}

/** Why one ID of a batch was not done: `gone` is fine (already removed), `in-use` means the engine refused. */
export interface Failure {
  /** Never sent: the pass was stopped (a signal, an audit record that could not be written) before its turn. */
  interrupted?: boolean
  kind: 'error' | 'gone' | 'in-use'
  /** The engine could not be asked (it died, hung or refused the connection): nothing about this ID is confirmed. */
  lost?: boolean
  message: string
  /**
   * Sent, but the answer says nothing reliable: it never came (the connection dropped, a timeout), was cut off over
   * the size cap, or was a 5xx. The engine may have done it: ask it again before deciding.
   */
  unconfirmed?: boolean
}

/** Per-ID outcome of a batched call: every ID not in `failures` was done. */
export interface BatchOutcome {
  failures: Map<string, Failure>
}

/**
 * What a caller of remove() or stop() follows per ID: the write-ahead record before requests are sent, each ID's
 * outcome as soon as its answer arrives (not after the whole batch), and a signal after which nothing new is sent.
 */
export interface BatchWatch {
  /**
   * Called synchronously right before these IDs' requests are sent (several at once: those sent together). False
   * (their record could not be written) sends none of them nor any later ID: all are `interrupted`.
   */
  beforeSend?(ids: readonly string[]): boolean
  /** One ID's outcome, as soon as it is known; undefined: done. Each ID exactly once, before remove() returns. */
  onReply?(id: string, failure: Failure | undefined): void
  /** Once aborted, no new request is started; those in flight finish. The rest are `interrupted`. */
  signal?: AbortSignal
}

/** Which engine an object lives on, as an intent records it: its address and, where the engine says, its own ID. */
export interface EngineRef {
  address: string
  id?: string
}

export interface ListFilter {
  /** `key=value`. Applied by engines with labels; Apple has none and lists everything (callers judge by name). */
  label?: string
}

/** One of the engine's default address pools: `base` split into subnets of prefix length `size` (Docker `/info`). */
export interface AddressPool {
  base: string
  size: number
}

/** A network and the subnets its IPAM gave it (IPv4 and IPv6, as the engine lists them). */
export interface NetworkSubnets {
  id: string
  name: string
  /** `local` for bridge networks; `swarm`/`global` ones take their subnets from other pools. */
  scope: string
  subnets: string[]
}

/** What a status needs to tell address-pool pressure: the pools the engine allocates from and the networks that hold subnets. */
export interface AddressSpace {
  /** The endpoint asked, when the adapter knows it (to tell several Docker engines apart). */
  engine?: string
  networks: NetworkSubnets[]
  /** The daemon's `default-address-pools`; empty when it allocates from its built-in ones. */
  pools: AddressPool[]
}

/**
 * Who a Docker engine is, as its `GET /info` says, read by ping(): two addresses are one engine when they give the
 * same identity (engines.ts). Podman's Docker-compatible `/info` makes up a new ID for every request, so for podman
 * the ID identifies nothing.
 */
export interface EngineIdentity {
  /** `ID` of /info. */
  id?: string
  /** `podman` when the engine is podman (it names its API version in a `Libpod-Api-Version` header on every reply). */
  kind: 'docker' | 'podman'
  /** `Name` (the engine host's name) and `DockerRootDir` of /info. */
  name?: string
  rootDir?: string
}

export interface Runtime {
  /** The engine's address pools and every network's subnets (two calls); undefined for a runtime without pools (Apple). */
  addressSpace(): Promise<AddressSpace | undefined>
  /** Detach these containers from a network (one CLI call per container where the CLI takes only one). */
  disconnect(network: string, endpoints: readonly Endpoint[]): Promise<BatchOutcome>
  /** The engine this adapter talks to (its address, and its ID once ping() has read it). */
  engine(): EngineRef
  /** Who the engine is, once ping() has read it (Docker engines only). */
  readonly identity?: EngineIdentity
  /** Full facts for these IDs in one call; an ID missing from the result no longer exists. */
  inspect<K extends ObjectKind>(kind: K, ids: readonly string[]): Promise<Map<string, ObjectInfo[K]>>
  list<K extends ObjectKind>(kind: K, filter?: ListFilter): Promise<Array<ObjectInfo[K]>>
  readonly name: RuntimeName
  /** The engine's clock now (ms since epoch), from the offset measured by ping(). */
  now(): number
  /** Proves the engine answers and reads its clock; throws RuntimeUnreachableError (RuntimeAbsentError: no CLI). */
  ping(): Promise<void>
  /** Removes these objects without force: the engine itself refuses running containers and networks in use. */
  remove(kind: ObjectKind, ids: readonly string[], watch?: BatchWatch): Promise<BatchOutcome>
  stop(ids: readonly string[], options?: StopOptions, watch?: BatchWatch): Promise<BatchOutcome>
}

export interface StopOptions {
  /** Seconds the engine waits after SIGTERM before it kills; the engine's default when absent (Apple: always). */
  timeoutSeconds?: number
}

/** A host path mounted into a running container, as the runtime records it (not resolved: see host/mounts.ts). */
export interface HostMount {
  container: string
  runtime: RuntimeName
  source: string
}

/**
 * What the temp-dir target asks of a runtime: whether this host points at it at all, and the host paths its
 * running containers mount. One fixed number of CLI calls, whatever the number of containers or paths.
 */
export interface MountProbe {
  /** Host paths mounted into running containers; throws when the runtime cannot be asked. */
  mountsOfRunningContainers(): Promise<HostMount[]>
  readonly name: RuntimeName
  /** True when the runtime is configured or installed here (checked without spawning anything). */
  present(): boolean
}
