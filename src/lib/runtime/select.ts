import type {Runtime, RuntimeName} from './types.js'

import {AppleCli} from './apple.js'
import {DockerApi} from './docker-api.js'
import {DockerEndpointError, resolveDockerEndpoint} from './docker-endpoint.js'
import {DockerCli} from './docker.js'
import {addressesOf, dockerEngines, probeRuntimes, silentMessage} from './engines.js'
import {RuntimeAbsentError, RuntimeUnreachableError} from './errors.js'

export {hasAnswered} from './engines.js'

/** The `--runtime` flag. */
export type RuntimeChoice = 'auto' | RuntimeName

/**
 * Every Docker engine moat or the docker CLI may use and every one a run of this moat home used, each once
 * (engines.ts, moat-resources.md §12.1), and Apple container.
 */
export function defaultRuntimes(moatHome?: string): Runtime[] {
  return [...dockerEngines({moatHome}), new AppleCli()]
}

/** The engines only run dirs name (moat-resources.md §11): none that DOCKER_HOST or the docker CLI's choice reaches. */
export function otherEngines(moatHome: string, env: NodeJS.ProcessEnv = process.env): Array<DockerApi | DockerCli> {
  return dockerEngines({env: {...env, MOAT_SYSTEM_ENGINE_DISCOVERY: 'off'}, moatHome}).filter((engine) =>
    addressesOf(engine).every((entry) => entry.source.startsWith('docker_host of ')),
  )
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

/** A runtime that is there but did not answer: its objects are neither judged nor removed. */
export interface Silent {
  /** Why, naming it and where its address came from. */
  message: string
  runtime: Runtime
}

/** The runtimes that answered, and the ones that are there but did not. */
export interface Selection {
  runtimes: Runtime[]
  silent: Silent[]
}

/**
 * What makes a pass partial (exit 3): a Docker engine of the set that did not answer while others did. Apple container
 * with its services not started keeps its earlier meaning (a note, as for a runtime that is not running).
 */
export function partialOf(selection: Pick<Selection, 'silent'>): string[] {
  return selection.silent.filter((entry) => entry.runtime.name === 'docker').map((entry) => entry.message)
}

/**
 * The runtimes a command works on, each one pinged once (which also reads its clock) and each Docker engine counted
 * once. The one place `--runtime` is interpreted (DESIGN.md "Runtimes"; moat-resources.md §10.4: skip a runtime
 * entirely when it cannot be asked):
 * - `docker` or `apple`: every engine of that runtime that answers; one that exists but does not answer is in
 *   `silent` (the others are still used); RuntimeUnreachableError (exit 1) only when none answers or none exists;
 * - `auto`: every runtime that answers. One whose CLI is absent is silently not used; one that is there but does not
 *   answer is in `silent`; when none answers at all, RuntimeUnreachableError (RuntimeAbsentError: none is there).
 */
export async function selectEngines(choice: RuntimeChoice, available: readonly Runtime[] = defaultRuntimes()): Promise<Selection> {
  const wanted = choice === 'auto' ? available : available.filter((runtime) => runtime.name === choice)
  const probed = await probeRuntimes(wanted)
  const answering = probed.filter((entry) => !entry.error).map((entry) => entry.runtime)
  const failed = probed.filter((entry): entry is Required<typeof entry> => entry.error !== undefined)
  if (choice !== 'auto') {
    if (answering.length === 0) {
      const why = failed.length === 0 ? `no ${choice} runtime here` : failed.map((entry) => entry.error.message).join('; ')
      throw new RuntimeUnreachableError(choice, `--runtime ${choice}: ${why}`)
    }

    return {runtimes: answering, silent: failed.map((entry) => skipped(entry))}
  }

  const silent = failed.filter((entry) => !(entry.error instanceof RuntimeAbsentError))
  if (answering.length === 0) {
    if (silent.length === 0) {
      throw new RuntimeAbsentError('auto', `No container runtime found: ${failed.map((entry) => entry.error.message).join('; ')}.`)
    }

    throw new RuntimeUnreachableError('auto', `No container runtime answered. ${silent.map((entry) => silentMessage(entry)).join('; ')}`)
  }

  return {runtimes: answering, silent: silent.map((entry) => skipped(entry))}
}

/** selectEngines, with a warning for each runtime that did not answer. */
export async function selectRuntimes(
  choice: RuntimeChoice,
  warn: (message: string) => void,
  available: readonly Runtime[] = defaultRuntimes(),
): Promise<Runtime[]> {
  const selection = await selectEngines(choice, available)
  for (const entry of selection.silent) warn(entry.message)
  return selection.runtimes
}

function skipped(entry: {error: RuntimeUnreachableError; runtime: Runtime}): Silent {
  return {message: `${silentMessage(entry)}; skipped: none of its resources is judged.`, runtime: entry.runtime}
}
