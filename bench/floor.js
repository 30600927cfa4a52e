// The floor for an engine target of `npm run bench`: `node bench/floor.js containers|clean`, with DOCKER_HOST a unix
// socket. A bare node:http script that makes the same Engine API calls, in the same order and with the same number
// in flight, as `moat system clean-containers --force` (or `clean --force --skip temp`) does, and nothing else: no
// oclif, no run registry, no lock, no checks of what the engine answers. Timed as a whole process beside moat and
// the prunes, it shows what any Node CLI that re-verifies each object right before removing it (DESIGN.md step 4)
// costs on this engine; moat's own work is the gap between it and moat. Prints the names it removed, as JSON.
import {Agent, request} from 'node:http'

/** As the adapter (src/lib/runtime/docker-api.ts): requests in flight for inspects and removals. */
const IN_FLIGHT = 8
const RUN_CONTAINER = /^(?:moat-buildkit-)?run_[0-9a-f]{12}$/
const RUN_NETWORK = /^moat-run_[0-9a-f]{12}$/

const socketPath = (process.env.DOCKER_HOST ?? '').replace(/^unix:\/\//, '')
const agent = new Agent({keepAlive: true})

function call(method, path) {
  return new Promise((resolve, reject) => {
    const req = request({agent, method, path, socketPath}, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk) => {
        body += chunk
      })
      res.on('end', () => resolve({body, headers: res.headers, status: res.statusCode}))
    })
    req.on('error', reject)
    req.end()
  })
}

async function pool(items, fn) {
  let next = 0
  await Promise.all(
    Array.from({length: Math.min(IN_FLIGHT, items.length)}, async () => {
      while (next < items.length) await fn(items[next++])
    }),
  )
}

const json = async (path) => JSON.parse((await call('GET', path)).body)
const inspectAll = (base, ids, suffix = '') => pool(ids, (id) => call('GET', `${base}/${id}${suffix}`))

async function containers(version, withSidecars) {
  const listed = await json(`${version}/containers/json?all=1`)
  // The scan: every container inspected (moat's list does so for FinishedAt, mounts and networks).
  await inspectAll(`${version}/containers`, listed.map((c) => c.Id), '/json')
  const wanted = listed.filter((c) => c.State !== 'running' && RUN_CONTAINER.test(c.Names[0].slice(1)))
  return withSidecars ? wanted : wanted.filter((c) => !c.Names[0].startsWith('/moat-buildkit-'))
}

async function removeContainers(version, wanted) {
  // The re-verify: one inspect of each, then the removals.
  await inspectAll(`${version}/containers`, wanted.map((c) => c.Id), '/json')
  await pool(wanted, (c) => call('DELETE', `${version}/containers/${c.Id}`))
}

const what = process.argv[2]
// As moat's ping: an unversioned /info, whose reply names the engine's API version (1.41 at most, as moat).
const engineVersion = (await call('GET', '/info')).headers['api-version'] ?? '1.41'
const version = `/v${Number(engineVersion.split('.')[1]) < 41 ? engineVersion : '1.41'}`
const removed = []
if (what === 'containers') {
  const wanted = await containers(version, false)
  await removeContainers(version, wanted)
  removed.push(...wanted.map((c) => c.Names[0].slice(1)))
} else if (what === 'clean') {
  const wanted = await containers(version, true)
  const networks = (await json(`${version}/networks?filters=${encodeURIComponent(JSON.stringify({label: ['moat.managed=true']}))}`)).filter((n) => RUN_NETWORK.test(n.Name))
  await inspectAll(`${version}/networks`, networks.map((n) => n.Id))
  // Containers first (run containers, then sidecars, as two targets), then the networks they freed.
  const running = new Set((await json(`${version}/containers/json`)).flatMap((c) => Object.values(c.NetworkSettings.Networks ?? {}).map((n) => n.NetworkID)))
  for (const sidecars of [false, true]) await removeContainers(version, wanted.filter((c) => c.Names[0].startsWith('/moat-buildkit-') === sidecars))
  const free = networks.filter((n) => !running.has(n.Id))
  await Promise.all([inspectAll(`${version}/networks`, free.map((n) => n.Id)), json(`${version}/containers/json?all=1`)])
  await pool(free, (n) => call('DELETE', `${version}/networks/${n.Id}`))
  removed.push(...wanted.map((c) => c.Names[0].slice(1)), ...free.map((n) => n.Name))
} else {
  throw new Error('usage: DOCKER_HOST=unix:///path/docker.sock node bench/floor.js containers|clean')
}

process.stdout.write(JSON.stringify({removed}) + '\n')
agent.destroy()
