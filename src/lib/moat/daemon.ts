// The moat daemon's read-only run list (moat-resources.md §6.3): GET /v1/runs on $MOAT_HOME/proxy/daemon.sock.
import {request} from 'node:http'
import {join} from 'node:path'

import {RUN_ID} from './run-id.js'

/** The daemon answers its health check within 3 s when alive (§6.1); a run list should come back well before. */
export const DAEMON_TIMEOUT_MS = 2000

export interface DaemonRuns {
  /** It answered GET /v1/runs with a run list. */
  answered: boolean
  /** Why it did not answer, when that deserves a note (no socket, or a refused one, is just a daemon not running). */
  problem?: string
  runIds: ReadonlySet<string>
}

export function daemonSocket(moatHome: string): string {
  return join(moatHome, 'proxy', 'daemon.sock')
}

/** Never rejects: a daemon that is absent, hung or talking nonsense lists no runs, and `problem` says which. */
export function askDaemon(moatHome: string, timeoutMs = DAEMON_TIMEOUT_MS): Promise<DaemonRuns> {
  const socketPath = daemonSocket(moatHome)
  return new Promise((resolve) => {
    let settled = false
    const finish = (runs: DaemonRuns) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      req.destroy()
      resolve(runs)
    }

    const fail = (problem?: string) => finish({answered: false, problem, runIds: new Set()})
    // The daemon's own client uses host `daemon` (§6.3).
    const req = request({headers: {host: 'daemon'}, method: 'GET', path: '/v1/runs', socketPath}, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
      })
      res.on('error', (error) => fail(`moat daemon at ${socketPath}: ${error.message}`))
      res.on('end', () => {
        if (res.statusCode !== 200) return fail(`moat daemon at ${socketPath} answered HTTP ${res.statusCode} to GET /v1/runs`)
        try {
          finish({answered: true, runIds: parseRunList(body)})
        } catch (error) {
          fail(`moat daemon at ${socketPath} sent an unreadable run list: ${(error as Error).message}`)
        }
      })
    })
    const timer = setTimeout(
      () => fail(`moat daemon at ${socketPath} did not answer within ${timeoutMs / 1000}s`),
      timeoutMs,
    )
    req.on('error', (error: NodeJS.ErrnoException) => {
      // No socket, or one left behind by a daemon that died: no daemon, nothing to say.
      if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') return fail()
      fail(`moat daemon at ${socketPath}: ${error.code ?? error.message}`)
    })
    req.end()
  })
}

/** `[{"run_id","container_id"?,"registered_at"}]` (§6.3); entries without a valid run ID are ignored. */
function parseRunList(body: string): Set<string> {
  const list = JSON.parse(body) as unknown
  if (!Array.isArray(list)) throw new Error('not a JSON array')
  const ids = list.map((entry) => (entry as {run_id?: unknown})?.run_id)
  return new Set(ids.filter((id): id is string => typeof id === 'string' && RUN_ID.test(id)))
}
