// A proxy in front of the real test engine, for what a healthy engine never does on cue: die in the middle of a
// batch, stop answering, speak an older API version. Every request is recorded; `handle` decides each one.
import {mkdtempSync, rmSync} from 'node:fs'
import {createServer, type IncomingHttpHeaders, type IncomingMessage, request, type ServerResponse} from 'node:http'
import {createServer as createHttpsServer} from 'node:https'
import {type AddressInfo, type Socket} from 'node:net'
import {join} from 'node:path'

import {requireEngine} from './engine.js'

/** forward: to the engine; hang: never answer; drop: close the connection without an answer. */
export type ProxyAction = 'drop' | 'forward' | 'hang'

export interface ProxiedRequest {
  method: string
  path: string
  /** The engine's status, once it answered through the proxy. */
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

    const upstream = request({headers: req.headers, method: req.method, path: req.url, socketPath: engineSocket}, (reply) => {
      seen.status = reply.statusCode
      res.writeHead(reply.statusCode ?? 502, options.rewriteHeaders ? options.rewriteHeaders(reply.headers) : reply.headers)
      reply.pipe(res)
    })
    upstream.on('error', () => req.socket.destroy())
    req.pipe(upstream)
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
    host,
    requests,
  }
}
