// The checked reads and exclusive creations (src/lib/host/checked-fs.ts) against real files, links and modes: a fact
// is absent only when the system says so, and nothing this tool creates is reached through a name it did not make.
// (A FIFO is tested through the built CLI with a timeout, test/cli/host-state.test.ts: a read that blocked here would
// hang this worker.)
import {chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {
  createFile,
  entryStat,
  listDirectory,
  openAppendFile,
  ownDirectory,
  publishFile,
  readStateFile,
  temporaryName,
  Unreadable,
} from '../../src/lib/host/checked-fs.js'
import {checkMoatHome} from '../../src/lib/moat/home.js'
import {makeTmpRoot, removeTmpRoot} from '../helpers/temp-fixtures.js'

let dir: string
beforeEach(() => {
  dir = makeTmpRoot()
})
afterEach(() => {
  removeTmpRoot(dir)
})

function victim(): string {
  const path = join(dir, 'victim')
  writeFileSync(path, 'precious\n')
  return path
}

describe('checked reads', () => {
  it('absent means ENOENT or ENOTDIR only; a symlink or a directory where a state file should be is unreadable', () => {
    writeFileSync(join(dir, 'file'), '{}')
    expect(readStateFile(join(dir, 'none.json'), 'daemon.lock')).toBeUndefined()
    expect(readStateFile(join(dir, 'file', 'below.json'), 'daemon.lock')).toBeUndefined()
    expect(entryStat(join(dir, 'file', 'below'))).toBeUndefined()
    expect(listDirectory(join(dir, 'none'))).toBeUndefined()
    expect(readStateFile(join(dir, 'file'), 'daemon.lock')).toBe('{}')

    symlinkSync(victim(), join(dir, 'link.json'))
    mkdirSync(join(dir, 'a-dir.json'))
    expect(() => readStateFile(join(dir, 'link.json'), 'daemon.lock')).toThrow(`${join(dir, 'link.json')} is a symlink (ELOOP): never followed`)
    expect(() => readStateFile(join(dir, 'a-dir.json'), 'daemon.lock')).toThrow(`${join(dir, 'a-dir.json')} is not a regular file (a directory)`)
    expect(() => readStateFile(join(dir, 'a-dir.json'), 'daemon.lock')).toThrow(Unreadable)
  })

  it('a state file over its cap is unreadable, at one byte over', () => {
    writeFileSync(join(dir, 'daemon.lock'), 'x'.repeat(64 * 1024))
    expect(readStateFile(join(dir, 'daemon.lock'), 'daemon.lock')).toHaveLength(64 * 1024)
    writeFileSync(join(dir, 'daemon.lock'), 'x'.repeat(64 * 1024 + 1))
    expect(() => readStateFile(join(dir, 'daemon.lock'), 'daemon.lock')).toThrow(/is larger than a daemon\.lock can be \(65537 bytes, at most 65536\)/)
  })
})

describe('exclusive creation', () => {
  it('never opens through a symlink or a file someone else put at the name, dangling links included', () => {
    const target = victim()
    symlinkSync(target, join(dir, 'planted'))
    symlinkSync(join(dir, 'would-be-created'), join(dir, 'dangling'))
    writeFileSync(join(dir, 'foreign'), 'theirs')
    expect(() => createFile(join(dir, 'planted'), 0o600)).toThrow(`${join(dir, 'planted')} already exists (a symlink this tool did not make): never followed or replaced`)
    expect(() => createFile(join(dir, 'dangling'), 0o600)).toThrow(/already exists \(a symlink/)
    expect(() => createFile(join(dir, 'foreign'), 0o600)).toThrow(/already exists \(a file/)
    expect(readFileSync(target, 'utf8')).toBe('precious\n')
    expect(existsSync(join(dir, 'would-be-created'))).toBe(false)
    expect(readFileSync(join(dir, 'foreign'), 'utf8')).toBe('theirs')
  })

  it('publishes under a final name only when nothing is there, and never replaces what is', () => {
    const temp = temporaryName(join(dir, 'backup.tar.gz'), 'partial')
    expect(temp).toMatch(new RegExp(`^${dir}/\\.backup\\.tar\\.gz\\.[0-9a-f]{16}\\.partial$`))
    expect(temporaryName(join(dir, 'backup.tar.gz'))).not.toBe(temporaryName(join(dir, 'backup.tar.gz')))
    writeFileSync(temp, 'archive')
    const target = victim()
    symlinkSync(target, join(dir, 'taken.tar.gz'))
    expect(() => publishFile(temp, join(dir, 'taken.tar.gz'))).toThrow(/taken\.tar\.gz already exists \(a symlink this tool did not make\)/)
    expect(readFileSync(target, 'utf8')).toBe('precious\n')
    expect(readFileSync(temp, 'utf8')).toBe('archive')
    publishFile(temp, join(dir, 'backup.tar.gz'))
    expect(readFileSync(join(dir, 'backup.tar.gz'), 'utf8')).toBe('archive')
    expect(existsSync(temp)).toBe(false)
  })

  it('a log file is appended to or created by this open alone; a symlink at its name, even a dangling one, is refused', () => {
    const fd = openAppendFile(join(dir, 'reap.log'))
    expect(fd).toBeGreaterThan(2)
    // eslint-disable-next-line no-bitwise -- permission bits
    expect(statSync(join(dir, 'reap.log')).mode & 0o777).toBe(0o600)
    symlinkSync(victim(), join(dir, 'linked.log'))
    symlinkSync(join(dir, 'created-through-link'), join(dir, 'dangling.log'))
    expect(() => openAppendFile(join(dir, 'linked.log'))).toThrow(expect.objectContaining({code: 'ELOOP'}))
    expect(() => openAppendFile(join(dir, 'dangling.log'))).toThrow(expect.objectContaining({code: 'ELOOP'}))
    expect(existsSync(join(dir, 'created-through-link'))).toBe(false)
  })

  it('a private directory of ours is made, or accepted only when it is one: never a symlink or one others can write', () => {
    ownDirectory(join(dir, 'mine'))
    // eslint-disable-next-line no-bitwise -- permission bits
    expect(lstatSync(join(dir, 'mine')).mode & 0o777).toBe(0o700)
    ownDirectory(join(dir, 'mine'))
    const outside = makeTmpRoot()
    try {
      symlinkSync(outside, join(dir, 'linked'))
      expect(() => ownDirectory(join(dir, 'linked'))).toThrow(`${join(dir, 'linked')} is a symlink: never followed`)
      mkdirSync(join(dir, 'open'))
      chmodSync(join(dir, 'open'), 0o777)
      expect(() => ownDirectory(join(dir, 'open'))).toThrow(`${join(dir, 'open')} is writable by others`)
    } finally {
      removeTmpRoot(outside)
    }
  })
})

describe('checkMoatHome', () => {
  it('a symlinked home (a dotfiles setup) that leads to a directory is a home', () => {
    mkdirSync(join(dir, 'real-home'))
    symlinkSync(join(dir, 'real-home'), join(dir, 'home'))
    expect(checkMoatHome(join(dir, 'home'))).toEqual({exists: true, lockParent: join(dir, 'home')})
    symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling-home'))
    expect(() => checkMoatHome(join(dir, 'dangling-home'))).toThrow(/is not a directory/)
  })
})
