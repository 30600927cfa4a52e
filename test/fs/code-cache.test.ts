// The code cache's directory and files (src/lib/cli/code-cache.ts) against real directories: where it lives, and that
// it is read and written only where no one else can plant code for V8 to run. test/cli/bundle.test.ts runs the whole
// thing through bin/run.js.
import {chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {cacheDir, codeCacheName, KEEP_CACHES, readCache, usableDir, writeCache} from '../../src/lib/cli/code-cache.js'

let dir: string

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mtc-'))
})

afterEach(() => {
  rmSync(dir, {force: true, recursive: true})
})

const mode = (path: string) => statSync(path).mode.toString(8).slice(-3)

describe('cacheDir', () => {
  it('is $XDG_CACHE_HOME/moat-system, else ~/.cache/moat-system; a relative $XDG_CACHE_HOME is ignored (XDG spec)', () => {
    expect(cacheDir({HOME: '/home/a', XDG_CACHE_HOME: '/var/cache/a'})).toBe('/var/cache/a/moat-system')
    expect(cacheDir({HOME: '/home/a', XDG_CACHE_HOME: 'cache'})).toBe('/home/a/.cache/moat-system')
    expect(cacheDir({HOME: '/home/a', XDG_CACHE_HOME: ''})).toBe('/home/a/.cache/moat-system')
  })

  it('names one file per bundle, Node version, architecture and V8 flags', () => {
    expect(codeCacheName('moat-ABC')).toMatch(new RegExp(`^moat-ABC\\.node-${process.version}-${process.arch}-[\\da-f]{8}\\.v8-cache$`))
  })
})

describe('writeCache and readCache', () => {
  it('make the directory (0700, with its parents) and a 0600 file, replaced whole by the next write', () => {
    const cache = join(dir, 'a', 'b', 'moat-system')
    expect(readCache(cache, 'x.v8-cache')).toBeUndefined()
    expect(writeCache(cache, 'x.v8-cache', Buffer.from('first'))).toBe(true)
    expect([mode(join(dir, 'a')), mode(join(dir, 'a', 'b')), mode(cache), mode(join(cache, 'x.v8-cache'))]).toEqual(['700', '700', '700', '600'])
    const inode = statSync(join(cache, 'x.v8-cache')).ino
    expect(writeCache(cache, 'x.v8-cache', Buffer.from('second'))).toBe(true)
    expect(readCache(cache, 'x.v8-cache')?.toString()).toBe('second')
    // A new file renamed over the old one: no temporary file left, and a reader holding the old one keeps it whole.
    expect(statSync(join(cache, 'x.v8-cache')).ino).not.toBe(inode)
    expect(readdirSync(cache)).toEqual(['x.v8-cache'])
  })

  it(`keep the ${KEEP_CACHES} most recently written code caches: a new one removes the oldest others, nothing else`, () => {
    const cache = join(dir, 'moat-system')
    mkdirSync(cache, {mode: 0o700})
    // Ten caches of earlier builds, written an hour apart (old-0 the oldest), and what is not a code cache.
    const now = Date.now() / 1000
    for (let i = 0; i < 10; i++) {
      writeFileSync(join(cache, `old-${i}.v8-cache`), 'old')
      utimesSync(join(cache, `old-${i}.v8-cache`), now - (10 - i) * 3600, now - (10 - i) * 3600)
    }

    mkdirSync(join(cache, 'node-compile-cache'))
    writeFileSync(join(cache, 'notes.txt'), 'mine')
    writeFileSync(join(dir, 'elsewhere'), 'not in the cache dir')
    symlinkSync(join(dir, 'elsewhere'), join(cache, 'link.v8-cache'))
    utimesSync(join(cache, 'notes.txt'), now - 86_400, now - 86_400)
    expect(writeCache(cache, 'new.v8-cache', Buffer.from('new'))).toBe(true)
    const kept = Array.from({length: KEEP_CACHES - 1}, (_, i) => `old-${9 - i}.v8-cache`)
    // The symlink is no cache of ours (never read): neither counted nor followed.
    expect(readdirSync(cache).sort()).toEqual(['link.v8-cache', 'new.v8-cache', 'node-compile-cache', 'notes.txt', ...kept].sort())
    expect(readFileSync(join(dir, 'elsewhere'), 'utf8')).toBe('not in the cache dir')
  })

  it('never follow a symlink at the cache name: not read, and replaced by a file of its own (the target untouched)', () => {
    const cache = join(dir, 'moat-system')
    mkdirSync(cache, {mode: 0o700})
    writeFileSync(join(dir, 'planted'), 'code for V8 to run')
    symlinkSync(join(dir, 'planted'), join(cache, 'x.v8-cache'))
    expect(readCache(cache, 'x.v8-cache')).toBeUndefined()
    expect(writeCache(cache, 'x.v8-cache', Buffer.from('ours'))).toBe(true)
    expect(lstatSync(join(cache, 'x.v8-cache')).isFile()).toBe(true)
    expect(readFileSync(join(dir, 'planted'), 'utf8')).toBe('code for V8 to run')
  })

  it.each([
    ['a symlink to a private directory', (cache: string) => {
      mkdirSync(join(dir, 'elsewhere'), {mode: 0o700})
      symlinkSync(join(dir, 'elsewhere'), cache)
    }],
    ['writable by its group', (cache: string) => {
      mkdirSync(cache)
      chmodSync(cache, 0o770)
    }],
    ['a file', (cache: string) => writeFileSync(cache, '')],
  ])('use no directory that is %s: nothing read, nothing written', (_, make) => {
    const cache = join(dir, 'moat-system')
    make(cache)
    const before = readdirSync(dir).sort()
    expect(usableDir(cache)).toBe(false)
    expect(writeCache(cache, 'x.v8-cache', Buffer.from('ours'))).toBe(false)
    expect(readCache(cache, 'x.v8-cache')).toBeUndefined()
    expect(readdirSync(dir).sort()).toEqual(before)
    if (lstatSync(join(dir, 'elsewhere'), {throwIfNoEntry: false})) expect(readdirSync(join(dir, 'elsewhere'))).toEqual([])
  })

  it.skipIf(process.getuid?.() !== 0)('use no directory, and read no file, of another user (uid 65534) [needs root: chown]', () => {
    const theirs = join(dir, 'theirs')
    mkdirSync(theirs, {mode: 0o700})
    chownSync(theirs, 65_534, 65_534)
    expect(writeCache(theirs, 'x.v8-cache', Buffer.from('ours'))).toBe(false)
    expect(readdirSync(theirs)).toEqual([])

    const ours = join(dir, 'ours')
    expect(writeCache(ours, 'x.v8-cache', Buffer.from('ours'))).toBe(true)
    chownSync(join(ours, 'x.v8-cache'), 65_534, 65_534)
    expect(readCache(ours, 'x.v8-cache')).toBeUndefined()
  })
})
