// The human rendering of `moat-system status`, in the manner of `docker system df`: one row per target and runtime,
// then each Docker engine consulted, then each engine's address-pool pressure, then what to run. Pure: the command
// prints the lines.
import {hostname} from 'node:os'
import prettyBytes from 'pretty-bytes'

import type {RuntimeStatus, Status, StatusCounts} from '../status/status.js'

import {formatDuration} from '../duration.js'
import {describeEngine} from './render.js'

/** How the lines name the command that removes a target's orphans: `moat-system <command>`, never moat's `moat`. */
const SYSTEM = 'moat-system'

function size(bytes: null | number): string {
  return bytes === null ? '-' : prettyBytes(bytes)
}

/** exitZero: the run was given --exit-zero, so the line saying why it exits 4 is left out. */
export function describeStatus(status: Status, {exitZero = false} = {}): string[] {
  const rows = [['TARGET', 'RUNTIME', 'FOUND', 'ORPHANS', 'SIZE', 'RECLAIMABLE']]
  for (const target of status.targets) {
    for (const row of target.runtimes) {
      rows.push([target.target, row.runtime, String(row.found), String(row.orphans), size(row.bytes), size(row.orphanBytes)])
    }
  }

  const lines = table(rows, [2, 3])
  lines.push('')
  for (const engine of status.engines) lines.push(describeEngine(engine))
  for (const runtime of status.runtimes) lines.push(describePools(runtime, status))
  lines.push(describeReaper(status.reaper))
  const toClean = status.targets.filter((target) => target.orphans > 0)
  if (toClean.length === 0) {
    lines.push('Nothing to clean.')
    return lines
  }

  // The exit code a CI gate keys on is said where a script writer reads the numbers (issue 23), never in --quiet's line.
  if (!exitZero) lines.push('Exit code 4: something to clean (--exit-zero exits 0, for a script that only wants the numbers).')
  lines.push(`To clean: ${total(status.totals)}. Run ${toClean.map((target) => `${SYSTEM} ${target.command} (${target.orphans})`).join(', ')}.`)
  return lines
}

/** e.g. `networks: 27 of 31 subnets used, 19 by moat orphans: run moat-system clean-networks`. */
export function describePools(runtime: RuntimeStatus, status: Pick<Status, 'targets'>): string {
  const kind = runtime.kind ?? runtime.runtime
  const where = runtime.engine ? ` (${kind} at ${runtime.engine})` : kind === 'docker' ? '' : ` (${kind})`
  const pools = runtime.addressPools
  if (!pools) return `networks${where}: ${runtime.note}.`
  const builtIn = pools.source === 'built-in' ? " of Docker's built-in pools" : ''
  const head = `networks${where}: ${pools.used} of ${pools.capacity} subnets${builtIn} used`
  if (pools.usedByMoatOrphans === 0) return `${head}, none by moat orphans`
  const command = status.targets.find((target) => target.target === 'networks')?.command ?? 'clean-networks'
  return `${head}, ${pools.usedByMoatOrphans} by moat orphans: run ${SYSTEM} ${command}`
}

/** e.g. `reaper: pid 4242 since 2026-12-03T10:00:00Z, watching runs dir and 1 engine event stream, full pass every 10m`. */
export function describeReaper(reaper: Status['reaper']): string {
  if (!reaper) return `reaper: none running (${SYSTEM} reap watches and sweeps; see its help)`
  if (!reaper.state) return `reaper: unknown (${reaper.problem})`
  const {intervalMs, pid, startedAt, watch} = reaper.state
  const who = `pid ${pid}${reaper.state.host && reaper.state.host !== hostname() ? ` on ${reaper.state.host}` : ''}`
  if (!reaper.running) return `reaper: not running (${who} started ${startedAt} and is gone; its state file is left over)`
  const every = `full pass every ${formatDuration(intervalMs)}`
  if (!watch) return `reaper: ${who} since ${startedAt}, not watching (--no-watch): ${every}`
  const parts = [
    ...(watch.runs ? [watch.runs.watching ? `watching ${watch.runs.dir}` : `not watching ${watch.runs.dir} (${watch.runs.why})`] : []),
    ...watch.engines.map((engine) => (engine.watching ? `watching the events of ${engine.address}` : `not watching the events of ${engine.address} (${engine.why})`)),
  ]
  return `reaper: ${who} since ${startedAt}, ${parts.length > 0 ? parts.join(', ') : 'nothing to watch yet'}; ${every}`
}

function total(totals: StatusCounts): string {
  const what = `${totals.orphans} orphan${totals.orphans === 1 ? '' : 's'}`
  return totals.orphanBytes === null ? what : `${what}, ${prettyBytes(totals.orphanBytes)}`
}

/** Columns padded to their widest cell; the `right` ones (numbers) aligned right. */
function table(rows: readonly string[][], right: readonly number[]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  return rows.map((row) =>
    row
      .map((cell, column) => (right.includes(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd(),
  )
}
