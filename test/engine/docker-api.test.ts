// What only the Engine API adapter does, against the real test engine, behind a proxy where the engine has to fail on
// cue (test/helpers/engine-proxy.ts): it dies in the middle of a batch, it stops answering, it speaks an older API.
// The behaviour both Docker adapters share is the contract in docker.test.ts.
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {API_VERSION, DockerApi, negotiate} from '../../src/lib/runtime/docker-api.js'
import {parseDockerHost, resolveDockerEndpoint} from '../../src/lib/runtime/docker-endpoint.js'
import {DockerCli} from '../../src/lib/runtime/docker.js'
import {RuntimeAbsentError, RuntimeUnreachableError} from '../../src/lib/runtime/errors.js'
import {type EngineProxy, engineProxy, type EngineProxyOptions} from '../helpers/engine-proxy.js'
import {describeEngine, dockerOk, useEngineInProcessEnv} from '../helpers/engine.js'
import {createRunContainer, createSidecar, trackRunIds} from '../helpers/moat-fixtures.js'

function through(proxy: EngineProxy, timeouts = {}): DockerApi {
  return new DockerApi(resolveDockerEndpoint({DOCKER_HOST: proxy.host}), timeouts)
}

async function existing(ids: readonly string[]): Promise<Set<string>> {
  const out = await dockerOk(['ps', '--all', '--quiet', '--no-trunc'])
  return new Set(out.split('\n').filter((id) => ids.includes(id)))
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, as `docker` expects them in DOCKER_CERT_PATH. */
function makePki(dir: string): {otherCa: Buffer; server: {ca: Buffer; cert: Buffer; key: Buffer}} {
  const ssl = (args: string[]) => execFileSync('openssl', args, {cwd: dir, stdio: ['ignore', 'ignore', 'pipe']})
  const ca = (name: string) =>
    ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', `${name}-key.pem`, '-out', `${name}.pem`])
  const signed = (name: string, extra: string[]) => {
    ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}-key.pem`, '-out', `${name}.csr`])
    ssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '1', '-out', `${name}.pem`, ...extra])
  }

  ca('ca')
  ca('other')
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n')
  signed('server', ['-extfile', 'server.ext'])
  signed('cert', [])
  // The names the docker CLI reads: ca.pem (already), cert.pem (already), key.pem.
  writeFileSync(join(dir, 'key.pem'), readFileSync(join(dir, 'cert-key.pem')))
  const read = (name: string) => readFileSync(join(dir, name))
  return {otherCa: read('other.pem'), server: {ca: read('ca.pem'), cert: read('server.pem'), key: read('server-key.pem')}}
}

function deletes(seen: ReadonlyArray<{method: string}>): number {
  return seen.filter((request) => request.method === 'DELETE').length
}

describe('negotiate', () => {
  it('uses the older of the engine API version and ours', () => {
    expect(API_VERSION).toBe('1.41')
    expect(negotiate('1.38')).toBe('1.38')
    expect(negotiate('1.41')).toBe('1.41')
    expect(negotiate('1.47')).toBe('1.41')
    expect(negotiate('2.0')).toBe('1.41')
    expect(negotiate()).toBe('1.41')
  })
})

describeEngine('DockerApi: what only the API adapter does', () => {
  useEngineInProcessEnv()
  const runIds = trackRunIds()
  const proxies: EngineProxy[] = []

  async function proxied(options: EngineProxyOptions): Promise<EngineProxy> {
    const proxy = await engineProxy(options)
    proxies.push(proxy)
    return proxy
  }

  afterEach(async () => {
    for (const proxy of proxies.splice(0)) await proxy.close()
  })

  it('an engine that dies in the middle of a removal: what it confirmed is reported done, the rest failed', async () => {
    const ids: string[] = []
    for (let i = 0; i < 20; i++) ids.push(await createRunContainer(runIds.next(), {running: false}))
    // The engine removes five, then drops every connection: requests in flight and any later one get no answer.
    const removedByEngine = 5
    const proxy = await proxied({
      handle: (request, seen) => (request.method === 'DELETE' && deletes(seen) > removedByEngine ? 'drop' : 'forward'),
    })
    const api = through(proxy)
    await api.ping()

    const outcome = await api.remove('container', ids)

    const confirmed = proxy.requests.filter((request) => request.method === 'DELETE' && request.status === 204)
    expect(confirmed).toHaveLength(removedByEngine)
    const confirmedIds = new Set(confirmed.map((request) => request.path.split('/').at(-1)!))
    const left = await existing(ids)
    for (const id of ids) {
      if (confirmedIds.has(id)) {
        expect(outcome.failures.has(id)).toBe(false)
        expect(left.has(id)).toBe(false)
      } else {
        expect(outcome.failures.get(id)).toMatchObject({kind: 'error', message: expect.stringMatching(/Docker engine unreachable/)})
        expect(left.has(id)).toBe(true)
      }
    }

    // Once it stopped answering, nothing more was sent: only the requests in flight then were lost.
    expect(deletes(proxy.requests)).toBeLessThanOrEqual(removedByEngine + 8)
  })

  it('a 5xx after the work was done, or a reply over the size cap: not confirmed (for a re-check), never a crash; a list over its cap is an error', async () => {
    const ids: string[] = []
    for (let i = 0; i < 3; i++) ids.push(await createRunContainer(runIds.next(), {running: false}))
    const proxy = await proxied({
      handle(request, seen) {
        if (request.method === 'GET' && request.path.includes('/containers/json?all=1')) return {instead: {bytes: 70 * 1024 * 1024, status: 200}}
        if (request.method !== 'DELETE') return 'forward'
        const nth = deletes(seen)
        if (nth === 1) return {instead: {body: '{"message":"injected: failed after removing"}', status: 500}}
        return nth === 2 ? {instead: {bytes: 50 * 1024 * 1024, status: 200}} : 'forward'
      },
    })
    const api = through(proxy)
    await api.ping()
    // One at a time, so that the first and second DELETE are these IDs.
    const outcomes = []
    for (const id of ids) outcomes.push(await api.remove('container', [id]))
    expect(outcomes[0]!.failures.get(ids[0]!)).toMatchObject({kind: 'error', message: 'Error response from daemon: injected: failed after removing', unconfirmed: true})
    expect(outcomes[1]!.failures.get(ids[1]!)).toMatchObject({
      kind: 'error',
      message: expect.stringMatching(/^not confirmed: the engine's reply to DELETE \/v1\.41\/containers\/[0-9a-f]{64} \(HTTP 200\) was over 16 KiB; cut off$/),
      unconfirmed: true,
    })
    expect(outcomes[2]!.failures.size).toBe(0)
    // The engine did all three: the proxy only changed what came back.
    expect((await existing(ids)).size).toBe(0)
    await expect(api.list('container')).rejects.toThrow(/^docker GET \/v1\.41\/containers\/json failed: the engine's reply to GET .* was over 64 MiB; cut off$/)
  })

  it('watched: the intents of those sent together go first, each answer is passed on as it arrives, nothing new after the signal', async () => {
    const ids: string[] = []
    for (let i = 0; i < 20; i++) ids.push(await createRunContainer(runIds.next(), {running: false}))
    const proxy = await proxied({handle: (request) => (request.method === 'DELETE' ? {delayMs: 50} : 'forward')})
    const api = through(proxy)
    await api.ping()
    const stop = new AbortController()
    const groups: string[][] = []
    const replies: Array<{id: string; interrupted: boolean; pending: number}> = []
    const outcome = await api.remove('container', ids, {
      beforeSend(sent) {
        // Recorded before any of them went out.
        const out = new Set(proxy.requests.filter((request) => request.method === 'DELETE').map((request) => request.path.split('/').at(-1)))
        expect(sent.filter((id) => out.has(id))).toEqual([])
        groups.push([...sent])
        return true
      },
      onReply(id, failure) {
        const pending = proxy.requests.filter((request) => request.method === 'DELETE' && request.status === undefined).length
        replies.push({id, interrupted: Boolean(failure?.interrupted), pending})
        if (replies.length === 10) stop.abort()
      },
      signal: stop.signal,
    })
    // Eight at a time (the requests in flight), in order.
    expect(groups[0]).toEqual(ids.slice(0, 8))
    expect(groups.flat()).toEqual(ids.slice(0, groups.flat().length))
    // Every ID once; the first answers came while others were still in flight.
    expect(replies.map((reply) => reply.id).sort()).toEqual([...ids].sort())
    expect(replies[0]!.pending).toBeGreaterThan(0)
    // After the signal: those in flight finished, nothing new was sent, and the rest say so.
    const sent = deletes(proxy.requests)
    expect(sent).toBeLessThanOrEqual(10 + 8)
    const interrupted = replies.filter((reply) => reply.interrupted).map((reply) => reply.id)
    expect(interrupted).toHaveLength(20 - sent)
    for (const id of interrupted) expect(outcome.failures.get(id)).toMatchObject({interrupted: true})
    expect((await existing(ids)).size).toBe(20 - sent)
  })

  it('an engine that never answers: a timeout on every request, RuntimeUnreachableError, no more requests', async () => {
    const ids: string[] = []
    for (let i = 0; i < 10; i++) ids.push(await createRunContainer(runIds.next(), {running: false}))
    const proxy = await proxied({handle: (request) => (request.method === 'DELETE' ? 'hang' : 'forward')})
    const api = through(proxy, {requestMs: 500})
    await api.ping()
    await expect(api.remove('container', ids)).rejects.toThrow(/^Docker engine did not answer: DELETE \/v1\.41\/containers\/[0-9a-f]{64} timed out after 0\.5s$/)
    // Eight were in flight when the first timed out; the other two were never sent, and nothing was removed.
    expect(proxy.requests.filter((request) => request.method === 'DELETE')).toHaveLength(8)
    expect((await existing(ids)).size).toBe(10)

    const silent = await proxied({handle: () => 'hang'})
    await expect(through(silent, {pingMs: 300}).ping()).rejects.toThrow(RuntimeUnreachableError)
    await expect(through(silent, {pingMs: 300}).ping()).rejects.toThrow('Docker engine did not answer: GET /info timed out after 0.3s')
  })

  it('talks the API version of an older engine, learnt at ping (or at the first call without one)', async () => {
    const runId = runIds.next()
    const container = await createRunContainer(runId, {running: false})
    const older = {rewriteHeaders: (headers: object) => ({...headers, 'api-version': '1.38'})}
    const proxy = await proxied(older)
    const api = through(proxy)
    await api.ping()
    expect((await api.inspect('container', [container])).get(container)).toMatchObject({name: runId, state: 'created'})
    expect(proxy.requests.map((request) => request.path)).toEqual(['/info', `/v1.38/containers/${container}/json`])

    const first = await proxied(older)
    await through(first).list('network', {label: `moat.run-id=${runId}`})
    expect(first.requests.map((request) => request.path)).toEqual([
      '/_ping',
      `/v1.38/networks?filters=${encodeURIComponent(JSON.stringify({label: [`moat.run-id=${runId}`]}))}`,
    ])
  })

  it('reaches an engine over tcp:// as well', async () => {
    const runId = runIds.next()
    const container = await createRunContainer(runId, {running: false})
    const proxy = await proxied({tcp: true})
    expect(proxy.host).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/)
    const api = through(proxy)
    await api.ping()
    expect((await api.list('container')).map((c) => c.id)).toContain(container)
    expect((await api.remove('container', [container])).failures.size).toBe(0)
    expect((await existing([container])).size).toBe(0)
  })

  it('reaches an engine over tcp:// with TLS: DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, and refuses a certificate it cannot verify', async () => {
    const certs = mkdtempSync(join(tmpdir(), 'docker-certs-'))
    try {
      const pki = makePki(certs)
      const runId = runIds.next()
      const container = await createRunContainer(runId, {running: false})
      const proxy = await proxied({tls: pki.server})
      const env = {DOCKER_CERT_PATH: certs, DOCKER_HOST: proxy.host, DOCKER_TLS_VERIFY: '1'}
      const api = new DockerApi(resolveDockerEndpoint(env))
      await api.ping()
      expect((await api.inspect('container', [container])).get(container)).toMatchObject({name: runId})
      // Another CA in DOCKER_CERT_PATH: the engine's certificate cannot be verified, so nothing is asked.
      writeFileSync(join(certs, 'ca.pem'), pki.otherCa)
      const asked = proxy.requests.length
      const error = await new DockerApi(resolveDockerEndpoint(env)).ping().catch((error_: unknown) => error_)
      expect(error).toBeInstanceOf(RuntimeUnreachableError)
      expect((error as Error).message).toMatch(/^Docker engine unreachable: the connection to tcp:\/\/127\.0\.0\.1:\d+ failed: /)
      expect(proxy.requests.length).toBe(asked)
    } finally {
      rmSync(certs, {force: true, recursive: true})
    }
  })

  it('nothing configured and no default socket is RuntimeAbsentError; a configured socket that is not there is unreachable', async () => {
    const nowhere = 'unix:///nonexistent/moat-test/docker.sock'
    const guessed = new DockerApi(parseDockerHost(nowhere, {configured: false, source: 'default'}))
    await expect(guessed.ping()).rejects.toBeInstanceOf(RuntimeAbsentError)
    const named = new DockerApi(parseDockerHost(nowhere, {configured: true, source: 'DOCKER_HOST'}))
    const error = await named.ping().catch((error_: unknown) => error_)
    expect(error).toBeInstanceOf(RuntimeUnreachableError)
    expect(error).not.toBeInstanceOf(RuntimeAbsentError)
    expect((error as Error).message).toMatch(/^Docker engine unreachable: Cannot connect to the Docker daemon at unix:\/\/\/nonexistent/)
  })

  it('a docker context that does not exist is unreachable, named, and no process is started', async () => {
    const config = mkdtempSync(join(tmpdir(), 'docker-config-'))
    const saved = {config: process.env.DOCKER_CONFIG, host: process.env.DOCKER_HOST, path: process.env.PATH}
    try {
      delete process.env.DOCKER_HOST
      process.env.DOCKER_CONFIG = config
      process.env.DOCKER_CONTEXT = 'nope'
      // No PATH: a spawned docker CLI would fail differently.
      process.env.PATH = config
      await expect(new DockerApi().ping()).rejects.toThrow(/^Docker engine unreachable: docker context "nope": not found/)
    } finally {
      process.env.DOCKER_HOST = saved.host
      process.env.PATH = saved.path
      delete process.env.DOCKER_CONTEXT
      if (saved.config === undefined) delete process.env.DOCKER_CONFIG
      else process.env.DOCKER_CONFIG = saved.config
      rmSync(config, {force: true, recursive: true})
    }
  })

  it('mountsOfRunningContainers reads what DockerCli reads, in one request', async () => {
    const runId = runIds.next()
    const dir = mkdtempSync(join(tmpdir(), 'mnt-'))
    try {
      await createSidecar(runId, {mounts: [`${dir}:/data`], role: 'service', service: 'postgres'})
      await createRunContainer(runIds.next(), {mounts: [`${dir}:/stopped`], running: false})
      const proxy = await proxied({})
      const api = through(proxy)
      await api.ping()
      const mine = (mounts: Array<{container: string; runtime: string; source: string}>) => mounts.filter((mount) => mount.source === dir)
      const viaApi = mine(await api.mountsOfRunningContainers())
      expect(viaApi).toEqual([{container: `moat-postgres-${runId}`, runtime: 'docker', source: dir}])
      expect(viaApi).toEqual(mine(await new DockerCli().mountsOfRunningContainers()))
      expect(proxy.requests.map((request) => request.path)).toEqual(['/info', '/v1.41/containers/json'])
    } finally {
      rmSync(dir, {force: true, recursive: true})
    }
  })
})
