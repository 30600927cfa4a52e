// Resolving what an interrupted earlier pass left open (issue 21): intents without an outcome in the journal (a
// SIGKILL, a power cut, an answer that never came). Each object is looked up where it lived: on the engine the intent
// names (by full ID; a different engine now answering at that address confirms nothing), on the disk and in the
// quarantine next to it, or in the moat daemon's run list. Gone is `removed`, still there is `failed` (not done: the
// pass that resolves it judges the object again like any other), and what cannot be asked stays `unknown` (and open).
import {dirname, join} from 'node:path'

import type {ObjectKind, Runtime} from '../runtime/types.js'
import type {Intent, Resumed} from './intents.js'

import {entryStat, listDirectory} from '../host/checked-fs.js'
import {findQuarantines, quarantineEntries} from '../host/safe-remove.js'
import {listRegistrations} from '../moat/daemon.js'
import {APPLE_ENGINE, AppleCli} from '../runtime/apple.js'
import {DockerApi} from '../runtime/docker-api.js'
import {resolveDockerEndpoint} from '../runtime/docker-endpoint.js'
import {DockerCli} from '../runtime/docker.js'

export const RESUMED_REMOVED = 'removed by an interrupted earlier pass, confirmed now'
const NOT_DONE = 'not done by an interrupted earlier pass: still there; this pass judges it again'

export interface ResumeOptions {
  daemonTimeoutMs?: number
  moatHome: string
}

/** Resolves each open intent once; never throws (what cannot be asked is `unknown`). */
export async function resolveIntents(intents: readonly Intent[], options: ResumeOptions): Promise<Resumed[]> {
  const byEngine = new Map<string, Intent[]>()
  for (const intent of intents) byEngine.set(intent.engine, [...(byEngine.get(intent.engine) ?? []), intent])
  const resolved = await Promise.all(
    [...byEngine].map(([engine, group]) => {
      if (engine === 'host') return onDisk(group, options.moatHome)
      if (engine === 'moat daemon') return inDaemon(group, options)
      return onEngine(engine, group)
    }),
  )
  // In the order they were recorded.
  const byIntent = new Map(resolved.flat().map((entry) => [entry.intent, entry]))
  return intents.map((intent) => byIntent.get(intent)!)
}

const unknown = (intent: Intent, why: string): Resumed => ({decision: 'unknown', intent, outcome: `an interrupted earlier pass may have removed it: ${why}`})

function identity(stat: {dev: number; ino: number}): string {
  return `${stat.dev}:${stat.ino}`
}

/**
 * Host paths: still there as judged, left in a quarantine next to it (moved, not yet deleted: the temp-dir scan
 * finishes it), moved to `reaped/`, or gone. Each directory is read once, however many intents point into it.
 */
function onDisk(intents: readonly Intent[], moatHome: string): Resumed[] {
  const places = new Map<string, Map<string, string>>()
  /** Where entries of this identity now are among what `dir` holds (quarantines of ours, or reaped/ itself). */
  const indexOf = (dir: string, quarantines: boolean): Map<string, string> => {
    const key = `${quarantines}\u0000${dir}`
    let index = places.get(key)
    if (!index) {
      index = new Map()
      const stat = entryStat(dir)
      if (stat?.isDirectory()) {
        const holders = quarantines ? findQuarantines(dir, stat) : [dir]
        for (const holder of holders) {
          const entries = quarantines
            ? quarantineEntries(holder)
            : (listDirectory(holder) ?? []).flatMap((name) => {
                const found = entryStat(join(holder, name))
                return found ? [{path: join(holder, name), stat: found}] : []
              })
          for (const entry of entries) index.set(identity(entry.stat), entry.path)
        }
      }

      places.set(key, index)
    }

    return index
  }

  return intents.map((intent): Resumed => {
    const mine = identity({dev: intent.dev ?? -1, ino: intent.ino ?? -1})
    try {
      const now = entryStat(intent.id)
      if (now && identity(now) === mine) return {decision: 'failed', intent, outcome: NOT_DONE}
      if (intent.action === 'quarantine') {
        const held = indexOf(dirname(intent.id), true).get(mine)
        if (held) return {decision: 'failed', intent, outcome: `moved to ${held} by an interrupted earlier pass, not yet deleted: the temp-dir scan finishes it`}
      }

      if (intent.action === 'move') {
        const moved = indexOf(join(moatHome, 'reaped'), false).get(mine)
        if (moved) return {decision: 'removed', intent, outcome: `moved to ${moved} by an interrupted earlier pass, confirmed now`}
      }
    } catch (error) {
      // Unreadable (host/checked-fs.ts): what cannot be looked at is not taken for gone.
      return unknown(intent, (error as Error).message)
    }

    return {decision: 'removed', intent, outcome: RESUMED_REMOVED}
  })
}

/** Daemon registrations: still listed (without a container) or not. */
async function inDaemon(intents: readonly Intent[], options: ResumeOptions): Promise<Resumed[]> {
  const listed = await listRegistrations(options.moatHome, options.daemonTimeoutMs)
  return intents.map((intent) => {
    if (!listed.ok) return unknown(intent, `the moat daemon did not answer${listed.problem ? ` (${listed.problem})` : ''}`)
    const still = listed.registrations.some((registration) => registration.runId === intent.runId && !registration.containerId)
    return still ? {decision: 'failed', intent, outcome: NOT_DONE} : {decision: 'removed', intent, outcome: RESUMED_REMOVED}
  })
}

/** The adapter that reaches this address now, if one can. */
function runtimeAt(address: string): Runtime | string {
  if (address === APPLE_ENGINE) return new AppleCli()
  try {
    const endpoint = resolveDockerEndpoint({...process.env, DOCKER_CONTEXT: undefined, DOCKER_HOST: address})
    if (endpoint.kind !== 'other') return new DockerApi(endpoint)
  } catch (error) {
    return (error as Error).message
  }

  // ssh:// and the like: only the docker CLI reaches them, pointed at that address (engines.ts does the same).
  return new DockerCli({env: {DOCKER_CONTEXT: undefined, DOCKER_HOST: address}})
}

async function onEngine(address: string, intents: readonly Intent[]): Promise<Resumed[]> {
  const runtime = runtimeAt(address)
  if (typeof runtime === 'string') return intents.map((intent) => unknown(intent, runtime))
  try {
    await runtime.ping()
  } catch (error) {
    return intents.map((intent) => unknown(intent, `the engine at ${address} did not answer (${firstLine(error)})`))
  }

  const now = runtime.engine().id
  const kinds: ObjectKind[] = ['container', 'network', 'volume']
  const found = new Map<ObjectKind, Map<string, {createdMs?: number}> | string>()
  await Promise.all(
    kinds.map(async (kind) => {
      const ids = intents.filter((intent) => intent.object === kind).map((intent) => intent.id)
      if (ids.length === 0) return
      try {
        found.set(kind, await runtime.inspect(kind, ids))
      } catch (error) {
        found.set(kind, firstLine(error))
      }
    }),
  )
  return intents.map((intent) => {
    if (intent.engineId && now && intent.engineId !== now) return unknown(intent, `another engine answers at ${address} now (ID ${now}, not ${intent.engineId})`)
    const objects = found.get(intent.object as ObjectKind)
    if (objects === undefined) return unknown(intent, `a ${intent.object} cannot be asked for on an engine`)
    if (typeof objects === 'string') return unknown(intent, `the engine at ${address} did not say (${objects})`)
    const object = objects.get(intent.id)
    // A volume's ID is its name: one made since under the same name is not the one the intent meant.
    const replaced = object && intent.createdMs !== undefined && object.createdMs !== undefined && object.createdMs !== intent.createdMs
    if (object && !replaced) {
      const what = intent.action === 'stop' ? 'not removed: an interrupted earlier pass was stopping it; this pass judges it again' : NOT_DONE
      return {decision: 'failed', intent, outcome: what}
    }

    return {decision: 'removed', intent, outcome: RESUMED_REMOVED}
  })
}

function firstLine(error: unknown): string {
  return ((error as Error)?.message ?? String(error)).split('\n')[0]!.trim()
}
