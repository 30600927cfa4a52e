// Which Docker engine the user means, worked out as the docker CLI does it but without starting a process:
// DOCKER_HOST (with DOCKER_TLS / DOCKER_TLS_VERIFY / DOCKER_CERT_PATH), else DOCKER_CONTEXT, else the config's
// currentContext, each context read from the CLI's context store, else the default socket (DESIGN.md "Runtimes").
import {existsSync, readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'

export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock'

/** The docker CLI's default ports for tcp:// without one (opts.DefaultHTTPPort / DefaultTLSHTTPPort). */
const TCP_PORT = 2375
const TLS_PORT = 2376

export interface TlsFiles {
  /** Paths; a file the CLI would drop because it does not exist is left out. */
  ca?: string
  cert?: string
  key?: string
  /** Check the engine's certificate and name (DOCKER_TLS_VERIFY, or a context without SkipTLSVerify). */
  verify: boolean
}

interface EndpointBase {
  /** False when nothing at all points at an engine (no variable, no context): the default socket is only a guess. */
  configured: boolean
  /** The engine address as written, e.g. `unix:///var/run/docker.sock`, for messages. */
  host: string
  /** Where the address came from: `DOCKER_HOST`, `context "name"` or `default`. */
  source: string
}

export type DockerEndpoint =
  | (EndpointBase & {hostname: string; kind: 'tcp'; port: number; tls?: TlsFiles})
  | (EndpointBase & {kind: 'other'})
  | (EndpointBase & {kind: 'unix'; socketPath: string})

/** The docker configuration names an engine that cannot be worked out (unknown context, unreadable config). */
export class DockerEndpointError extends Error {
  override name = 'DockerEndpointError'
}

export function dockerConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CONFIG || join(homedir(), '.docker')
}

/** The engine the docker CLI would talk to with this environment. Throws DockerEndpointError. */
export function resolveDockerEndpoint(env: NodeJS.ProcessEnv = process.env): DockerEndpoint {
  // The CLI's order (cli/command/cli.go resolveContextName): DOCKER_HOST wins over any context.
  if (env.DOCKER_HOST) return parseDockerHost(env.DOCKER_HOST, {configured: true, source: 'DOCKER_HOST', tls: envTls(env)})
  const configDir = dockerConfigDir(env)
  const context = env.DOCKER_CONTEXT || currentContext(configDir)
  if (context && context !== 'default') return contextEndpoint(configDir, context)
  return parseDockerHost(DEFAULT_DOCKER_HOST, {configured: Boolean(context), source: 'default', tls: envTls(env)})
}

/** `unix:///path`, `tcp://host:port` (also a bare `host:port`), or a scheme only the docker CLI speaks (ssh, npipe, fd). */
export function parseDockerHost(
  host: string,
  {configured, source, tls}: {configured: boolean; source: string; tls?: TlsFiles},
): DockerEndpoint {
  const base = {configured, host, source}
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(host)?.[1]?.toLowerCase()
  if (scheme === 'unix') {
    const socketPath = host.slice('unix://'.length) || DEFAULT_DOCKER_HOST.slice('unix://'.length)
    return {...base, kind: 'unix', socketPath}
  }

  if (scheme === undefined || scheme === 'tcp' || scheme === 'http' || scheme === 'https') {
    const rest = scheme === undefined ? host : host.slice(host.indexOf('://') + 3)
    let url: URL
    try {
      url = new URL(`tcp://${rest}`)
    } catch {
      throw new DockerEndpointError(`${source}: not a Docker engine address: ${host} (e.g. unix:///var/run/docker.sock or tcp://10.0.0.5:2376)`)
    }

    if (url.pathname !== '' && url.pathname !== '/') {
      // A path prefix behind a proxy: rare, and only the CLI honours it.
      return {...base, kind: 'other'}
    }

    const useTls = scheme === 'https' || tls !== undefined
    const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost'
    const port = url.port ? Number(url.port) : useTls ? TLS_PORT : TCP_PORT
    return {...base, hostname, kind: 'tcp', port, tls: useTls ? (tls ?? {verify: false}) : undefined}
  }

  return {...base, kind: 'other'}
}

/** TLS from the environment, as the CLI reads it (cli/flags/options.go): DOCKER_TLS_VERIFY implies DOCKER_TLS. */
function envTls(env: NodeJS.ProcessEnv): TlsFiles | undefined {
  const verify = Boolean(env.DOCKER_TLS_VERIFY)
  if (!verify && !env.DOCKER_TLS) return undefined
  return tlsFiles(env.DOCKER_CERT_PATH || dockerConfigDir(env), verify)
}

/** ca.pem, cert.pem and key.pem of a directory; the CLI silently drops the ones that do not exist. */
function tlsFiles(dir: string, verify: boolean): TlsFiles {
  const files: TlsFiles = {verify}
  for (const name of ['ca', 'cert', 'key'] as const) {
    const path = join(dir, `${name}.pem`)
    if (existsSync(path)) files[name] = path
  }

  return files
}

/** `currentContext` of config.json; undefined when there is no config. An unreadable config is an error, never a guess. */
function currentContext(configDir: string): string | undefined {
  const path = join(configDir, 'config.json')
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new DockerEndpointError(`cannot read ${path}: ${(error as Error).message}`)
  }

  let config: unknown
  try {
    config = JSON.parse(text)
  } catch (error) {
    throw new DockerEndpointError(`${path} is not valid JSON: ${(error as Error).message}`)
  }

  const name = (config as null | {currentContext?: unknown})?.currentContext
  return typeof name === 'string' && name ? name : undefined
}

/** The context store: contexts/meta/<sha256(name)>/meta.json and contexts/tls/<sha256(name)>/docker/*.pem. */
function contextEndpoint(configDir: string, name: string): DockerEndpoint {
  // node:crypto only when a context is used: most runs have DOCKER_HOST or nothing.
  const {createHash} = process.getBuiltinModule('node:crypto')
  const id = createHash('sha256').update(name).digest('hex')
  const metaPath = join(configDir, 'contexts', 'meta', id, 'meta.json')
  const source = `context "${name}"`
  let meta: {Endpoints?: {docker?: {Host?: unknown; SkipTLSVerify?: unknown}}}
  try {
    meta = JSON.parse(readFileSync(metaPath, 'utf8'))
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (error as Error).message
    throw new DockerEndpointError(`docker ${source}: ${why} (${metaPath}; \`docker context ls\` lists the contexts)`)
  }

  const docker = meta?.Endpoints?.docker
  if (typeof docker?.Host !== 'string' || !docker.Host) {
    throw new DockerEndpointError(`docker ${source} has no Docker endpoint (${metaPath})`)
  }

  const tlsDir = join(configDir, 'contexts', 'tls', id, 'docker')
  const tls = existsSync(tlsDir) ? tlsFiles(tlsDir, docker.SkipTLSVerify !== true) : undefined
  return parseDockerHost(docker.Host, {configured: true, source, tls})
}
