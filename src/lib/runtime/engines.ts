// The Docker engines a pass consults, and the one place that finds, probes, counts and describes them
// (moat-resources.md §12.1). moat never reads docker contexts: it uses DOCKER_HOST, else the default socket, else
// (macOS) Rancher Desktop's, then the podman sockets; a rootless Docker sits at $XDG_RUNTIME_DIR/docker.sock; and a
// run records the engine it used (`docker_host`). The docker CLI, which users and the daemon's liveness checker
// run, follows contexts instead. The set asked is the union of all of them, so that an engine any of them can have
// used is never missed, and each engine is counted once: two addresses are one engine when they are one socket
// file, or when the engine gives the same identity at both (`GET /info`: Docker Desktop answers at
// /var/run/docker.sock and at ~/.docker/run/docker.sock).
import {readdirSync, statSync} from 'node:fs'
import {homedir, tmpdir} from 'node:os'
import {join, normalize} from 'node:path'

import type {MountProbe, Runtime} from './types.js'

import {runEngineHosts} from '../moat/engines.js'
import {DockerApi} from './docker-api.js'
import {DEFAULT_DOCKER_HOST, type DockerEndpoint, DockerEndpointError, parseDockerHost, resolveDockerEndpoint} from './docker-endpoint.js'
import {DockerCli} from './docker.js'
import {RuntimeAbsentError, RuntimeUnreachableError} from './errors.js'

/** One address of an engine and where it came from (`DOCKER_HOST`, `the default socket`, `docker_host of run ...`). */
export interface EngineAddress {
  address: string
  source: string
}

/** What `status` and --verbose say of one engine. */
export interface EngineReport {
  addresses: EngineAddress[]
  answered: boolean
  /** Why it did not answer. */
  error?: string
  /** Its own ID (GET /info), when it answered; podman's changes with every request, so none is given for it. */
  id?: string
  /** From its replies (podman names itself in a header); `unknown` when it did not answer. */
  kind: 'docker' | 'podman' | 'unknown'
}

/** An address where an engine may be. */
interface Candidate extends EngineAddress {
  /** The docker CLI reaches it by this context (its endpoint needs the CLI, or MOAT_DOCKER_CLIENT=cli). */
  context?: string
  endpoint?: DockerEndpoint
  /** The docker configuration names an engine that cannot be worked out (an unknown context). */
  error?: string
}

interface EngineRecord {
  /** Nothing there at all (no socket where nothing points, no docker CLI): not an engine, and not one that is down. */
  absent?: boolean
  addresses: EngineAddress[]
  answered?: boolean
  error?: string
  /** Another adapter reaches the same engine: its addresses are counted there. */
  sameAs?: Runtime
}

/** What this process knows of each Docker adapter made here: its addresses and how its ping went. */
const records = new WeakMap<MountProbe | Runtime, EngineRecord>()
/** Adapters that already answered a ping in this process (their clock offset is measured). */
const answered = new WeakSet<Runtime>()

/** True once this runtime answered a ping in this process: it may be asked without a wait. */
export function hasAnswered(runtime: Runtime): boolean {
  return answered.has(runtime)
}

export interface FindOptions {
  env?: NodeJS.ProcessEnv
  /** Also the engines the run dirs of this moat home name. */
  moatHome?: string
  platform?: NodeJS.Platform
  uid?: number
}

/**
 * One adapter per distinct engine address that is there (an address named on purpose counts even when nothing
 * answers at it; a socket path found by looking counts only when the socket file exists), in moat's order, then the
 * docker CLI's choice, then the run dirs'. Addresses that are one socket file share an adapter. When none is there,
 * one adapter for the default socket, which says so when pinged (RuntimeAbsentError). Nothing is asked yet.
 */
export function dockerEngines(options: FindOptions = {}): Array<DockerApi | DockerCli> {
  const env = options.env ?? process.env
  const groups = new Map<string, Candidate[]>()
  for (const candidate of candidates({...options, env})) {
    const key = identityKey(candidate)
    if (key) groups.set(key, [...(groups.get(key) ?? []), candidate])
  }

  const engines = [...groups.values()].map((group) => {
    const [first] = group
    const engine = adapterFor(first!, env)
    records.set(engine, {addresses: mergeSources(group)})
    return engine
  })
  if (engines.length > 0) return engines
  // Nothing anywhere: the docker CLI's default, which a ping reports as no engine at all.
  const nowhere = new DockerApi(parseDockerHost(DEFAULT_DOCKER_HOST, {configured: false, source: 'default'}))
  records.set(nowhere, {addresses: [{address: DEFAULT_DOCKER_HOST, source: 'the default socket'}]})
  return [nowhere]
}

/** `unix:///var/run/docker.sock (the default socket), tcp://… (docker_host of run run_…)`, for messages. */
export function describeAddresses(runtime: MountProbe | Runtime): string {
  const addresses = records.get(runtime)?.addresses
  return addresses ? addresses.map((entry) => `${entry.address} (${entry.source})`).join(', ') : runtime.name
}

/** The addresses of a Docker adapter made here and where each came from (none for one made elsewhere). */
export function addressesOf(runtime: MountProbe | Runtime): EngineAddress[] {
  return records.get(runtime)?.addresses ?? []
}

/** True for an adapter that reached an engine another adapter reaches too: that one stands for it. */
export function countedElsewhere(runtime: Runtime): boolean {
  return records.get(runtime)?.sameAs !== undefined
}

/** The first address of a Docker adapter made here (how items and metrics name the engine), if it is one. */
export function engineAddress(runtime: Runtime): string | undefined {
  return records.get(runtime)?.addresses[0]?.address
}

/** The result of pinging a runtime: it answered, or the error that says why not. */
export interface Probed {
  error?: RuntimeUnreachableError
  runtime: Runtime
}

/**
 * Pings each runtime once per process, side by side, and counts each Docker engine once: of the adapters that reach
 * one engine (the same identity in GET /info), the first stays and the others are left out of the result, their
 * addresses listed with it. An error other than RuntimeUnreachableError (a bug) is thrown.
 */
export async function probeRuntimes(runtimes: readonly Runtime[]): Promise<Probed[]> {
  const probed = await Promise.all(
    runtimes.map(async (runtime): Promise<Probed> => {
      try {
        if (!answered.has(runtime)) await runtime.ping()
        answered.add(runtime)
        note(runtime, {answered: true})
        return {runtime}
      } catch (error) {
        if (!(error instanceof RuntimeUnreachableError)) throw error
        note(runtime, {absent: error instanceof RuntimeAbsentError, answered: false, error: error.message})
        return {error, runtime}
      }
    }),
  )
  const first = new Map<string, Runtime>()
  return probed.filter(({error, runtime}) => {
    const key = error ? undefined : sameEngineKey(runtime)
    if (!key) return true
    const kept = first.get(key)
    if (!kept) {
      first.set(key, runtime)
      return true
    }

    countAsOne(kept, runtime)
    return false
  })
}

/**
 * The engines among these runtimes that were asked (each once, none that is not there at all) as `status` and
 * --verbose describe them, in the order given.
 */
export function describeEngines(runtimes: readonly Runtime[]): EngineReport[] {
  return runtimes.flatMap((runtime) => {
    const record = records.get(runtime)
    if (!record || record.sameAs || record.absent || record.answered === undefined) return []
    const identity = record.answered ? runtime.identity : undefined
    return [
      {
        addresses: record.addresses,
        answered: record.answered === true,
        ...(record.answered === false ? {error: record.error} : {}),
        // Podman makes up a new ID for every /info: it identifies nothing.
        ...(identity?.id && identity.kind === 'docker' ? {id: identity.id} : {}),
        kind: identity?.kind ?? 'unknown',
      },
    ]
  })
}

/** Why a runtime that did not answer is skipped, naming where its address came from. */
export function silentMessage(probed: Required<Probed>): string {
  const where = records.get(probed.runtime) ? ` [${describeAddresses(probed.runtime)}]` : ''
  return `${probed.error.message}${where}`
}

function note(runtime: Runtime, outcome: Pick<EngineRecord, 'absent' | 'answered' | 'error'>): void {
  const record = records.get(runtime)
  if (record) Object.assign(record, outcome)
}

/** Two answering adapters with this key reach one engine; undefined when the engine cannot say who it is. */
function sameEngineKey(runtime: Runtime): string | undefined {
  const {identity} = runtime
  // Podman's /info ID is random per request (pkg/api/handlers/compat/info.go): one socket file is its only proof.
  if (!identity?.id || identity.kind !== 'docker') return undefined
  // The ID alone could be shared by engines cloned from one disk image; the host name and data root tell those apart.
  return [identity.id, identity.name ?? '', identity.rootDir ?? ''].join('\0')
}

function countAsOne(kept: Runtime, duplicate: Runtime): void {
  const keptRecord = records.get(kept)
  const duplicateRecord = records.get(duplicate)
  if (!keptRecord || !duplicateRecord) return
  keptRecord.addresses = mergeSources([...keptRecord.addresses, ...duplicateRecord.addresses])
  duplicateRecord.sameAs = kept
}

/** The same address from several sources is one entry with every source, in order. */
function mergeSources(addresses: readonly EngineAddress[]): EngineAddress[] {
  const merged = new Map<string, string[]>()
  for (const {address, source} of addresses) {
    const sources = merged.get(address) ?? []
    if (!sources.includes(source)) sources.push(source)
    merged.set(address, sources)
  }

  return [...merged].map(([address, sources]) => ({address, source: sources.join('; ')}))
}

/** Every address where an engine may be, in order; the ones found by looking only when their socket is there. */
function candidates(options: FindOptions & {env: NodeJS.ProcessEnv}): Candidate[] {
  const {env} = options
  let cliChoice: DockerEndpoint | undefined
  let cliError: string | undefined
  try {
    cliChoice = resolveDockerEndpoint(env)
  } catch (error) {
    if (!(error instanceof DockerEndpointError)) throw error
    cliError = error.message
  }

  // §12.1, moat's own order: DOCKER_HOST, then the sockets moat probes.
  const found: Candidate[] = []
  if (env.DOCKER_HOST) found.push({address: env.DOCKER_HOST, endpoint: cliChoice, error: cliError, source: 'DOCKER_HOST'})
  // Tests, and hosts where a well-known socket is not an engine moat may have used, can turn the looking off.
  if (env.MOAT_SYSTEM_ENGINE_DISCOVERY !== 'off') {
    for (const [path, source] of wellKnownSockets(env, options.platform ?? process.platform, options.uid ?? process.getuid?.())) {
      if (!isSocket(path)) continue
      const address = `unix://${path}`
      found.push({address, endpoint: parseDockerHost(address, {configured: true, source}), source})
    }
  }

  // DOCKER_HOST is the docker CLI's choice too; without it, a context or its default socket.
  if (!env.DOCKER_HOST) found.push(...cliCandidate(env, cliChoice, cliError))
  if (options.moatHome) found.push(...runDirCandidates(options.moatHome, env))
  return found
}

/**
 * The sockets moat probes (§12.1: the Go client's default; Rancher Desktop on macOS; podman's, in its order) and a
 * rootless Docker's, as [path, source].
 */
function wellKnownSockets(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, uid: number | undefined): Array<[string, string]> {
  const sockets: Array<[string, string]> = [[DEFAULT_DOCKER_HOST.slice('unix://'.length), 'the default socket']]
  const home = env.HOME || homedir()
  // Where a cron job's environment lacks XDG_RUNTIME_DIR, it is /run/user/<uid>, as moat assumes for podman.
  const runtimeDir = env.XDG_RUNTIME_DIR || (uid === undefined ? undefined : `/run/user/${uid}`)
  if (platform === 'darwin') {
    if (home) sockets.push([join(home, '.rd', 'docker.sock'), 'Rancher Desktop'])
    const podmanDir = join(env.TMPDIR || tmpdir(), 'podman')
    for (const name of listDir(podmanDir).filter((entry) => entry.endsWith('-api.sock')).sort()) sockets.push([join(podmanDir, name), 'podman machine'])
  } else {
    if (runtimeDir) sockets.push([join(runtimeDir, 'podman', 'podman.sock'), 'rootless podman'])
    sockets.push(['/run/podman/podman.sock', 'podman'])
  }

  if (runtimeDir) sockets.push([join(runtimeDir, 'docker.sock'), 'rootless Docker'])
  return sockets
}

/** The docker CLI's own choice without DOCKER_HOST: a context (whatever it names), or its default socket if there. */
function cliCandidate(env: NodeJS.ProcessEnv, choice: DockerEndpoint | undefined, error: string | undefined): Candidate[] {
  if (error) {
    const context = env.DOCKER_CONTEXT ? `docker context "${env.DOCKER_CONTEXT}"` : 'the current docker context'
    return [{address: context, error, source: 'the docker CLI'}]
  }

  if (!choice) return []
  // resolveDockerEndpoint names a context's source `context "<name>"`.
  const context = choice.source.startsWith('context "') ? choice.source.slice('context "'.length, -1) : undefined
  const source = context ? `docker context "${context}"` : "the docker CLI's default"
  // The default socket counts only where it is; one a context or DOCKER_CONTEXT=default names counts anyway.
  if (choice.kind === 'unix' && !choice.configured && !isSocket(choice.socketPath)) return []
  return [{address: choice.host, context, endpoint: choice, source}]
}

/** §11, §12.1: each engine a run dir names, once, with the runs that name it; a unix socket only while it is there. */
function runDirCandidates(moatHome: string, env: NodeJS.ProcessEnv): Candidate[] {
  const found: Candidate[] = []
  for (const [host, runIds] of runEngineHosts(moatHome)) {
    const more = runIds.length > 3 ? ` and ${runIds.length - 3} more` : ''
    const source = `docker_host of ${runIds.length === 1 ? 'run' : 'runs'} ${runIds.slice(0, 3).join(', ')}${more}`
    let endpoint: DockerEndpoint
    try {
      endpoint = resolveDockerEndpoint({...env, DOCKER_CONTEXT: undefined, DOCKER_HOST: host})
    } catch {
      continue
    }

    // A socket that is gone is no engine: nothing runs there now (a stopped podman machine, an uninstalled Docker).
    if (endpoint.kind === 'unix' && !isSocket(endpoint.socketPath)) continue
    found.push({address: host, endpoint, source})
  }

  return found
}

/** What makes two candidates one address: the socket file itself (a symlink, `//` in the path), or the host and port. */
function identityKey(candidate: Candidate): string | undefined {
  const {endpoint} = candidate
  if (candidate.error || !endpoint) return `error:${candidate.address}`
  if (endpoint.kind === 'unix') {
    try {
      const stat = statSync(endpoint.socketPath)
      return `socket:${stat.dev}:${stat.ino}`
    } catch {
      return `path:${normalize(endpoint.socketPath)}`
    }
  }

  if (endpoint.kind === 'tcp') return `tcp:${endpoint.hostname}:${endpoint.port}:${endpoint.tls ? 'tls' : ''}`
  return candidate.context ? `context:${candidate.context}` : `other:${endpoint.host}`
}

/**
 * The Engine API where this process can reach the engine itself, else the docker CLI pointed at it (an `ssh://` host,
 * a path prefix; or everything with MOAT_DOCKER_CLIENT=cli, the way back where the API path misbehaves).
 */
function adapterFor(candidate: Candidate, env: NodeJS.ProcessEnv): DockerApi | DockerCli {
  const {endpoint} = candidate
  const cliOnly = env.MOAT_DOCKER_CLIENT === 'cli'
  // A configuration that names no engine that can be worked out: the adapter says so at ping (the API's without a process).
  if (!endpoint) return cliOnly ? new DockerCli() : new DockerApi()
  const viaCli = cliOnly || endpoint.kind === 'other'
  if (!viaCli) return new DockerApi(endpoint)
  if (candidate.context) return new DockerCli({env: {DOCKER_CONTEXT: candidate.context, DOCKER_HOST: undefined}})
  return new DockerCli({env: {DOCKER_CONTEXT: undefined, DOCKER_HOST: candidate.address}})
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket()
  } catch {
    return false
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}
