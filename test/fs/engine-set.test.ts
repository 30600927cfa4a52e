// Where the engine set looks (moat-resources.md §12.1), on real unix sockets in private directories: the places moat
// probes, in its order, then the docker CLI's choice, then the run dirs; a socket path found by looking counts only
// while its socket is there, one named on purpose always; two paths to one socket file are one address set. Nothing
// is asked here: the adapters are made, not pinged (the engine suites ask real engines).
import {existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {addressesOf, dockerEngines, probeRuntimes} from '../../src/lib/runtime/engines.js'
import {RuntimeAbsentError} from '../../src/lib/runtime/errors.js'
import {makeRunDir} from '../helpers/moat-fixtures.js'

let dir: string
const servers: Server[] = []

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mses-'))
})
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise((resolve) => {
          server.close(resolve)
        }),
    ),
  )
  rmSync(dir, {force: true, recursive: true})
})

/** A listening unix socket at this path (its directories made). */
async function socketAt(path: string): Promise<string> {
  mkdirSync(join(path, '..'), {recursive: true})
  const server = createServer()
  servers.push(server)
  await new Promise<void>((resolve) => {
    server.listen(path, resolve)
  })
  return path
}

/** Each adapter's addresses and sources, without the machine's own default socket (not this test's to control). */
function found(options: Parameters<typeof dockerEngines>[0]): Array<Array<[string, string]>> {
  return dockerEngines(options)
    .map((engine) => addressesOf(engine).map((entry): [string, string] => [entry.address, entry.source]))
    .filter((addresses) => !addresses.some(([, source]) => source.includes('the default socket')))
}

describe('the engine set: where it looks', () => {
  it('Linux: DOCKER_HOST, then rootless podman, then a rootless Docker in $XDG_RUNTIME_DIR; missing sockets are not engines', async () => {
    const xdg = join(dir, 'xdg')
    await socketAt(join(xdg, 'podman', 'podman.sock'))
    await socketAt(join(xdg, 'docker.sock'))
    const named = `unix://${join(dir, 'nothing-here.sock')}`
    expect(found({env: {DOCKER_HOST: named, HOME: dir, XDG_RUNTIME_DIR: xdg}, platform: 'linux'})).toEqual([
      // Named on purpose: an engine even where nothing answers (a ping will say it did not).
      [[named, 'DOCKER_HOST']],
      [[`unix://${xdg}/podman/podman.sock`, 'rootless podman']],
      [[`unix://${xdg}/docker.sock`, 'rootless Docker']],
    ])
    // Without XDG_RUNTIME_DIR (cron), /run/user/<uid>: here a uid whose runtime dir does not exist.
    expect(found({env: {HOME: dir}, platform: 'linux', uid: 2_000_000_000})).toEqual([])
  })

  it('macOS: Rancher Desktop, then every podman machine socket in $TMPDIR/podman', async () => {
    const tmp = join(dir, 'T')
    await socketAt(join(dir, '.rd', 'docker.sock'))
    await socketAt(join(tmp, 'podman', 'podman-machine-default-api.sock'))
    await socketAt(join(tmp, 'podman', 'other-api.sock'))
    await socketAt(join(tmp, 'podman', 'podman-machine-default.sock'))
    expect(found({env: {HOME: dir, TMPDIR: tmp}, platform: 'darwin', uid: 2_000_000_000})).toEqual([
      [[`unix://${dir}/.rd/docker.sock`, 'Rancher Desktop']],
      [[`unix://${tmp}/podman/other-api.sock`, 'podman machine']],
      [[`unix://${tmp}/podman/podman-machine-default-api.sock`, 'podman machine']],
    ])
  })

  it('run dirs: one adapter per socket file with every address that leads to it; a gone socket is no engine, a tcp host is one', async () => {
    const home = join(dir, 'home')
    const socket = await socketAt(join(dir, 'engine', 'docker.sock'))
    symlinkSync(socket, join(dir, 'link.sock'))
    await makeRunDir(home, 'run_000000000001', {docker_host: `unix://${socket}`}) // eslint-disable-line camelcase
    await makeRunDir(home, 'run_000000000002', {docker_host: `unix://${dir}/link.sock`}) // eslint-disable-line camelcase
    await makeRunDir(home, 'run_000000000003', {docker_host: `unix://${dir}//engine//docker.sock`}) // eslint-disable-line camelcase
    await makeRunDir(home, 'run_000000000004', {docker_host: `unix://${socket}`}) // eslint-disable-line camelcase
    await makeRunDir(home, 'run_000000000005', {docker_host: `unix://${dir}/gone.sock`}) // eslint-disable-line camelcase
    await makeRunDir(home, 'run_000000000006', {docker_host: 'tcp://10.0.0.5:2376'}) // eslint-disable-line camelcase
    expect(found({env: {DOCKER_HOST: `unix://${socket}`, HOME: dir, MOAT_SYSTEM_ENGINE_DISCOVERY: 'off'}, moatHome: home})).toEqual([
      [
        [`unix://${socket}`, 'DOCKER_HOST; docker_host of runs run_000000000001, run_000000000004'],
        [`unix://${dir}/link.sock`, 'docker_host of run run_000000000002'],
        [`unix://${dir}//engine//docker.sock`, 'docker_host of run run_000000000003'],
      ],
      [['tcp://10.0.0.5:2376', 'docker_host of run run_000000000006']],
    ])
  })

  it('looks nowhere with MOAT_SYSTEM_ENGINE_DISCOVERY=off; with nothing anywhere, one adapter that pings as absent', async () => {
    const xdg = join(dir, 'xdg')
    await socketAt(join(xdg, 'docker.sock'))
    const nothing = dockerEngines({env: {DOCKER_CONFIG: dir, HOME: dir, MOAT_SYSTEM_ENGINE_DISCOVERY: 'off', XDG_RUNTIME_DIR: xdg}, platform: 'linux'})
    // The docker CLI's own default is all that is left: the machine's socket if it has one (never asked here).
    expect(nothing.map((engine) => addressesOf(engine).map((entry) => entry.address))).toEqual([['unix:///var/run/docker.sock']])
    if (existsSync('/var/run/docker.sock')) return
    const [probed] = await probeRuntimes(nothing)
    expect(probed!.error).toBeInstanceOf(RuntimeAbsentError)
    expect(probed!.error!.message).toBe('no Docker engine configured (no DOCKER_HOST, no docker context) and no socket at unix:///var/run/docker.sock')
  })
})
