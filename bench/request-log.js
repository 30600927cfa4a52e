// A counting proxy in front of the private engine's socket, run as its own process (the bench times moat with
// spawnSync, which blocks its own event loop): `node bench/request-log.js <listen.sock> <engine.sock> <log>`.
// Each request moat's Engine API adapter makes is forwarded and logged when it ends, as
// `R <startMs> <endMs> <status> <method> <path>` (wall-clock ms); prints `ready` once it listens.
import {appendFileSync, rmSync} from 'node:fs'
import {createServer, request} from 'node:http'

const [listen, engine, log] = process.argv.slice(2)
const now = () => performance.timeOrigin + performance.now()

const server = createServer((req, res) => {
  const startMs = now()
  const upstream = request({headers: req.headers, method: req.method, path: req.url, socketPath: engine}, (reply) => {
    res.writeHead(reply.statusCode ?? 502, reply.headers)
    reply.pipe(res)
    reply.on('end', () => {
      appendFileSync(log, `R ${startMs.toFixed(3)} ${now().toFixed(3)} ${reply.statusCode} ${req.method} ${req.url}\n`)
    })
  })
  upstream.on('error', () => req.socket.destroy())
  req.pipe(upstream)
})

rmSync(listen, {force: true})
server.listen(listen, () => process.stdout.write('ready\n'))
process.on('SIGTERM', () => {
  server.close()
  server.closeAllConnections()
  rmSync(listen, {force: true})
})
