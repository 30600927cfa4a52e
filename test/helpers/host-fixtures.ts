// Real processes and mounts for the temp-dir race tests: a child that holds a path, waited for even from inside a
// synchronous hook of the deletion, and the mounts a test made, undone afterwards.
import {type ChildProcess, execFileSync, spawn} from 'node:child_process'
import {readdirSync, readlinkSync} from 'node:fs'

import {readMountTable} from '../../src/lib/host/mounts.js'

const children: ChildProcess[] = []

function links(pid: number): string[] {
  const found: string[] = []
  for (const link of ['cwd', 'exe', 'root']) {
    try {
      found.push(readlinkSync(`/proc/${pid}/${link}`))
    } catch {}
  }

  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        found.push(readlinkSync(`/proc/${pid}/fd/${fd}`))
      } catch {}
    }
  } catch {}

  return found
}

function holds(pid: number, path: string): boolean {
  return links(pid).some((link) => link === path || link.startsWith(path + '/'))
}

const pause = new Int32Array(new SharedArrayBuffer(4))

/**
 * Starts a child with its working directory at `/` and waits, blocking, until /proc shows it holding `path`
 * (through its executable or an open file): usable from a synchronous hook in the middle of a deletion.
 */
export function holdSync(args: string[], path: string): ChildProcess {
  const child = spawn(args[0]!, args.slice(1), {cwd: '/', stdio: 'ignore'})
  children.push(child)
  for (let i = 0; i < 500; i++) {
    if (child.pid && holds(child.pid, path)) return child
    Atomics.wait(pause, 0, 0, 10)
  }

  throw new Error(`child never held ${path}`)
}

/** Kills every child a test started. */
export function killChildren(): void {
  for (const child of children.splice(0)) child.kill('SIGKILL')
}

/** Unmounts everything mounted at or below these directories, deepest first. */
export function unmountBelow(...dirs: string[]): void {
  for (const dir of dirs) {
    const points = readMountTable().points.filter((point) => point === dir || point.startsWith(dir + '/'))
    for (const point of points.sort().reverse()) execFileSync('umount', ['-l', point])
  }
}
