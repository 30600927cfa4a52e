// TarCounter against archives made by the system's tar from real directories.
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable, Writable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {TarCounter} from '../../src/lib/host/tar-count.js'

async function count(data: Buffer, chunk = 700) {
  const counter = new TarCounter()
  const chunks: Buffer[] = []
  for (let i = 0; i < data.length; i += chunk) chunks.push(data.subarray(i, i + chunk))
  let passed = 0
  await pipeline(Readable.from(chunks), counter, new Writable({write(piece: Buffer, _encoding, next) {
    passed += piece.length
    next()
  }}))
  return {...counter.count, passed}
}

describe('TarCounter', () => {
  let dir: string

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mst-tar-'))
  })

  afterEach(() => rmSync(dir, {force: true, recursive: true}))

  function tar(...args: string[]): Buffer {
    const result = spawnSync('tar', ['-C', dir, '-c', ...args, 'tree'], {maxBuffer: 64 * 1024 * 1024})
    if (result.status !== 0) throw new Error(String(result.stderr))
    return result.stdout
  }

  it('counts entries and file bytes of a real archive, long names (pax and GNU) included, and passes it through unchanged', async () => {
    const tree = join(dir, 'tree')
    const deep = join(tree, 'a'.repeat(120), 'b'.repeat(120))
    mkdirSync(deep, {recursive: true})
    writeFileSync(join(deep, 'c'.repeat(100)), 'x'.repeat(5000))
    writeFileSync(join(tree, 'small'), 'hi')
    symlinkSync('small', join(tree, 'link'))
    for (const format of ['--format=pax', '--format=gnu']) {
      const archive = tar(format)
      // tree, a..., b..., c..., small, link
      expect(await count(archive), format).toMatchObject({bytes: 5002, complete: true, entries: 6, passed: archive.length})
      expect((await count(archive)).error).toBeUndefined()
    }
  })

  it('says an archive cut short, or one with a damaged header, is not readable', async () => {
    mkdirSync(join(dir, 'tree'))
    writeFileSync(join(dir, 'tree', 'file'), readFileSync('/bin/sh'))
    const archive = tar('--format=gnu')
    expect((await count(archive.subarray(0, 2048))).complete).toBe(false)
    const counter = new TarCounter()
    await pipeline(Readable.from([archive.subarray(0, 2048)]), counter, new Writable({write: (_c, _e, next) => next()}))
    expect(counter.count.error).toBe('the archive ends before its end-of-archive blocks')
    const damaged = Buffer.from(archive)
    damaged[600] = (damaged[600]! + 1) % 256
    expect((await count(damaged)).error).toBe('header 2 has a bad checksum')
  })
})
