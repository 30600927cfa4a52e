// Where moat keeps its own state in $MOAT_HOME, and how to read what a reaper needs of it (moat-resources.md §6, §8):
// the daemon registry file (secret: it holds proxy tokens), the daemon lock, the SSH agent socket dirs, and the
// daemon's processes. Files are read through host/checked-fs.ts: a file that cannot be read is never taken for absent.
import {join} from 'node:path'

import {readStateFile, Unreadable} from '../host/checked-fs.js'
import {commandLines} from '../host/proc.js'
import {RUN_ID} from './run-id.js'

export function proxyDir(moatHome: string): string {
  return join(moatHome, 'proxy')
}

export function socketsDir(moatHome: string): string {
  return join(moatHome, 'sockets')
}

/** §8: the crash leftovers of the daemon's atomic writes (Go os.CreateTemp: the `*` is a decimal number). */
export const DAEMON_TMP_FILE = /^(?:\.runs-\d+\.json\.tmp|routes-\d+\.json\.tmp)$/

export interface RegistrationTokens {
  /** Why runs.json could not be read: then no token is known, and no registration can be removed. */
  problem?: string
  /** Run ID -> proxy tokens of the runs.json entries that have no container ID. */
  tokens: Map<string, string[]>
}

/**
 * §6.2: run ID -> proxy tokens of runs.json entries that have no container ID. Tokens are secrets: they go only to
 * the daemon's own DELETE /v1/runs/<token>, never into a message, the JSON document or the audit log.
 */
export function readRegistrationTokens(moatHome: string): RegistrationTokens {
  const tokens = new Map<string, string[]>()
  const path = join(proxyDir(moatHome), 'runs.json')
  let value: unknown
  try {
    const text = readStateFile(path, 'runs.json')
    if (text === undefined) return {tokens}
    value = JSON.parse(text)
  } catch (error) {
    if (error instanceof Unreadable) return {problem: error.message, tokens}
    return {problem: `${path} does not parse (${(error as Error).message})`, tokens}
  }

  // `{"version":1,"runs":[...]}`, or the legacy bare array (§6.2).
  const list = Array.isArray(value) ? value : (value as {runs?: unknown})?.runs
  if (!Array.isArray(list)) return {tokens}
  for (const entry of list) {
    /* eslint-disable camelcase -- the daemon's field names */
    const {auth_token, container_id, run_id} = (entry ?? {}) as Record<string, unknown>
    if (typeof run_id !== 'string' || !RUN_ID.test(run_id) || typeof auth_token !== 'string' || !auth_token) continue
    if (typeof container_id === 'string' && container_id !== '') continue
    tokens.set(run_id, [...(tokens.get(run_id) ?? []), auth_token])
    /* eslint-enable camelcase */
  }

  return {tokens}
}

/** §6.1: the PID daemon.lock names, or why it cannot be told (absent: neither). */
export function lockedDaemonPid(moatHome: string): {pid?: number; problem?: string} {
  const path = join(proxyDir(moatHome), 'daemon.lock')
  try {
    const text = readStateFile(path, 'daemon.lock')
    if (text === undefined) return {}
    const {pid} = JSON.parse(text) as {pid?: unknown}
    return typeof pid === 'number' && Number.isInteger(pid) ? {pid} : {problem: `${path} names no PID`}
  } catch (error) {
    return {problem: error instanceof Unreadable ? error.message : `${path} does not parse (${(error as Error).message})`}
  }
}

/** §6.1: `moat _daemon --dir <moatHome>/proxy ...` processes of this host, by PID. */
export function daemonProcesses(moatHome: string): number[] {
  const dir = proxyDir(moatHome)
  return [...(commandLines() ?? [])].flatMap(([pid, argv]) => {
    const at = argv.indexOf('--dir')
    return argv.includes('_daemon') && at > 0 && (argv[at + 1] === dir || argv[at + 1] === `${dir}/`) ? [pid] : []
  })
}
