// The engines moat's runs used (moat-resources.md §11, §12.1: metadata.json `docker_host`, written for every
// Docker-runtime run since podman support): a run's objects stay on that engine, where moat's own sweeps never look.
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {parseMetadata} from './metadata.js'
import {RUN_ID} from './run-id.js'

/** Each distinct `docker_host` of the run dirs in $MOAT_HOME/runs, with the runs naming it (none when runs/ cannot be read). */
export function runEngineHosts(moatHome: string): Map<string, string[]> {
  const runsDir = join(moatHome, 'runs')
  let names: string[]
  try {
    names = readdirSync(runsDir).sort()
  } catch {
    return new Map()
  }

  const hosts = new Map<string, string[]>()
  for (const name of names) {
    if (!RUN_ID.test(name)) continue
    try {
      const host = parseMetadata(readFileSync(join(runsDir, name, 'metadata.json'), 'utf8')).dockerHost
      if (host) hosts.set(host, [...(hosts.get(host) ?? []), name])
    } catch {}
  }

  return hosts
}
