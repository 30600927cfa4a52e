// The engines moat's runs used (moat-resources.md §11: metadata.json `docker_host`, podman support): a run on a
// non-default socket leaves its objects there, where moat's own sweeps never look.
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {parseMetadata} from './metadata.js'
import {RUN_ID} from './run-id.js'

/** Distinct `docker_host` values of the run dirs in $MOAT_HOME/runs (none when it cannot be read). */
export function runEngineHosts(moatHome: string): string[] {
  const runsDir = join(moatHome, 'runs')
  let names: string[]
  try {
    names = readdirSync(runsDir)
  } catch {
    return []
  }

  const hosts = new Set<string>()
  for (const name of names) {
    if (!RUN_ID.test(name)) continue
    try {
      const host = parseMetadata(readFileSync(join(runsDir, name, 'metadata.json'), 'utf8')).dockerHost
      if (host) hosts.add(host)
    } catch {}
  }

  return [...hosts]
}
