import {spawn} from 'node:child_process'
import {once} from 'node:events'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync} from 'node:fs'
import {hostname, tmpdir} from 'node:os'
import {join} from 'node:path'
import {Worker} from 'node:worker_threads'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {acquireLock, LOCK_NAME, tryLock} from '../../src/lib/pipeline/lock.js'

let home: string

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'mth-lock-'))
})

afterEach(() => {
  rmSync(home, {force: true, recursive: true})
})

function plantOwner(pid: number, extra: Record<string, unknown> = {}): void {
  mkdirSync(join(home, LOCK_NAME))
  writeFileSync(
    join(home, LOCK_NAME, 'owner.json'),
    JSON.stringify({command: 'system:clean', host: hostname(), pid, startedAt: '2026-01-01T00:00:00.000Z', ...extra}),
  )
}

async function deadPid(): Promise<number> {
  const child = spawn('true')
  await new Promise((resolve) => {
    child.on('exit', resolve)
  })
  return child.pid!
}

describe('the clean lock', () => {
  it('is held by one at a time and names its holder', () => {
    const first = tryLock(home, 'system:clean')
    expect(first.ok).toBe(true)
    const second = tryLock(home, 'system:clean-temp')
    expect(second).toMatchObject({ok: false, owner: {command: 'system:clean', pid: process.pid}})
    if (first.ok) first.held.release()
    expect(existsSync(join(home, LOCK_NAME))).toBe(false)
    expect(tryLock(home, 'system:clean').ok).toBe(true)
  })

  it('is taken over when its holder crashed', async () => {
    plantOwner(await deadPid())
    const attempt = tryLock(home, 'system:clean')
    expect(attempt.ok).toBe(true)
  })

  it('is taken over when its PID now belongs to another process', () => {
    plantOwner(process.pid, {processStart: '1'})
    expect(tryLock(home, 'system:clean').ok).toBe(true)
  })

  it('is respected while its holder lives, and waited for up to the timeout', async () => {
    plantOwner(process.pid)
    const started = Date.now()
    const attempt = await acquireLock(home, 'system:clean', 300)
    expect(attempt.ok).toBe(false)
    expect(Date.now() - started).toBeGreaterThanOrEqual(290)
    setTimeout(() => rmSync(join(home, LOCK_NAME), {force: true, recursive: true}), 100)
    expect((await acquireLock(home, 'system:clean', 5000)).ok).toBe(true)
  })

  it('is never taken over when its owner file cannot be read (a symlink, never followed), however old', async () => {
    mkdirSync(join(home, LOCK_NAME))
    const elsewhere = join(home, 'dead-owner.json')
    writeFileSync(elsewhere, JSON.stringify({command: 'system:clean', host: hostname(), pid: await deadPid(), startedAt: '2026-01-01T00:00:00.000Z'}))
    symlinkSync(elsewhere, join(home, LOCK_NAME, 'owner.json'))
    utimesSync(join(home, LOCK_NAME), new Date(0), new Date(0))
    expect(tryLock(home, 'system:clean')).toEqual({ok: false})
    expect(readdirSync(home).sort()).toEqual([LOCK_NAME, 'dead-owner.json'].sort())
  })

  it('refuses a lock name that is a symlink, with one clear line', () => {
    symlinkSync(home, join(home, LOCK_NAME))
    expect(() => tryLock(home, 'system:clean')).toThrow(`the clean lock ${join(home, LOCK_NAME)} is not a directory this tool made (a symlink): remove it and run again`)
  })

  it('without an owner file is left alone while fresh (its creator is writing it)', () => {
    mkdirSync(join(home, LOCK_NAME))
    expect(tryLock(home, 'system:clean').ok).toBe(false)
  })

  it('found between its mkdir and its owner file: the owner written a moment later is reported', async () => {
    mkdirSync(join(home, LOCK_NAME))
    const owner = JSON.stringify({command: 'system:reap', host: hostname(), pid: process.pid, startedAt: new Date().toISOString()})
    // The creator's second step, 20 ms after the lock is first looked at: a thread of this process (the look blocks
    // this one), already running and waiting, so that no process start (slow on a loaded machine) comes in between.
    const go = new Int32Array(new SharedArrayBuffer(4))
    const writer = new Worker(
      `const {workerData: {file, go, owner}, parentPort} = require('node:worker_threads')
      parentPort.postMessage('ready')
      Atomics.wait(go, 0, 0)
      Atomics.wait(go, 0, 1, 20)
      require('node:fs').writeFileSync(file, owner)`,
      {eval: true, workerData: {file: join(home, LOCK_NAME, 'owner.json'), go, owner}},
    )
    await once(writer, 'message')
    Atomics.store(go, 0, 1)
    Atomics.notify(go, 0)
    expect(tryLock(home, 'system:clean')).toMatchObject({ok: false, owner: {command: 'system:reap', pid: process.pid}})
    expect(await once(writer, 'exit')).toEqual([0])
  })
})
