import type {Runtime, RuntimeName} from './types.js'

import {runEngineHosts} from '../moat/engines.js'
import {AppleCli} from './apple.js'
import {DockerApi} from './docker-api.js'
import {DockerEndpointError, resolveDockerEndpoint} from './docker-endpoint.js'
import {DockerCli} from './docker.js'
import {RuntimeAbsentError, RuntimeUnreachableError} from './errors.js'

/** The `--runtime` flag. */
export type RuntimeChoice = 'auto' | RuntimeName

/** Runtimes that already answered a ping in this process (their clock offset is measured). */
const answered = new WeakSet<Runtime>()

/** True once this runtime answered a ping in this process (selectRuntimes chose it): it may be asked without a wait. */
export function hasAnswered(runtime: Runtime): boolean {
  return answered.has(runtime)
}

/**
 * Docker as the docker CLI would reach it, one more Docker adapter for each other engine a run of this moat home
 * used (moat-resources.md §11: metadata.json `docker_host`), and Apple container.
 */
export function defaultRuntimes(moatHome?: string): Runtime[] {
  return [dockerRuntime(), ...(moatHome ? otherEngines(moatHome) : []), new AppleCli()]
}

/**
 * The engines runs name that the default Docker adapter does not reach, through the Engine API. One only the
 * docker CLI reaches (ssh://) cannot be pointed at per call and is left out (README: "How Docker is reached").
 */
export function otherEngines(moatHome: string, env: NodeJS.ProcessEnv = process.env): DockerApi[] {
  let usual: string | undefined
  try {
    usual = resolveDockerEndpoint(env).host
  } catch {}

  return runEngineHosts(moatHome)
    .filter((host) => host !== usual)
    .flatMap((host) => {
      try {
        const endpoint = resolveDockerEndpoint({...env, DOCKER_CONTEXT: undefined, DOCKER_HOST: host})
        return endpoint.kind === 'other' ? [] : [new DockerApi(endpoint)]
      } catch {
        return []
      }
    })
}

/**
 * The engine the docker CLI would use, through its API when this process can reach it (unix socket, tcp, tcp+TLS),
 * else through the docker CLI (ssh://, a path prefix, npipe; or MOAT_DOCKER_CLIENT=cli): DESIGN.md "Runtimes".
 */
export function dockerRuntime(env: NodeJS.ProcessEnv = process.env): DockerApi | DockerCli {
  // The way back to the CLI where the API misbehaves (a proxy in between, an engine of another make).
  if (env.MOAT_DOCKER_CLIENT === 'cli') return new DockerCli()
  try {
    const endpoint = resolveDockerEndpoint(env)
    return endpoint.kind === 'other' ? new DockerCli() : new DockerApi(endpoint)
  } catch (error) {
    // A context that does not exist or an unreadable config: the API adapter says so at ping, without a process.
    if (error instanceof DockerEndpointError) return new DockerApi()
    throw error
  }
}

/**
 * The runtimes a command works on, each one pinged (which also reads its clock). The one place `--runtime` is
 * interpreted (DESIGN.md "Runtimes"; moat-resources.md §10.4: skip a runtime entirely when it cannot be asked):
 * - `docker` or `apple`: that runtime, or RuntimeUnreachableError (exit 1) when it is absent or does not answer;
 * - `auto`: every runtime that answers. One whose CLI is absent is silently not used; one whose CLI is present but
 *   does not answer is skipped with a warning, so none of its resources is ever judged orphaned; when none answers
 *   at all, RuntimeUnreachableError.
 */
export async function selectRuntimes(
  choice: RuntimeChoice,
  warn: (message: string) => void,
  available: readonly Runtime[] = defaultRuntimes(),
): Promise<Runtime[]> {
  const wanted = choice === 'auto' ? available : available.filter((runtime) => runtime.name === choice)
  const pinged = await Promise.all(
    wanted.map(async (runtime) => {
      try {
        // `clean` selects once and hands the chosen runtimes to every engine target: ask each engine only once.
        if (!answered.has(runtime)) await runtime.ping()
        answered.add(runtime)
        return {runtime}
      } catch (error) {
        if (error instanceof RuntimeUnreachableError) return {error, runtime}
        throw error
      }
    }),
  )
  if (choice !== 'auto') {
    const failed = pinged.find((entry) => entry.error)?.error
    if (failed) throw new RuntimeUnreachableError(choice, `--runtime ${choice}: ${failed.message}`)
    return pinged.map((entry) => entry.runtime)
  }

  const answering = pinged.filter((entry) => !entry.error).map((entry) => entry.runtime)
  const silent = pinged.filter((entry) => entry.error && !(entry.error instanceof RuntimeAbsentError))
  if (answering.length === 0) {
    if (silent.length === 0) {
      const absent = pinged.map((entry) => entry.error!.message)
      throw new RuntimeAbsentError('auto', `No container runtime found: ${absent.join('; ')}.`)
    }

    throw new RuntimeUnreachableError('auto', `No container runtime answered. ${silent.map((entry) => entry.error!.message).join('; ')}`)
  }

  for (const entry of silent) warn(`${entry.error!.message}; skipped: none of its resources is judged.`)
  return answering
}
