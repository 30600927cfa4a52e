// A private podman API service (`podman system service`) for the suites that check what moat-system says of a podman
// engine (moat-resources.md §12.1: moat uses podman through its Docker-compatible socket). Everything it keeps goes
// to its own directory (storage driver vfs, so no overlay mount outlives it); apt-get installs podman when missing,
// as engine.sh does for docker.io. Root only: the suite is skipped visibly otherwise.
import {spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {request} from 'node:http'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll} from 'vitest'

import {isRoot} from './root.js'

const START_TIMEOUT_MS = 30_000

function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({path: '/_ping', socketPath, timeout: 2000}, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.on('error', () => resolve(false))
    req.on('timeout', () => req.destroy())
    req.end()
  })
}

function ensurePodman(): void {
  if (spawnSync('podman', ['--version']).status === 0) return
  const install = ['install', '-y', '-qq', 'podman']
  const env = {...process.env, DEBIAN_FRONTEND: 'noninteractive'}
  if (spawnSync('apt-get', install, {env, stdio: 'ignore'}).status !== 0) {
    spawnSync('apt-get', ['update', '-qq'], {env, stdio: 'ignore'})
    spawnSync('apt-get', install, {env, stdio: 'ignore'})
  }

  if (spawnSync('podman', ['--version']).status !== 0) throw new Error('no podman, and apt-get install podman did not provide it')
}

export interface Podman {
  /** `unix://…` of its API socket. */
  readonly host: string
}

/** A podman service for this suite (call inside a root-only describe): started before its first test, stopped after the last. */
export function usePodman(): Podman {
  let dir: string | undefined
  let pid: number | undefined
  beforeAll(async () => {
    if (!isRoot) return
    ensurePodman()
    dir = mkdtempSync('/tmp/mpo-')
    const state = (name: string) => join(dir!, name)
    const args = ['--root', state('root'), '--runroot', state('run'), '--tmpdir', state('tmp'), '--network-config-dir', state('net')]
    args.push('--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file')
    const child = spawn('podman', [...args, 'system', 'service', '--time', '0', `unix://${state('podman.sock')}`], {detached: true, stdio: 'ignore'})
    child.unref()
    pid = child.pid
    const started = Date.now()
    while (!(await answers(state('podman.sock')))) {
      if (Date.now() - started > START_TIMEOUT_MS) throw new Error(`podman system service did not answer on ${state('podman.sock')} within ${START_TIMEOUT_MS / 1000}s`)
      await sleep(200)
    }
  })
  afterAll(async () => {
    if (pid) {
      // Its own process group (detached): the service and whatever it started, and nothing else.
      try {
        process.kill(-pid, 'SIGTERM')
      } catch {}

      await sleep(500)
      try {
        process.kill(-pid, 'SIGKILL')
      } catch {}
    }

    if (!dir) return
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[4] ?? '')
      .filter((point) => point.startsWith(`${dir}/`))
      .sort()
      .reverse()
    for (const point of mounts) spawnSync('umount', ['-l', point])
    rmSync(dir, {force: true, recursive: true})
  })
  return {
    get host() {
      return dir ? `unix://${join(dir, 'podman.sock')}` : ''
    },
  }
}
