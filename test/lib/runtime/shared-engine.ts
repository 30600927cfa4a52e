// For suites that remove moat networks from the test engine, which every engine suite shares while they run in
// parallel: a removal here must only ever reach this suite's own fixtures.
import {mkdir} from 'node:fs/promises'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {RUN_ID} from '../../../src/lib/runs/run-id.js'
import {dockerOk} from '../../helpers/engine.js'

/**
 * --min-age for runs that remove: networks other suites create after protectOtherRuns() are younger than this when
 * the scan lists them, so they are kept as young. Fixtures must be at least this old first (waitUntilOld).
 */
export const MIN_AGE_MS = 1000

/**
 * Gives every moat run on the engine that is not one of `mine` a run dir in this MOAT_HOME: alive, so its networks
 * and containers are kept. Runs are found by network name, container name and the moat.run-id label.
 */
export async function protectOtherRuns(moatHome: string, mine: readonly string[]): Promise<void> {
  const networks = await dockerOk(['network', 'ls', '--filter', 'label=moat.managed=true', '--format', '{{.Name}}'])
  const containers = await dockerOk(['ps', '--all', '--format', '{{.Names}} {{.Label "moat.run-id"}}'])
  const runIds = new Set(`${networks}\n${containers}`.match(/run_[0-9a-f]{12}/g))
  for (const runId of runIds) {
    if (RUN_ID.test(runId) && !mine.includes(runId)) await mkdir(join(moatHome, 'runs', runId), {recursive: true})
  }
}

/** Waits until fixtures created `since` are older than MIN_AGE_MS on the engine's clock (with a margin). */
export async function waitUntilOld(since: number): Promise<void> {
  const left = since + MIN_AGE_MS + 300 - Date.now()
  if (left > 0) await sleep(left)
}
