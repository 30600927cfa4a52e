// The Docker Engine API over the engine's own socket (unix, or tcp with TLS): the same Runtime as DockerCli, with
// the same semantics, but a request costs about a millisecond where a docker CLI process costs 30-70 ms
// (DESIGN.md "Runtimes"). node:http only: no dependency, nothing loaded that a command does not use, and execa is
// never imported here. What it cannot reach (ssh://, a path prefix, npipe) goes to DockerCli (select.ts).
import type {ClientRequest, Agent as HttpAgent, IncomingMessage, RequestOptions} from 'node:http'

import {existsSync, readFileSync} from 'node:fs'
import {Agent, request} from 'node:http'

import type {
  AddressSpace,
  BatchOutcome,
  BatchWatch,
  Endpoint,
  EngineIdentity,
  EngineRef,
  Failure,
  HostMount,
  ListFilter,
  MountProbe,
  ObjectInfo,
  ObjectKind,
  Runtime,
  StopOptions,
} from './types.js'

import {failureOf, NOT_SENT, parseTimestamp} from './batch.js'
import {type DockerEndpoint, DockerEndpointError, resolveDockerEndpoint} from './docker-endpoint.js'
import {DockerCli, identityOf, type RawAddressPools, type RawContainer, toAddressSpace, toInfo} from './docker.js'
import {RuntimeAbsentError, RuntimeUnreachableError} from './errors.js'

/** The newest API version this adapter is written against; an older engine gets its own (negotiated in ping). */
export const API_VERSION = '1.41'
const REQUEST_TIMEOUT_MS = 20_000
/** An engine that takes longer than this to say its time is treated as not answering (as DockerCli.ping). */
const PING_TIMEOUT_MS = 10_000
/** Requests in flight for inspects and removals: enough to keep the engine busy, few enough not to queue on its locks. */
const IN_FLIGHT = 8
/** `docker stop` stops 50 containers at a time, each taking up to the grace period. */
const STOP_IN_FLIGHT = 50
const DOCKER_STOP_GRACE_S = 10
/**
 * A kept-alive connection idle this long is closed: `reap` makes a new adapter every pass, and the engine never
 * closes idle connections itself. Node closes only idle ones on this timeout; a request in flight is not affected.
 */
const IDLE_SOCKET_MS = 5000
/** TCP keep-alive probes on a stream's connection after this long idle: the kernel notices a peer that vanished. */
const STREAM_KEEPALIVE_MS = 60_000

/**
 * Reply size caps by kind (issue 21): a list of thousands of objects fits in a few MB (a container in a list is
 * about 2 KB, an inspect about 10 KB); what answers a removal or a stop is an empty body or one short error. More
 * than that is no engine's reply: the request is destroyed and it counts as an engine error, never a crash.
 */
const LIST_REPLY_BYTES = 64 * 1024 * 1024
const OBJECT_REPLY_BYTES = 8 * 1024 * 1024
const ACTION_REPLY_BYTES = 16 * 1024

/** The engine gave no HTTP answer at all: refused, no socket, reset, timed out. */
class NoAnswer extends Error {
  constructor(
    message: string,
    readonly absent = false,
  ) {
    super(message)
  }
}

/** The engine answered with more than the request's cap: cut off, and nothing in it is believed. */
class OverCap extends Error {}

interface Reply {
  body: string
  headers: IncomingMessage['headers']
  status: number
}

export interface Timeouts {
  /** ping() and the version check (default 10 s). */
  pingMs?: number
  /** Every other request (default 20 s; a stop adds the grace period). */
  requestMs?: number
}

interface Connection {
  agent: HttpAgent
  endpoint: DockerEndpoint
  options: RequestOptions
  request: typeof request
  /** The API version path prefix, e.g. `/v1.41`, once known. */
  version?: string
}

/**
 * Docker through its Engine API. Without an endpoint it resolves one from the environment at each call (as the CLI
 * does at each process), so a changed DOCKER_HOST is honoured; select.ts passes the one it resolved.
 */
export class DockerApi implements MountProbe, Runtime {
  /** Who the engine is, read by ping(). */
  identity?: EngineIdentity
  readonly name = 'docker'
  /** Engine clock minus ours, measured by ping(). */
  private clockOffsetMs = 0
  private connection?: Connection

  constructor(
    private readonly fixed?: DockerEndpoint,
    private readonly timeouts: Timeouts = {},
  ) {}

  /** The pools and every network's subnets: two requests (the network list carries each network's IPAM). */
  async addressSpace(): Promise<AddressSpace> {
    const prefix = await this.prefix()
    const [info, networks] = await Promise.all([
      this.call('GET', `${prefix}/info`),
      this.call('GET', `${prefix}/networks`, {maxBytes: LIST_REPLY_BYTES}),
    ])
    if (!ok(info)) throw new Error(`docker info failed: ${daemonSays(info)}`)
    if (!ok(networks)) throw new Error(`docker network ls failed: ${daemonSays(networks)}`)
    const pools = (JSON.parse(info.body) as {DefaultAddressPools?: RawAddressPools}).DefaultAddressPools
    return toAddressSpace(pools, JSON.parse(networks.body) as unknown[], this.connect().endpoint.host)
  }

  async disconnect(network: string, endpoints: readonly Endpoint[]): Promise<BatchOutcome> {
    const prefix = await this.prefix()
    const path = `${prefix}/networks/${encodeURIComponent(network)}/disconnect`
    // One at a time, as DockerCli: only the stale endpoints of one dead run's stopped containers come here.
    // Force: an endpoint whose container is gone can only be dropped that way, and only by its name.
    return this.perId(endpoints.map((endpoint) => endpoint.container), 1, async (container) => {
      const endpoint = endpoints.find((candidate) => candidate.container === container)!
      let reply = await this.send('POST', path, {body: {Container: container, Force: true}, maxBytes: ACTION_REPLY_BYTES})
      if (reply.status === 404 && endpoint.name && /no such container|not found/i.test(messageOf(reply))) {
        reply = await this.send('POST', path, {body: {Container: endpoint.name, Force: true}, maxBytes: ACTION_REPLY_BYTES})
      }

      return reply
    })
  }

  engine(): EngineRef {
    // Podman's ID is new with every request (engines.ts): it names nothing, so none is given.
    const id = this.identity?.kind === 'docker' ? this.identity.id : undefined
    return {address: this.connection?.endpoint.host ?? this.fixed?.host ?? 'docker', id}
  }

  async inspect<K extends ObjectKind>(kind: K, ids: readonly string[]): Promise<Map<string, ObjectInfo[K]>> {
    const prefix = await this.prefix()
    const found = new Map<string, ObjectInfo[K]>()
    const base = {container: '/containers', network: '/networks', volume: '/volumes'}[kind]
    const suffix = kind === 'container' ? '/json' : ''
    await pool(ids, IN_FLIGHT, async (id) => {
      // An ID or a name, as `docker inspect` takes either.
      const reply = await this.call('GET', `${prefix}${base}/${encodeURIComponent(id)}${suffix}`)
      // One that no longer exists is simply absent, as with `docker inspect`; anything else is a real failure.
      if (reply.status === 404) return
      if (!ok(reply)) throw new Error(`docker ${kind} inspect failed: ${daemonSays(reply)}`)
      found.set(id, toInfo(kind, JSON.parse(reply.body)) as ObjectInfo[K])
    })
    // Keyed by full ID, in the order asked, as the CLI prints them.
    return new Map(ids.filter((id) => found.has(id)).map((id) => [found.get(id)!.id, found.get(id)!]))
  }

  async list<K extends ObjectKind>(kind: K, filter: ListFilter = {}): Promise<Array<ObjectInfo[K]>> {
    const prefix = await this.prefix()
    const filters = filter.label ? `filters=${encodeURIComponent(JSON.stringify({label: [filter.label]}))}` : ''
    const path = {container: '/containers/json?all=1', network: '/networks?', volume: '/volumes?'}[kind]
    const reply = await this.call('GET', `${prefix}${path}${filters && (kind === 'container' ? '&' : '')}${filters}`, {maxBytes: LIST_REPLY_BYTES})
    if (!ok(reply)) throw new Error(`docker ${kind} ls failed: ${daemonSays(reply)}`)
    const raw = JSON.parse(reply.body)
    // The lists lack what inspect gives (FinishedAt, mounts, a network's endpoints): inspect them, as DockerCli does.
    const ids: string[] =
      kind === 'volume'
        ? ((raw as {Volumes?: Array<{Name: string}> | null}).Volumes ?? []).map((volume) => volume.Name)
        : (raw as Array<{Id: string}>).map((object) => object.Id)
    if (ids.length === 0) return []
    return [...(await this.inspect(kind, ids)).values()]
  }

  /** Host paths bind-mounted into running containers: one request (the list carries each container's mounts). */
  async mountsOfRunningContainers(): Promise<HostMount[]> {
    const prefix = await this.prefix()
    const reply = await this.call('GET', `${prefix}/containers/json`, {maxBytes: LIST_REPLY_BYTES})
    if (!ok(reply)) throw new Error(`docker ps failed: ${daemonSays(reply)}`)
    const containers = JSON.parse(reply.body) as Array<Pick<RawContainer, 'Mounts'> & {Names?: string[]}>
    return containers.flatMap((container) =>
      (container.Mounts ?? [])
        .filter((mount) => mount.Type === 'bind' && mount.Source)
        .map((mount) => ({container: (container.Names?.[0] ?? '').replace(/^\//, ''), runtime: 'docker' as const, source: mount.Source!})),
    )
  }

  now(): number {
    return Date.now() + this.clockOffsetMs
  }

  /**
   * One request whose reply is read as a stream (a volume's tar, the event log): its status, headers and body, once
   * the headers are there. `path` is below the API version prefix. The caller reads or destroys the body.
   */
  async open(method: string, path: string, options: {body?: Buffer; contentType?: string; timeoutMs?: number} = {}): Promise<IncomingMessage> {
    const prefix = await this.prefix()
    const connection = this.connect()
    const timeoutMs = options.timeoutMs ?? this.timeouts.requestMs ?? REQUEST_TIMEOUT_MS
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        req.destroy(new NoAnswer(`Docker engine did not answer: ${method} ${path.replace(/\?.*/, '')} timed out after ${timeoutMs / 1000}s`))
      }, timeoutMs)
      const req: ClientRequest = connection.request(
        {
          ...connection.options,
          agent: connection.agent,
          headers: options.body === undefined ? {} : {'content-length': options.body.length, 'content-type': options.contentType ?? 'application/json'},
          method,
          path: `${prefix}${path}`,
        },
        (res) => {
          clearTimeout(timer)
          resolve(res)
        },
      )
      req.on('error', (error) => {
        clearTimeout(timer)
        const lost = error instanceof NoAnswer ? error : noAnswer(error as NodeJS.ErrnoException, connection.endpoint)
        reject(new RuntimeUnreachableError('docker', unreachable(lost)))
      })
      req.end(options.body)
    })
  }

  async ping(): Promise<void> {
    // Unversioned, so that any engine answers; every reply names the engine's API version in its headers.
    const connection = this.connect()
    const sentAt = Date.now()
    const reply = await this.call('GET', '/info', {timeoutMs: this.timeouts.pingMs ?? PING_TIMEOUT_MS})
    if (!ok(reply)) throw new RuntimeUnreachableError('docker', `Docker engine unreachable: ${daemonSays(reply)}`)
    connection.version = `/v${negotiate(reply.headers['api-version'])}`
    const info = JSON.parse(reply.body) as {DockerRootDir?: unknown; ID?: unknown; Name?: unknown; SystemTime?: unknown}
    // Podman names its API version in this header on every reply (pkg/api/server/handler_api.go); Docker never does.
    this.identity = identityOf(info, reply.headers['libpod-api-version'] === undefined ? 'docker' : 'podman')
    const engineMs = parseTimestamp(info.SystemTime)
    // An engine that answers without a time is still reachable; then our clock stands in for its clock.
    this.clockOffsetMs = engineMs === undefined ? 0 : engineMs - (sentAt + Date.now()) / 2
  }

  /** An engine is configured or its default socket exists: then its containers may mount host dirs (issue 9). */
  present(): boolean {
    // Configured (DOCKER_HOST, a context, a run's docker_host), or the default socket exists: as the CLI would find one.
    if (!this.fixed) return !DockerCli.obviouslyAbsent()
    return this.fixed.configured || (this.fixed.kind === 'unix' && existsSync(this.fixed.socketPath))
  }

  async remove(kind: ObjectKind, ids: readonly string[], watch?: BatchWatch): Promise<BatchOutcome> {
    const prefix = await this.prefix()
    // Never force: the engine refuses running containers, networks with endpoints and volumes in use.
    const base = {container: '/containers', network: '/networks', volume: '/volumes'}[kind]
    return this.perId(ids, IN_FLIGHT, (id) => this.send('DELETE', `${prefix}${base}/${encodeURIComponent(id)}`, {maxBytes: ACTION_REPLY_BYTES}), watch)
  }

  async stop(ids: readonly string[], options: StopOptions = {}, watch?: BatchWatch): Promise<BatchOutcome> {
    const prefix = await this.prefix()
    const query = options.timeoutSeconds === undefined ? '' : `?t=${options.timeoutSeconds}`
    const timeoutMs = (this.timeouts.requestMs ?? REQUEST_TIMEOUT_MS) + (options.timeoutSeconds ?? DOCKER_STOP_GRACE_S) * 1000
    const stopOne = async (id: string) => {
      const reply = await this.send('POST', `${prefix}/containers/${encodeURIComponent(id)}/stop${query}`, {maxBytes: ACTION_REPLY_BYTES, timeoutMs})
      // 304: already stopped, which `docker stop` counts as done.
      return reply.status === 304 ? {...reply, status: 204} : reply
    }

    return this.perId(ids, STOP_IN_FLIGHT, stopOne, watch)
  }

  /**
   * A long-lived GET whose body never ends by itself (the event stream, GET /events): its own connection, outside the
   * pool of requests and without the pool's idle timeout, with TCP keep-alive so that a peer that vanished is noticed
   * by the kernel, not by a timer here. `path` is below the API version prefix; the caller reads the body and calls
   * close() when done (also after the body ended).
   */
  async stream(path: string): Promise<{close(): void; response: IncomingMessage}> {
    const prefix = await this.prefix()
    const connection = connectionTo(this.connect().endpoint, {keepAlive: false})
    const timeoutMs = this.timeouts.requestMs ?? REQUEST_TIMEOUT_MS
    const close = () => connection.agent.destroy()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        req.destroy(new NoAnswer(`Docker engine did not answer: GET ${path.replace(/\?.*/, '')} timed out after ${timeoutMs / 1000}s`))
      }, timeoutMs)
      const req: ClientRequest = connection.request({...connection.options, agent: connection.agent, method: 'GET', path: `${prefix}${path}`}, (res) => {
        clearTimeout(timer)
        resolve({close, response: res})
      })
      req.on('socket', (socket) => socket.setKeepAlive(true, STREAM_KEEPALIVE_MS))
      req.on('error', (error) => {
        clearTimeout(timer)
        close()
        const lost = error instanceof NoAnswer ? error : noAnswer(error as NodeJS.ErrnoException, connection.endpoint)
        reject(new RuntimeUnreachableError('docker', unreachable(lost)))
      })
      req.end()
    })
  }

  /** One request; an engine that gives no HTTP answer is RuntimeUnreachableError (RuntimeAbsentError: none configured). */
  private async call(method: string, path: string, options: {maxBytes?: number; timeoutMs?: number} = {}): Promise<Reply> {
    try {
      return await this.send(method, path, options)
    } catch (error) {
      if (error instanceof OverCap) throw new Error(`docker ${method} ${path.replace(/\?.*/, '')} failed: ${error.message}`)
      if (!(error instanceof NoAnswer)) throw error
      if (error.absent) throw new RuntimeAbsentError('docker', error.message)
      throw new RuntimeUnreachableError('docker', unreachable(error))
    }
  }

  /** The engine to talk to now, with a keep-alive agent; a new one when the environment names another engine. */
  private connect(): Connection {
    let endpoint: DockerEndpoint
    try {
      endpoint = this.fixed ?? resolveDockerEndpoint()
    } catch (error) {
      if (error instanceof DockerEndpointError) throw new RuntimeUnreachableError('docker', `Docker engine unreachable: ${error.message}`)
      throw error
    }

    if (this.connection?.endpoint.host === endpoint.host && this.connection.endpoint.source === endpoint.source) return this.connection
    this.connection?.agent.destroy()
    this.connection = connectionTo(endpoint, {keepAlive: true, timeout: IDLE_SOCKET_MS})
    return this.connection
  }

  /**
   * Each ID's request, `limit` at a time, as one batch outcome. With a watch: before an ID is sent, the records of it
   * and of the next ones up to `limit` (those it goes out with) are written in one go; each ID's outcome is passed on
   * as its answer arrives; after the signal nothing new is sent.
   */
  private async perId(ids: readonly string[], limit: number, send: (id: string) => Promise<Reply>, watch?: BatchWatch): Promise<BatchOutcome> {
    const failures = new Map<string, Failure>()
    const settle = (id: string, failure: Failure | undefined) => {
      if (failure) failures.set(id, failure)
      watch?.onReply?.(id, failure)
    }

    let answered = 0
    let lost: NoAnswer | undefined
    let recordedUpTo = 0
    let refused = false
    await pool(ids.map((_, index) => index), limit, async (index) => {
      const id = ids[index]!
      if (lost) {
        // The same words as the CLI path (batch.ts notSent): never tried, so never removed.
        settle(id, {kind: 'error', lost: true, message: 'Docker engine unreachable, not tried: it stopped answering earlier in this batch'})
        return
      }

      if (refused || watch?.signal?.aborted) {
        settle(id, NOT_SENT)
        return
      }

      if (watch?.beforeSend && index >= recordedUpTo) {
        recordedUpTo = index + limit
        if (!watch.beforeSend(ids.slice(index, recordedUpTo))) {
          refused = true
          settle(id, NOT_SENT)
          return
        }
      }

      let reply: Reply
      try {
        reply = await send(id)
      } catch (error) {
        if (error instanceof OverCap) {
          answered++
          settle(id, {kind: 'error', message: `not confirmed: ${error.message}`, unconfirmed: true})
          return
        }

        if (!(error instanceof NoAnswer)) throw error
        // The engine stopped answering: start nothing more. What it confirmed stays confirmed.
        lost ??= error
        // Sent but never answered: the engine may or may not have done it (batch.ts outcomeOf's "not confirmed").
        const why = unreachable(error).replace(/^Docker engine unreachable: /, '')
        settle(id, {kind: 'error', lost: true, message: `Docker engine unreachable, not confirmed: ${why}`, unconfirmed: true})
        return
      }

      answered++
      settle(id, ok(reply) ? undefined : failureOfReply(reply))
    })
    // Not one answer: nothing was done, so this is an engine that cannot be asked, as with the CLI.
    if (lost && answered === 0) throw new RuntimeUnreachableError('docker', unreachable(lost))
    return {failures}
  }

  /** `/v1.41`: negotiated by ping(), or by a GET /_ping when a call comes first. */
  private async prefix(): Promise<string> {
    const connection = this.connect()
    if (connection.version) return connection.version
    const reply = await this.call('GET', '/_ping', {timeoutMs: this.timeouts.pingMs ?? PING_TIMEOUT_MS})
    if (!ok(reply)) throw new RuntimeUnreachableError('docker', `Docker engine unreachable: ${daemonSays(reply)}`)
    connection.version = `/v${negotiate(reply.headers['api-version'])}`
    return connection.version
  }

  /**
   * One HTTP request with a timeout and a cap on the reply's size (by default what one object's inspect needs);
   * rejects only with NoAnswer, OverCap (or a bug).
   */
  private send(method: string, path: string, options: {body?: unknown; maxBytes?: number; timeoutMs?: number} = {}): Promise<Reply> {
    const connection = this.connect()
    const {endpoint} = connection
    const timeoutMs = options.timeoutMs ?? this.timeouts.requestMs ?? REQUEST_TIMEOUT_MS
    const maxBytes = options.maxBytes ?? OBJECT_REPLY_BYTES
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        req.destroy(new NoAnswer(`Docker engine did not answer: ${method} ${path.replace(/\?.*/, '')} timed out after ${timeoutMs / 1000}s`))
      }, timeoutMs)
      const fail = (error: Error) => {
        clearTimeout(timer)
        reject(error instanceof NoAnswer || error instanceof OverCap ? error : noAnswer(error as NodeJS.ErrnoException, endpoint))
      }

      const req: ClientRequest = connection.request(
        {
          ...connection.options,
          agent: connection.agent,
          headers: payload === undefined ? {} : {'content-length': Buffer.byteLength(payload), 'content-type': 'application/json'},
          method,
          path,
        },
        (res) => {
          const chunks: Buffer[] = []
          let size = 0
          res.on('data', (chunk: Buffer) => {
            size += chunk.length
            if (size > maxBytes) {
              const what = `${method} ${path.replace(/\?.*/, '')}`
              req.destroy(new OverCap(`the engine's reply to ${what} (HTTP ${res.statusCode}) was over ${formatBytes(maxBytes)}; cut off`))
              return
            }

            chunks.push(chunk)
          })
          res.on('error', fail)
          res.on('end', () => {
            clearTimeout(timer)
            resolve({body: Buffer.concat(chunks).toString('utf8'), headers: res.headers, status: res.statusCode ?? 0})
          })
        },
      )
      req.on('error', fail)
      req.end(payload)
    })
  }
}

/**
 * A connection to an endpoint this process reaches itself (unix socket, tcp, tcp+TLS), with an agent of these
 * options: the pool of requests keeps sockets alive for a while, a stream gets one of its own.
 */
function connectionTo(endpoint: DockerEndpoint, agentOptions: {keepAlive: boolean; timeout?: number}): Connection {
  if (endpoint.kind === 'other') {
    throw new RuntimeUnreachableError('docker', `Docker engine unreachable: ${endpoint.host} (${endpoint.source}) is reached only through the docker CLI`)
  }

  if (endpoint.kind === 'unix') return {agent: new Agent(agentOptions), endpoint, options: {socketPath: endpoint.socketPath}, request}
  const options: RequestOptions = {host: endpoint.hostname, port: endpoint.port}
  if (!endpoint.tls) return {agent: new Agent(agentOptions), endpoint, options, request}
  // node:https only for a TLS engine (it loads tls and crypto), and synchronously, like the rest of connect().
  const https = process.getBuiltinModule('node:https')
  const {tls} = endpoint
  const agent = new https.Agent({...agentOptions, ca: read(tls.ca), cert: read(tls.cert), key: read(tls.key), rejectUnauthorized: tls.verify})
  return {agent, endpoint, options, request: https.request as typeof request}
}

/** Runs fn over items with at most `limit` at a time; the first rejection rejects, and nothing more starts. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  let failed = false
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!
      try {
        // eslint-disable-next-line no-await-in-loop
        await fn(item)
      } catch (error) {
        failed = true
        throw error
      }
    }
  }

  await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker))
}

function read(path: string | undefined): Buffer | undefined {
  return path === undefined ? undefined : readFileSync(path)
}

function ok(reply: Reply): boolean {
  return reply.status >= 200 && reply.status < 300
}

/** The daemon's `{"message": ...}`, or the status when it sent none. */
function messageOf(reply: Reply): string {
  try {
    const {message} = (JSON.parse(reply.body) as {message?: unknown})
    if (typeof message === 'string' && message) return message
  } catch {}

  return reply.body.trim() || `HTTP ${reply.status}`
}

/** As the CLI prints a daemon's refusal. */
function daemonSays(reply: Reply): string {
  return `Error response from daemon: ${messageOf(reply)}`
}

/**
 * 404 is gone whatever the words; otherwise the words decide, as they do for the CLI's output (batch.ts). A 5xx is
 * the engine failing while it acted: it may have done it all the same (issue 21), so it is not confirmed either way.
 */
function failureOfReply(reply: Reply): Failure {
  const failure = failureOf(daemonSays(reply))
  if (reply.status === 404) return {...failure, kind: 'gone'}
  const unconfirmed = reply.status >= 500 ? {unconfirmed: true} : {}
  return failure.kind === 'gone' ? {...failure, kind: 'error', ...unconfirmed} : {...failure, ...unconfirmed}
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${bytes / (1024 * 1024)} MiB` : `${bytes / 1024} KiB`
}

/** min(the engine's API version, ours). */
export function negotiate(engine?: string | string[]): string {
  const [text] = Array.isArray(engine) ? engine : [engine]
  if (!text || !/^\d+\.\d+$/.test(text)) return API_VERSION
  const [major, minor] = text.split('.').map(Number) as [number, number]
  const [ourMajor, ourMinor] = API_VERSION.split('.').map(Number) as [number, number]
  return major < ourMajor || (major === ourMajor && minor < ourMinor) ? text : API_VERSION
}

function unreachable(error: NoAnswer): string {
  return error.message.startsWith('Docker engine') ? error.message : `Docker engine unreachable: ${error.message}`
}

/** The CLI's words for an engine it cannot reach, so messages read the same whichever adapter ran. */
function noAnswer(error: NodeJS.ErrnoException, endpoint: DockerEndpoint): NoAnswer {
  const why = error.message
  if (error.code === 'EACCES') {
    return new NoAnswer(`permission denied while trying to connect to the Docker daemon socket at ${endpoint.host} (${why})`)
  }

  const connecting = ['EAI_AGAIN', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOENT', 'ENOTFOUND', 'ENOTSOCK'].includes(error.code ?? '')
  if (connecting) {
    // Nothing configured and no socket where the default says: no engine here at all, not one that is down.
    if (!endpoint.configured && error.code === 'ENOENT') {
      return new NoAnswer(`no Docker engine configured (no DOCKER_HOST, no docker context) and no socket at ${endpoint.host}`, true)
    }

    return new NoAnswer(`Cannot connect to the Docker daemon at ${endpoint.host}. Is the docker daemon running? (${why})`)
  }

  return new NoAnswer(`the connection to ${endpoint.host} failed: ${why}`)
}
