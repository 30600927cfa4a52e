// A unix-socket proxy in front of the test engine's socket that plays an engine dying mid-removal, for real: the
// docker CLI talks to it through DOCKER_HOST=unix://<proxy>, every request reaches the real engine, until the
// chosen container DELETE. From then on no request is forwarded; once the engine has answered every DELETE it did
// receive, every connection is cut and the socket closed (the engine is gone). What the engine removed is known
// exactly: what the engine reports after the proxy is gone.
import {mkdtempSync, rmSync} from 'node:fs'
import {connect, createServer, type Server, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

export interface EngineProxy {
  close(): Promise<void>
  /** True once the engine is "gone". */
  readonly dead: boolean
  /** Deadly requests (container DELETEs by default) the engine received (and answered, once cut). */
  readonly deletes: number
  /** Use as DOCKER_HOST. */
  readonly dockerHost: string
}

/** Container removals (`docker rm`): the default request the engine dies at. */
export const CONTAINER_DELETE = /^DELETE \/(?:v[\d.]+\/)?containers\//gm
/** Container listings (`docker ps`): to make the engine die mid-scan, right after the runtime answered its ping. */
export const CONTAINER_LIST = /^GET \/(?:v[\d.]+\/)?containers\/json/gm
const STATUS_LINE = /^HTTP\/1\.1 \d{3} /gm

function count(pattern: RegExp, text: string): number {
  return text.match(pattern)?.length ?? 0
}

/**
 * Proxies `upstream` (unix:///path) and dies after `deletesBeforeDeath` requests matching `deadly` (a global,
 * multiline pattern of request lines; container DELETEs by default) have been answered.
 */
export async function startEngineProxy(
  upstream: string,
  deletesBeforeDeath: number,
  deadly: RegExp = CONTAINER_DELETE,
): Promise<EngineProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'mtp-'))
  const path = join(dir, 'proxy.sock')
  const target = upstream.replace(/^unix:\/\//, '')
  const sockets = new Set<Socket>()
  let deletes = 0
  let answered = 0
  let cutting = false
  let dead = false

  const die = () => {
    if (dead) return
    dead = true
    for (const socket of sockets) socket.destroy()
    server.close()
  }

  const server: Server = createServer((client) => {
    if (dead) {
      client.destroy()
      return
    }

    const engine = connect(target)
    sockets.add(client)
    sockets.add(engine)
    // Request and status lines may be split over chunks: each count looks at what it has not counted yet plus a tail.
    let sent = ''
    let received = ''
    /** DELETEs forwarded on this connection and not yet answered (Go's client sends one request at a time). */
    let awaiting = 0
    client.on('data', (chunk: Buffer) => {
      if (cutting || dead) return
      const text = sent + chunk.toString('latin1')
      const seen = count(deadly, text) - count(deadly, sent)
      if (deletes + seen > deletesBeforeDeath) {
        // This DELETE (and anything after it) never reaches the engine.
        cutting = true
        if (answered >= deletes) die()
        return
      }

      deletes += seen
      awaiting += seen
      sent = text.slice(-64)
      engine.write(chunk)
    })
    engine.on('data', (chunk: Buffer) => {
      if (dead) return
      const text = received + chunk.toString('latin1')
      const answers = Math.min(awaiting, count(STATUS_LINE, text) - count(STATUS_LINE, received))
      awaiting -= answers
      answered += answers
      received = text.slice(-64)
      client.write(chunk)
      if (cutting && answered >= deletes) setImmediate(die)
    })
    for (const socket of [client, engine]) {
      socket.on('error', () => {})
      socket.on('close', () => {
        sockets.delete(socket)
        if (socket === client) engine.destroy()
        else client.destroy()
      })
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, resolve)
  })

  return {
    async close() {
      die()
      rmSync(dir, {force: true, recursive: true})
    },
    get dead() {
      return dead
    },
    get deletes() {
      return deletes
    },
    dockerHost: `unix://${path}`,
  }
}
