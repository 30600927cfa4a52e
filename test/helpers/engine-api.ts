// The test engine's own API, for fixtures that must be many and fast (80 exited run containers in a few seconds,
// where one docker CLI process each would take half a minute) and for asking the engine what is left.
import {request} from 'node:http'

import {requireEngine, TEST_IMAGE} from './engine.js'
import {newRunId} from './moat-fixtures.js'

export async function engineApi(method: string, path: string, body?: unknown): Promise<{body: string; status: number}> {
  const socketPath = requireEngine().replace(/^unix:\/\//, '')
  const payload = body === undefined ? undefined : JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const req = request(
      {headers: payload ? {'content-length': Buffer.byteLength(payload), 'content-type': 'application/json'} : {}, method, path, socketPath},
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => resolve({body: Buffer.concat(chunks).toString('utf8'), status: res.statusCode ?? 0}))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(payload)
  })
}

async function ok(method: string, path: string, body?: unknown): Promise<string> {
  const reply = await engineApi(method, path, body)
  if (reply.status >= 300 && reply.status !== 304) throw new Error(`${method} ${path}: HTTP ${reply.status} ${reply.body}`)
  return reply.body
}

/** Runs fn over items, `limit` at a time. */
async function inPool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({length: limit}, async () => {
      while (next < items.length) {
        await fn(items[next++]!)
      }
    }),
  )
}

/**
 * `count` run containers (named `run_<12 hex>` with no labels, as moat names them, §3.1), made side by side through
 * the Engine API and never started: what a crash between moat's create and start leaves, removed by the same DELETE
 * as an exited one. (Starting 80 takes 10-20 s on a loaded test machine; creating them, under a second.) Returns run
 * ID to full container ID.
 */
export async function createRunContainers(count: number): Promise<Map<string, string>> {
  const made = new Map<string, string>()
  const runIds = Array.from({length: count}, () => newRunId())
  await inPool(runIds, 8, async (runId) => {
    const {Id: id} = JSON.parse(await ok('POST', `/containers/create?name=${runId}`, {Cmd: ['true'], Image: TEST_IMAGE})) as {Id: string}
    made.set(runId, id)
  })
  return new Map(runIds.map((runId) => [runId, made.get(runId)!]))
}

/** Which of these containers the engine still has. */
export async function existingContainers(ids: Iterable<string>): Promise<Set<string>> {
  const all = JSON.parse(await ok('GET', '/containers/json?all=1')) as Array<{Id: string}>
  const wanted = new Set(ids)
  return new Set(all.map((container) => container.Id).filter((id) => wanted.has(id)))
}

/** Removes whatever of these containers is left (afterEach), side by side. */
export async function removeContainers(ids: Iterable<string>): Promise<void> {
  const left = [...(await existingContainers(ids))]
  await inPool(left, 8, async (id) => {
    await engineApi('DELETE', `/containers/${id}?force=1`)
  })
}
