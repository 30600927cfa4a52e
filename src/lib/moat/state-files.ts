// Where moat keeps its own state in $MOAT_HOME, and how to read what a reaper needs of it (moat-resources.md §6, §8):
// the daemon registry file (secret: it holds proxy tokens), the daemon lock, the SSH agent socket dirs, and the
// listening unix sockets of this host.
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {RUN_ID} from './run-id.js'

export function proxyDir(moatHome: string): string {
  return join(moatHome, 'proxy')
}

export function socketsDir(moatHome: string): string {
  return join(moatHome, 'sockets')
}

/** §8: the crash leftovers of the daemon's atomic writes (Go os.CreateTemp: the `*` is a decimal number). */
export const DAEMON_TMP_FILE = /^(?:\.runs-\d+\.json\.tmp|routes-\d+\.json\.tmp)$/

/**
 * §6.2: run ID -> proxy tokens of runs.json entries that have no container ID. Tokens are secrets: they go only to
 * the daemon's own DELETE /v1/runs/<token>, never into a message, the JSON document or the audit log.
 */
export function readRegistrationTokens(moatHome: string): Map<string, string[]> {
  const tokens = new Map<string, string[]>()
  let value: unknown
  try {
    value = JSON.parse(readFileSync(join(proxyDir(moatHome), 'runs.json'), 'utf8'))
  } catch {
    return tokens
  }

  // `{"version":1,"runs":[...]}`, or the legacy bare array (§6.2).
  const list = Array.isArray(value) ? value : (value as {runs?: unknown})?.runs
  if (!Array.isArray(list)) return tokens
  for (const entry of list) {
    /* eslint-disable camelcase -- the daemon's field names */
    const {auth_token, container_id, run_id} = (entry ?? {}) as Record<string, unknown>
    if (typeof run_id !== 'string' || !RUN_ID.test(run_id) || typeof auth_token !== 'string' || !auth_token) continue
    if (typeof container_id === 'string' && container_id !== '') continue
    tokens.set(run_id, [...(tokens.get(run_id) ?? []), auth_token])
    /* eslint-enable camelcase */
  }

  return tokens
}

/** §6.1: the PID daemon.lock names, if it can be read. */
export function lockedDaemonPid(moatHome: string): number | undefined {
  try {
    const {pid} = JSON.parse(readFileSync(join(proxyDir(moatHome), 'daemon.lock'), 'utf8')) as {pid?: unknown}
    return typeof pid === 'number' && Number.isInteger(pid) ? pid : undefined
  } catch {
    return undefined
  }
}

/** §6.1: `moat _daemon --dir <moatHome>/proxy ...` processes of this host, by PID. */
export function daemonProcesses(moatHome: string): number[] {
  const dir = proxyDir(moatHome)
  let pids: string[]
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name))
  } catch {
    return []
  }

  return pids.map(Number).filter((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
      const at = argv.indexOf('--dir')
      return argv.includes('_daemon') && at > 0 && (argv[at + 1] === dir || argv[at + 1] === `${dir}/`)
    } catch {
      return false
    }
  })
}

/** Paths of listening unix sockets on this host (Linux /proc/net/unix); undefined where it cannot be read. */
export function listeningSocketPaths(): Set<string> | undefined {
  let text: string
  try {
    text = readFileSync('/proc/net/unix', 'utf8')
  } catch {
    return undefined
  }

  const paths = new Set<string>()
  for (const line of text.split('\n').slice(1)) {
    // Num RefCount Protocol Flags Type St Inode Path; a path (if any) is the 8th field and may hold spaces.
    const fields = line.trim().split(/\s+/)
    if (fields.length >= 8 && fields[7]!.startsWith('/')) paths.add(fields.slice(7).join(' '))
  }

  return paths
}
