// The moat daemon's API (moat-resources.md §6.3) on $MOAT_HOME/proxy/daemon.sock: the run list, and the one write this
// tool makes, unregistering a run that never got a container (§6.4).
import {request} from 'node:http'
import {join} from 'node:path'

import {parseTimestamp} from '../runtime/batch.js'
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

/** What one request to the daemon came to: an HTTP answer, or why there was none (no `problem`: no daemon running). */
export type DaemonAnswer = {body: string; ok: true; status: number} | {ok: false; problem?: string}

/** One request on the daemon's socket with a timeout. Never rejects. */
export function callDaemon(moatHome: string, method: string, path: string, timeoutMs = DAEMON_TIMEOUT_MS): Promise<DaemonAnswer> {
  const socketPath = daemonSocket(moatHome)
  return new Promise((resolve) => {
    let settled = false
    const finish = (answer: DaemonAnswer) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      req.destroy()
      resolve(answer)
    }

    const fail = (problem?: string) => finish({ok: false, problem})
    // The daemon's own client uses host `daemon` (§6.3).
    const req = request({headers: {host: 'daemon'}, method, path, socketPath}, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
      })
      res.on('error', (error) => fail(`moat daemon at ${socketPath}: ${error.message}`))
      res.on('end', () => finish({body, ok: true, status: res.statusCode ?? 0}))
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

/** Never rejects: a daemon that is absent, hung or talking nonsense lists no runs, and `problem` says which. */
export async function askDaemon(moatHome: string, timeoutMs = DAEMON_TIMEOUT_MS): Promise<DaemonRuns> {
  const listed = await listRegistrations(moatHome, timeoutMs)
  if (!listed.ok) return {answered: false, problem: listed.problem, runIds: new Set()}
  return {answered: true, runIds: new Set(listed.registrations.map((registration) => registration.runId))}
}

/** One entry of GET /v1/runs (§6.3): no token there, those are only in runs.json. */
export interface Registration {
  /** Empty when the CLI died between registering and reporting its container (§6.4). */
  containerId: string
  registeredAtMs: number | undefined
  runId: string
}

export type RegistrationList = {ok: false; problem?: string} | {ok: true; registrations: Registration[]}

export async function listRegistrations(moatHome: string, timeoutMs = DAEMON_TIMEOUT_MS): Promise<RegistrationList> {
  const answer = await callDaemon(moatHome, 'GET', '/v1/runs', timeoutMs)
  const where = `moat daemon at ${daemonSocket(moatHome)}`
  if (!answer.ok) return answer
  if (answer.status !== 200) return {ok: false, problem: `${where} answered HTTP ${answer.status} to GET /v1/runs`}
  try {
    return {ok: true, registrations: parseRunList(answer.body)}
  } catch (error) {
    return {ok: false, problem: `${where} sent an unreadable run list: ${(error as Error).message}`}
  }
}

/** DELETE /v1/runs/<token> (§6.3): 204 done, 404 already gone. The token is never put into a message. */
export async function unregister(moatHome: string, token: string): Promise<'gone' | 'removed' | {problem: string}> {
  const answer = await callDaemon(moatHome, 'DELETE', `/v1/runs/${encodeURIComponent(token)}`)
  if (!answer.ok) return {problem: answer.problem ?? 'the moat daemon is not running'}
  if (answer.status === 204 || answer.status === 200) return 'removed'
  if (answer.status === 404) return 'gone'
  return {problem: `the moat daemon answered HTTP ${answer.status}`}
}

/** `[{"run_id","container_id"?,"registered_at"}]` (§6.3); entries without a valid run ID are ignored. */
function parseRunList(body: string): Registration[] {
  const list = JSON.parse(body) as unknown
  if (!Array.isArray(list)) throw new Error('not a JSON array')
  return list.flatMap((entry) => {
    /* eslint-disable camelcase -- the daemon's field names */
    const {container_id, registered_at, run_id} = (entry ?? {}) as Record<string, unknown>
    if (typeof run_id !== 'string' || !RUN_ID.test(run_id)) return []
    return [{containerId: typeof container_id === 'string' ? container_id : '', registeredAtMs: parseTimestamp(registered_at), runId: run_id}]
    /* eslint-enable camelcase */
  })
}
