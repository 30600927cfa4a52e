// The engines moat's runs used (moat-resources.md §11, §12.1: metadata.json `docker_host`, written for every
// Docker-runtime run since podman support): a run's objects stay on that engine, where moat's own sweeps never look.
import {join} from 'node:path'

import {listDirectory, readStateFile, Unreadable} from '../host/checked-fs.js'
import {parseMetadata} from './metadata.js'
import {RUN_ID} from './run-id.js'

export interface RunEngines {
  /** Each distinct `docker_host` of the run dirs, with the runs naming it (in run ID order). */
  hosts: Map<string, string[]>
  /**
   * Why some run's engine is unknown: runs/ or a metadata.json exists but cannot be read (issue 20). Whatever such an
   * engine may hold is unknown too: a temp dir one of its containers mounts must be kept.
   */
  problems: string[]
}

/** The engines the run dirs in $MOAT_HOME/runs name; none, and no problem, when there is no runs/. */
export function readRunEngines(moatHome: string): RunEngines {
  const runsDir = join(moatHome, 'runs')
  const hosts = new Map<string, string[]>()
  const problems: string[] = []
  let names: string[] | undefined
  try {
    names = listDirectory(runsDir)
  } catch (error) {
    if (!(error instanceof Unreadable)) throw error
    return {hosts, problems: [error.message]}
  }

  for (const name of [...(names ?? [])].sort()) {
    if (!RUN_ID.test(name)) continue
    let text: string | undefined
    try {
      text = readStateFile(join(runsDir, name, 'metadata.json'), 'metadata.json')
    } catch (error) {
      if (!(error instanceof Unreadable)) throw error
      problems.push(error.message)
      continue
    }

    if (text === undefined) continue
    try {
      const host = parseMetadata(text).dockerHost
      if (host) hosts.set(host, [...(hosts.get(host) ?? []), name])
    } catch (error) {
      // Half-written or foreign: whatever engine it names is unknown.
      problems.push(`${join(runsDir, name, 'metadata.json')} does not parse (${(error as Error).message})`)
    }
  }

  return {hosts, problems}
}

/** Each distinct `docker_host` of the run dirs in $MOAT_HOME/runs with the runs naming it (readRunEngines without its problems). */
export function runEngineHosts(moatHome: string): Map<string, string[]> {
  return readRunEngines(moatHome).hosts
}
