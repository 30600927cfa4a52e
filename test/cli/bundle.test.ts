// The published binary's two paths (bin/run.js): moat-system's own commands run from the one bundled file
// (dist/moat.cjs, scripts/bundle.js), everything else through oclif's normal loading with its plugins. Each run must
// stay on one path: a bundled @oclif/core meeting the plugins' own copy would be two oclifs in one process.
import {spawnSync} from 'node:child_process'
import {chmodSync, chownSync, copyFileSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {basename, dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'

const REGISTER = fileURLToPath(new URL('../fixtures/trace-imports/register.mjs', import.meta.url))
const REPORT = fileURLToPath(new URL('../fixtures/code-cache/report.mjs', import.meta.url))
const ROOT = new URL('../../', import.meta.url)
const BUNDLE = new URL('dist/moat.cjs', ROOT).href
const CORE = new URL('node_modules/@oclif/core/', ROOT).href

describe('bin/run.js: the bundle for our commands, oclif as installed for the rest', () => {
  let dir: string

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bundle-'))
    mkdirSync(join(dir, 'T'))
  })

  afterAll(() => {
    rmSync(dir, {force: true, recursive: true})
  })

  function traced(args: string[]): {exitCode: number; loaded: string[]; stdout: string} {
    const trace = join(dir, `imports-${Math.random()}.log`)
    // A cache of its own: `autocomplete script` writes the completion scripts there.
    const result = runCli(args, {MOAT_HOME: join(dir, 'home'), MOAT_TRACE_IMPORTS: trace, NODE_OPTIONS: `--import ${REGISTER}`, XDG_CACHE_HOME: dir})
    return {exitCode: result.exitCode, loaded: readFileSync(trace, 'utf8').split('\n').filter(Boolean), stdout: result.stdout}
  }

  it("lists exactly the manifest's commands, so no command is left to the slower path", () => {
    const manifest = JSON.parse(readFileSync(new URL('oclif.manifest.json', ROOT), 'utf8'))
    const listed = JSON.parse(readFileSync(new URL('dist/moat-commands.json', ROOT), 'utf8'))
    expect(listed).toEqual(Object.keys(manifest.commands))
    expect(listed.length).toBeGreaterThan(5)
  })

  it('a command runs from the bundle: nothing under node_modules is imported, and the result is the same', () => {
    const run = traced(['system', 'clean-temp', '--dry-run', '--runtime', 'docker', '--tmp-dir', join(dir, 'T')])
    expect(run.exitCode).toBe(0)
    expect(run.stdout).toBe('No moat temporary directories found.\nDry run: nothing was removed.\n')
    expect(run.loaded).toContain(BUNDLE)
    expect(run.loaded.filter((url) => url.includes('/node_modules/'))).toEqual([])
  })

  it.each([
    [['--help'], 'USAGE'],
    [['system', 'clean-temp', '--help'], 'USAGE'],
    [['system', 'clean-temp', '-h'], 'USAGE'],
    [['help', 'system'], 'COMMANDS'],
    [['--version'], 'moat-system/'],
    [['version'], 'moat-system/'],
    [['autocomplete', 'script', 'bash'], 'moat'],
  ])('%j takes the normal path: the installed @oclif/core and plugins, never the bundle', (args, shows) => {
    const run = traced(args)
    expect(run.exitCode).toBe(0)
    expect(run.stdout).toContain(shows)
    expect(run.loaded.some((url) => url.startsWith(CORE))).toBe(true)
    expect(run.loaded.filter((url) => url === BUNDLE || url.includes('/dist/chunks/'))).toEqual([])
  })
})

const EXPECTED = {exitCode: 0, stderr: '', stdout: 'No moat temporary directories found.\nDry run: nothing was removed.\n'}

/** `from` copied to `to`. */
function copyTree(from: string, to: string): void {
  if (!statSync(from).isDirectory()) {
    copyFileSync(from, to)
    return
  }

  mkdirSync(to, {recursive: true})
  for (const name of readdirSync(from)) copyTree(join(from, name), join(to, name))
}

/** A file's text, or a directory's entries. */
function snapshot(path: string): string | string[] {
  return statSync(path).isDirectory() ? readdirSync(path) : readFileSync(path, 'utf8')
}

describe("the bundle's code cache: one per Node version, in the user's cache directory", () => {
  let dir: string

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'code-cache-'))
    mkdirSync(join(dir, 'T'))
    mkdirSync(join(dir, 'home'))
  })

  afterEach(() => {
    rmSync(dir, {force: true, recursive: true})
  })

  interface Run {
    cache: {file?: string; status: string}
    exitCode: number
    stderr: string
    stdout: string
  }

  /**
   * Runs bin/run.js of `root` (this checkout, or a copy of the built package) with XDG_CACHE_HOME=`cacheHome` under
   * this test's Node, and says what became of V8's code cache (test/fixtures/code-cache/report.mjs).
   */
  function run(cacheHome: string, {nodeArgs = [], root = fileURLToPath(ROOT)}: {nodeArgs?: string[]; root?: string} = {}): Run {
    const report = join(dir, `report-${Math.random()}`)
    const env: NodeJS.ProcessEnv = {...process.env, MOAT_CODE_CACHE_REPORT: report, MOAT_HOME: join(dir, 'home'), NODE_OPTIONS: `--import ${REPORT}`, XDG_CACHE_HOME: cacheHome}
    delete env.DOCKER_HOST
    const args = [...nodeArgs, join(root, 'bin/run.js'), 'system', 'clean-temp', '--dry-run', '--runtime', 'docker', '--tmp-dir', join(dir, 'T')]
    const result = spawnSync(process.execPath, args, {encoding: 'utf8', env, input: ''})
    return {cache: JSON.parse(readFileSync(report, 'utf8')), exitCode: result.status ?? -1, stderr: result.stderr, stdout: result.stdout}
  }

  /** The built package as installed somewhere else: bin/run.js, package.json, the manifest and dist/. */
  function copyOfPackage(): string {
    const copy = mkdtempSync(join(dir, 'package-'))
    mkdirSync(join(copy, 'bin'))
    for (const path of ['bin/run.js', 'bin/package.json', 'package.json', 'oclif.manifest.json', 'dist']) copyTree(fileURLToPath(new URL(path, ROOT)), join(copy, path))
    return copy
  }

  it(`the first run writes it (${process.version}), the next ones accept it, from this checkout or a copy of the package elsewhere`, () => {
    // The cache directory does not exist yet: the first run makes it, private.
    const cacheHome = join(dir, 'cache')
    const first = run(cacheHome)
    const file = join(cacheHome, 'moat-system', basename(first.cache.file ?? ''))
    expect(first).toEqual({cache: {file, status: 'missing'}, ...EXPECTED})
    expect(basename(file)).toMatch(new RegExp(`^moat-\\w+\\.node-${process.version}-${process.arch}-[\\da-f]{8}\\.v8-cache$`))
    expect(readdirSync(join(cacheHome, 'moat-system'))).toEqual([basename(file)])
    expect(statSync(join(cacheHome, 'moat-system')).mode.toString(8).slice(-3)).toBe('700')
    expect(statSync(file).mode.toString(8).slice(-3)).toBe('600')
    expect(statSync(file).size).toBeGreaterThan(100_000)
    expect(readdirSync(new URL('dist/', ROOT)).filter((name) => name.endsWith('.cache'))).toEqual([])

    const written = readFileSync(file)
    expect(run(cacheHome)).toEqual({cache: {file, status: 'accepted'}, ...EXPECTED})
    expect(run(cacheHome, {root: copyOfPackage()})).toEqual({cache: {file, status: 'accepted'}, ...EXPECTED})
    // An accepted cache is left as it is.
    expect(readFileSync(file).equals(written)).toBe(true)
    expect(readdirSync(join(cacheHome, 'moat-system'))).toEqual([basename(file)])
  })

  it('V8 flags of their own get a cache of their own: neither run throws the other\'s away', () => {
    const cacheHome = join(dir, 'cache')
    const plain = run(cacheHome)
    const flagged = run(cacheHome, {nodeArgs: ['--stack-size=900']})
    expect(flagged).toEqual({cache: {file: expect.any(String), status: 'missing'}, ...EXPECTED})
    expect(flagged.cache.file).not.toBe(plain.cache.file)
    expect(run(cacheHome)).toEqual({cache: {file: plain.cache.file, status: 'accepted'}, ...EXPECTED})
    expect(run(cacheHome, {nodeArgs: ['--stack-size=900']})).toEqual({cache: {file: flagged.cache.file, status: 'accepted'}, ...EXPECTED})
  })

  it.each([
    ['its V8 version hash changed (a cache of another V8)', (good: Buffer) => {
      const bad = Buffer.from(good)
      // SerializedCodeData's header: magic number, then the version hash V8 checks first, on every version.
      bad.writeUInt32LE(0xff_ff_ff_ff - bad.readUInt32LE(4), 4)
      return bad
    }],
    ['its flag hash changed', (good: Buffer) => {
      const bad = Buffer.from(good)
      bad.writeUInt32LE(0xff_ff_ff_ff - bad.readUInt32LE(12), 12)
      return bad
    }],
    ['cut short', (good: Buffer) => good.subarray(0, -1000)],
    ['not a cache at all', () => Buffer.from('not a code cache\n')],
  ])('a cache that is %s is rejected: the command runs the same, and a good cache replaces it', (_, spoil) => {
    const cacheHome = join(dir, 'cache')
    const {file} = run(cacheHome).cache
    writeFileSync(file!, spoil(readFileSync(file!)))
    expect(run(cacheHome)).toEqual({cache: {file, status: 'rejected'}, ...EXPECTED})
    expect(run(cacheHome)).toEqual({cache: {file, status: 'accepted'}, ...EXPECTED})
    expect(readdirSync(dirname(file!))).toEqual([basename(file!)])
  })

  it("a cache made by this Node under other V8 flags (a foreign one, as another Node's would be) is rejected and replaced", () => {
    const cacheHome = join(dir, 'cache')
    const {file} = run(cacheHome).cache
    const foreign = run(cacheHome, {nodeArgs: ['--stack-size=900']}).cache.file
    copyFileSync(foreign!, file!)
    expect(run(cacheHome)).toEqual({cache: {file, status: 'rejected'}, ...EXPECTED})
    expect(run(cacheHome)).toEqual({cache: {file, status: 'accepted'}, ...EXPECTED})
  })

  /** A cache dir that must not be used, made: returns what must stay untouched. */
  const unusable: Array<[string, (cacheHome: string) => string]> = [
    ['XDG_CACHE_HOME is a file', (cacheHome) => {
      writeFileSync(cacheHome, 'a file\n')
      return cacheHome
    }],
    ['the moat-system dir is a symlink (to a private dir of ours)', (cacheHome) => {
      mkdirSync(cacheHome)
      mkdirSync(join(dir, 'elsewhere'), {mode: 0o700})
      symlinkSync(join(dir, 'elsewhere'), join(cacheHome, 'moat-system'))
      return join(dir, 'elsewhere')
    }],
    ['the moat-system dir is writable by its group', (cacheHome) => {
      mkdirSync(join(cacheHome, 'moat-system'), {recursive: true})
      chmodSync(join(cacheHome, 'moat-system'), 0o770)
      return join(cacheHome, 'moat-system')
    }],
    process.getuid?.() === 0
      ? ['the moat-system dir belongs to another user (uid 65534)', (cacheHome) => {
          mkdirSync(join(cacheHome, 'moat-system'), {mode: 0o700, recursive: true})
          chownSync(join(cacheHome, 'moat-system'), 65_534, 65_534)
          return join(cacheHome, 'moat-system')
        }]
      : ['the moat-system dir is read-only', (cacheHome) => {
          mkdirSync(join(cacheHome, 'moat-system'), {mode: 0o500, recursive: true})
          return join(cacheHome, 'moat-system')
        }],
  ]

  it.each(unusable)('a cache dir that cannot be used (%s): the command runs the same, and nothing is written', (_, make) => {
    const cacheHome = join(dir, 'cache')
    const untouched = make(cacheHome)
    const before = snapshot(untouched)
    for (let i = 0; i < 2; i++) expect(run(cacheHome)).toEqual({cache: {file: expect.any(String), status: 'missing'}, ...EXPECTED})
    expect(snapshot(untouched)).toEqual(before)
  })

  it('a cache planted where a symlink leads is not read, and the link is replaced, not followed', () => {
    const cacheHome = join(dir, 'cache')
    const {file} = run(cacheHome).cache
    const planted = join(dir, 'planted')
    renameSync(file!, planted)
    symlinkSync(planted, file!)
    const good = readFileSync(planted)
    expect(run(cacheHome)).toEqual({cache: {file, status: 'missing'}, ...EXPECTED})
    expect(lstatSync(file!).isFile()).toBe(true)
    expect(readFileSync(planted).equals(good)).toBe(true)
  })
})
