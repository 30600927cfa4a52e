// A proxy in front of the real test engine, for what a healthy engine never does on cue: die in the middle of a
// batch, stop answering, speak an older API version, take its time, answer 500 after doing the work, send a reply of
// hundreds of MB (streamed, never held in memory). Every request is recorded; `handle` decides each one.
import {mkdtempSync, rmSync} from 'node:fs'
import {createServer, type IncomingHttpHeaders, type IncomingMessage, request, type ServerResponse} from 'node:http'
import {createServer as createHttpsServer} from 'node:https'
import {type AddressInfo, type Socket} from 'node:net'
import {join} from 'node:path'

import {requireEngine} from './engine.js'

/** forward: to the engine; hang: never answer; drop: close the connection without an answer. */
export type ProxyAction = 'drop' | 'forward' | 'hang' | ProxyPlan

/** A forwarded request with a twist. */
export interface ProxyPlan {
  /** Wait this long before forwarding (a slow engine). */
  delayMs?: number
  /**
   * What the client gets once the engine has answered, instead of its answer: `withhold` never answers (the engine did
   * the work); a status with a body, or with `bytes` of filler streamed as the client reads it.
   */
  instead?: 'withhold' | {body?: string; bytes?: number; status: number}
}

export interface ProxiedRequest {
  method: string
  path: string
  /** The engine's status, once it answered (also when the proxy kept the answer from the client). */
  status?: number
}

export interface EngineProxyOptions {
  handle?: (request: ProxiedRequest, seen: readonly ProxiedRequest[]) => ProxyAction
  /** Changes the engine's response headers on the way back. */
  rewriteHeaders?: (headers: IncomingHttpHeaders) => IncomingHttpHeaders
  /** Listen on 127.0.0.1 (tcp://) instead of a unix socket. */
  tcp?: boolean
  /** Listen on 127.0.0.1 with TLS (implies tcp), asking for a client certificate signed by `ca`. */
  tls?: {ca: Buffer; cert: Buffer; key: Buffer}
}

export interface EngineProxy {
  close(): Promise<void>
  /** Cuts every connection open now (a restart of the engine, seen from the client); new ones are still served. */
  dropConnections(): void
  /** DOCKER_HOST for it: unix://… or tcp://127.0.0.1:<port>. */
  readonly host: string
  readonly requests: readonly ProxiedRequest[]
}

export async function engineProxy(options: EngineProxyOptions = {}): Promise<EngineProxy> {
  const engineSocket = requireEngine().replace(/^unix:\/\//, '')
  const dir = mkdtempSync('/tmp/mtp-')
  const requests: ProxiedRequest[] = []
  const sockets = new Set<Socket>()
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const seen: ProxiedRequest = {method: req.method ?? 'GET', path: req.url ?? '/'}
    requests.push(seen)
    const action = options.handle?.(seen, requests) ?? 'forward'
    if (action === 'hang') return
    if (action === 'drop') {
      req.socket.destroy()
      return
    }

    const plan = typeof action === 'object' ? action : {}
    const forward = () => {
      const upstream = request({headers: req.headers, method: req.method, path: req.url, socketPath: engineSocket}, (reply) => {
        seen.status = reply.statusCode
        if (plan.instead === undefined) {
          res.writeHead(reply.statusCode ?? 502, options.rewriteHeaders ? options.rewriteHeaders(reply.headers) : reply.headers)
          reply.pipe(res)
          return
        }

        reply.resume()
        if (plan.instead === 'withhold') return
        const {body, bytes, status} = plan.instead
        res.writeHead(status, {'content-type': 'application/json'})
        if (bytes === undefined) res.end(body ?? '')
        else streamFiller(res, bytes)
      })
      upstream.on('error', () => req.socket.destroy())
      // What the engine received it acts on, whether or not the client is still there to hear the answer.
      upstream.end(Buffer.concat(body))
    }

    const body: Buffer[] = []
    req.on('data', (chunk: Buffer) => body.push(chunk))
    req.on('end', () => (plan.delayMs ? setTimeout(forward, plan.delayMs) : forward()))
  }

  const server = options.tls
    ? createHttpsServer({...options.tls, rejectUnauthorized: true, requestCert: true}, handler)
    : createServer(handler)
  // The raw connection, for TLS too: one whose handshake failed never becomes a secure one, and must go as well.
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  const socketPath = join(dir, 'p.sock')
  await new Promise<void>((resolve) => {
    if (options.tcp || options.tls) server.listen(0, '127.0.0.1', resolve)
    else server.listen(socketPath, resolve)
  })
  const host = options.tcp || options.tls ? `tcp://127.0.0.1:${(server.address() as AddressInfo).port}` : `unix://${socketPath}`
  return {
    async close() {
      rmSync(dir, {force: true, recursive: true})
      if (!server.listening) return
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
      })
    },
    dropConnections() {
      for (const socket of sockets) socket.destroy()
    },
    host,
    requests,
  }
}

/** `bytes` of filler, written only as fast as the client reads it: the proxy never holds more than a chunk. */
function streamFiller(res: ServerResponse, bytes: number): void {
  const chunk = Buffer.alloc(64 * 1024, 'x')
  let left = bytes
  const pump = () => {
    while (left > 0 && !res.destroyed) {
      const piece = left >= chunk.length ? chunk : chunk.subarray(0, left)
      left -= piece.length
      if (!res.write(piece)) {
        res.once('drain', pump)
        return
      }
    }

    if (!res.destroyed) res.end()
  }

  pump()
}
