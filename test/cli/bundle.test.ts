// The published binary's two paths (bin/run.js): moat-system's own commands run from the one bundled file
// (dist/moat.js, scripts/bundle.js), everything else through oclif's normal loading with its plugins. Each run must
// stay on one path: a bundled @oclif/core meeting the plugins' own copy would be two oclifs in one process.
import {mkdirSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'

const REGISTER = fileURLToPath(new URL('../fixtures/trace-imports/register.mjs', import.meta.url))
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
    const result = runCli(args, {MOAT_HOME: join(dir, 'home'), MOAT_TRACE_IMPORTS: trace, NODE_OPTIONS: `--import ${REGISTER}`})
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
