// The published binary's two paths (bin/run.js): moat-system's own commands run from the one bundled file
// (dist/moat.js, scripts/bundle.js), everything else through oclif's normal loading with its plugins. Each run must
// stay on one path: a bundled @oclif/core meeting the plugins' own copy would be two oclifs in one process.
import {spawnSync} from 'node:child_process'
import {copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'

const REGISTER = fileURLToPath(new URL('../fixtures/trace-imports/register.mjs', import.meta.url))
const REPORT = fileURLToPath(new URL('../fixtures/code-cache/report.mjs', import.meta.url))
const ROOT = new URL('../../', import.meta.url)
const BUNDLE = new URL('dist/moat.js', ROOT).href
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

const EXPECTED = 'No moat temporary directories found.\nDry run: nothing was removed.\n'

/** `from` copied to `to`, files for which `keep` says false left out. */
function copyTree(from: string, to: string, keep: (path: string) => boolean): void {
  if (!statSync(from).isDirectory()) {
    if (keep(from)) copyFileSync(from, to)
    return
  }

  mkdirSync(to, {recursive: true})
  for (const name of readdirSync(from)) copyTree(join(from, name), join(to, name), keep)
}

describe("the bundle's code cache (dist/moat-<hash>.cjs.cache, made by the build)", () => {
  let dir: string

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'code-cache-'))
    mkdirSync(join(dir, 'T'))
    mkdirSync(join(dir, 'home'))
  })

  afterAll(() => {
    rmSync(dir, {force: true, recursive: true})
  })

  /** Runs bin/run.js of `root` (a copy of the built package, or this checkout) and says whether V8 took the cache. */
  function reported(root: string, nodeOptions = ''): {cache: string; exitCode: number; stderr: string; stdout: string} {
    const report = join(dir, `report-${Math.random()}`)
    const env: NodeJS.ProcessEnv = {...process.env, MOAT_CODE_CACHE_REPORT: report, MOAT_HOME: join(dir, 'home')}
    env.NODE_OPTIONS = `--import ${REPORT} ${nodeOptions}`
    delete env.DOCKER_HOST
    const run = spawnSync(process.execPath, [join(root, 'bin/run.js'), 'system', 'clean-temp', '--dry-run', '--runtime', 'docker', '--tmp-dir', join(dir, 'T')], {encoding: 'utf8', env, input: ''})
    return {cache: readFileSync(report, 'utf8'), exitCode: run.status ?? -1, stderr: run.stderr, stdout: run.stdout}
  }

  /** The built package as installed somewhere else: bin/run.js, package.json, the manifest and dist/. */
  function copyOfPackage(withCache: boolean): string {
    const copy = mkdtempSync(join(dir, 'package-'))
    mkdirSync(join(copy, 'bin'))
    for (const path of ['bin/run.js', 'package.json', 'oclif.manifest.json', 'dist']) {
      copyTree(fileURLToPath(new URL(path, ROOT)), join(copy, path), (source) => withCache || !source.endsWith('.cache'))
    }

    return copy
  }

  it('is used: V8 accepts it, on this checkout and on a copy of the package at another path', () => {
    expect(readdirSync(new URL('dist/', ROOT)).filter((file) => /^moat-\w+\.cjs\.cache$/.test(file))).toHaveLength(1)
    for (const root of [fileURLToPath(ROOT), copyOfPackage(true)]) {
      const run = reported(root)
      expect(run).toEqual({cache: 'accepted', exitCode: 0, stderr: '', stdout: EXPECTED})
    }
  })

  it('rejected (V8 flags other than the build\'s) or missing, the command runs the same, compiled as it goes', () => {
    // A V8 flag changes the hash V8 checks a cache against, as another Node version would.
    expect(reported(fileURLToPath(ROOT), '--max-old-space-size=1000')).toEqual({cache: 'rejected', exitCode: 0, stderr: '', stdout: EXPECTED})
    expect(reported(copyOfPackage(false))).toEqual({cache: 'missing', exitCode: 0, stderr: '', stdout: EXPECTED})
  })
})
