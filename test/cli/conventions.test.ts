// What users of other oclif CLIs expect, on the built binary: "did you mean" for a mistyped command or flag (one
// line, exit 2, the JSON error under --json), --version and version, and shell completion.
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

import {jsonOf, loadedSources, runCli} from '../helpers/cli.js'

const VERSION = /^moat-system\/\d+\.\d+\.\d+ \S+ node-v\d+/
const REGISTER = fileURLToPath(new URL('../fixtures/trace-imports/register.mjs', import.meta.url))
const BASH_COMPLETE = fileURLToPath(new URL('../fixtures/bash-complete.sh', import.meta.url))
const BUNDLE = new URL('../../dist/moat.cjs', import.meta.url).href

describe('a mistyped command or flag', () => {
  it.each([
    [['sytem', 'clean', '--dry-run'], '"sytem clean" is not a moat-system command. Did you mean "moat-system system clean"? See moat-system --help for the list.'],
    [['system', 'clean-tmp'], '"system clean-tmp" is not a moat-system command. Did you mean "moat-system system clean-temp"? See moat-system --help for the list.'],
    // Without the topic (bin/run.js runs `clean` as `system clean`), the guess is without it too.
    [['clena'], '"clena" is not a moat-system command. Did you mean "moat-system clean"? See moat-system --help for the list.'],
    [['clean-tmp', '--dry-run'], '"clean-tmp" is not a moat-system command. Did you mean "moat-system clean-temp"? See moat-system --help for the list.'],
    [['sytem'], '"sytem" is not a moat-system command. Did you mean "moat-system system"? See moat-system --help for the list.'],
    [['frobnicate'], '"frobnicate" is not a moat-system command. See moat-system --help for the list.'],
  ])('%j: one line naming the nearest command, exit 2', (args, message) => {
    const result = runCli(args)
    expect(result).toEqual({exitCode: 2, stderr: `Error: ${message}\n`, stdout: ''})
  })

  it('under --json (or MOAT_SYSTEM_CONTENT_TYPE=json): the JSON error on stdout, exit 2', () => {
    const expected = {
      error: {
        code: 'USAGE',
        exitCode: 2,
        message: '"system clena" is not a moat-system command. Did you mean "moat-system system clean"? See moat-system --help for the list.',
        name: 'CommandNotFoundError',
        suggestions: ['moat-system system clean'],
      },
    }
    for (const result of [runCli(['system', 'clena', '--json']), runCli(['system', 'clena'], {MOAT_SYSTEM_CONTENT_TYPE: 'json'})]) {
      expect(result.exitCode).toBe(2)
      expect(result.stderr).toBe('')
      expect(jsonOf(result)).toEqual(expected)
    }

    // MOAT_* is moat's namespace: oclif's settings for moat-system are MOAT_SYSTEM_*.
    expect(runCli(['system', 'clena'], {MOAT_CONTENT_TYPE: 'json'})).toMatchObject({exitCode: 2, stdout: ''})
  })

  it('a mistyped flag names the real one; an unknown one far from any gets no guess', () => {
    const typo = runCli(['system', 'clean-temp', '--dryrun'])
    expect(typo).toEqual({exitCode: 2, stderr: 'Error: Nonexistent flag: --dryrun (did you mean --dry-run?). See more help with --help\n', stdout: ''})
    const json = runCli(['system', 'clean-temp', '--min-ag', '2h', '--json'])
    expect(json.exitCode).toBe(2)
    expect(jsonOf(json)).toMatchObject({error: {exitCode: 2, message: expect.stringContaining('(did you mean --min-age?)'), suggestions: ['--min-age']}})
    expect(runCli(['system', 'clean-temp', '--bogus']).stderr).toBe('Error: Nonexistent flag: --bogus. See more help with --help\n')
  })
})

describe("a docker user's first guesses", () => {
  it.each([
    [['prune'], 'moat-system clean', 'prune'],
    [['system', 'prune', '--force'], 'moat-system system clean', 'system prune'],
    [['df'], 'moat-system status', 'df'],
    [['system', 'df'], 'moat-system system status', 'system df'],
    [['network', 'prune'], 'moat-system clean-networks', 'network prune'],
    [['container', 'prune'], 'moat-system clean-containers', 'container prune'],
    [['volume', 'prune'], 'moat-system clean-volumes', 'volume prune'],
  ])('%j: the command that does it here, in the one-line usage error (and the JSON one)', (args, suggestion, given) => {
    const message = `"${given}" is not a moat-system command. Did you mean "${suggestion}"? See moat-system --help for the list.`
    expect(runCli(args)).toEqual({exitCode: 2, stderr: `Error: ${message}\n`, stdout: ''})
    expect(jsonOf(runCli([...args, '--json']))).toEqual({error: {code: 'USAGE', exitCode: 2, message, name: 'CommandNotFoundError', suggestions: [suggestion]}})
  })

  it.each([
    [['clean-temp', '--dry-run', '--older-than', '24h'], '--older-than', '--min-age 24h'],
    [['clean-temp', '--dry-run', '--older-than=7d'], '--older-than=7d', '--min-age 7d'],
    [['status', '--until', '2h'], '--until', '--min-age 2h'],
    [['clean', '--dry-run', '--volumes'], '--volumes', '--include volumes'],
    [['clean-networks', '--yes'], '--yes', '--force'],
  ])('%j: the flag it is here, with the value given, in the one-line usage error', (args, given, suggestion) => {
    const result = runCli(['system', ...args])
    expect(result).toEqual({exitCode: 2, stderr: `Error: Nonexistent flag: ${given} (did you mean ${suggestion}?). See more help with --help\n`, stdout: ''})
    expect(jsonOf(runCli(['system', ...args, '--json']))).toMatchObject({error: {exitCode: 2, suggestions: [suggestion]}})
  })

  it('a docker flag whose counterpart this command lacks gets no guess: clean-temp has no --include', () => {
    expect(runCli(['system', 'clean-temp', '--dry-run', '--volumes']).stderr).toBe('Error: Nonexistent flag: --volumes. See more help with --help\n')
  })
})

describe('the command name', () => {
  it('moat-system clean-temp is moat-system system clean-temp, on the same fast path (the bundle, nothing from node_modules)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mth-short-'))
    try {
      mkdirSync(join(dir, 'T'))
      const traced = (args: string[]) => {
        const trace = join(dir, `imports-${Math.random()}.log`)
        const result = runCli([...args, '--dry-run', '--tmp-dir', join(dir, 'T')], {MOAT_HOME: dir, MOAT_TRACE_IMPORTS: trace, NODE_OPTIONS: `--import ${REGISTER}`})
        return {loaded: readFileSync(trace, 'utf8').split('\n').filter(Boolean), result}
      }

      const long = traced(['system', 'clean-temp'])
      const short = traced(['clean-temp'])
      expect(short.result).toEqual(long.result)
      expect(short.result).toMatchObject({exitCode: 0, stdout: 'No moat temporary directories found.\nDry run: nothing was removed.\n'})
      expect(short.loaded).toContain(BUNDLE)
      expect(short.loaded.filter((url) => url.includes('/node_modules/'))).toEqual([])
    } finally {
      rmSync(dir, {force: true, recursive: true})
    }
  })

  it('help calls it moat-system (the real moat is `moat`), with the topic or without', () => {
    expect(runCli(['--help']).stdout).toContain('USAGE\n  $ moat-system [COMMAND]\n')
    for (const args of [['clean-temp', '--help'], ['system', 'clean-temp', '--help']]) {
      expect(runCli(args).stdout).toContain('USAGE\n  $ moat-system system clean-temp')
    }
  })
})

describe('version and completion', () => {
  it('--version and version print the version, version --json as JSON', () => {
    expect(runCli(['--version'])).toMatchObject({exitCode: 0, stdout: expect.stringMatching(VERSION)})
    expect(runCli(['version'])).toMatchObject({exitCode: 0, stdout: expect.stringMatching(VERSION)})
    expect(jsonOf(runCli(['version', '--json']))).toMatchObject({cliVersion: expect.stringMatching(/^moat-system\//)})
  })

  it('autocomplete prints the set-up and writes completions that name every command', () => {
    const cache = mkdtempSync(join(tmpdir(), 'mth-ac-'))
    try {
      const env = {HOME: cache, XDG_CACHE_HOME: cache}
      const setup = runCli(['autocomplete', 'bash'], env)
      expect(setup.exitCode).toBe(0)
      expect(setup.stdout).toContain('moat-system autocomplete script bash')
      const script = runCli(['autocomplete', 'script', 'bash'], env)
      expect(script.stdout).toContain(join(cache, 'moat-system', 'autocomplete', 'bash_setup'))
      expect(runCli(['autocomplete', '--refresh-cache'], env).exitCode).toBe(0)
      // What bash offers at <TAB>, from the completion function the set-up installs.
      const setupFile = join(cache, 'moat-system/autocomplete/bash_setup')
      const complete = (...words: string[]) => spawnSync('bash', [BASH_COMPLETE, setupFile, ...words], {encoding: 'utf8'}).stdout.trim()
      expect(complete('moat-system', 'system', 'clean-t')).toBe('clean-temp')
      expect(complete('moat-system', 'system', 'clean', '--dry')).toBe('--dry-run')
      // The real moat's completion stays moat's own: none is set up for `moat`.
      const forMoat = spawnSync('bash', ['-c', 'source "$1" && complete -p moat', 'bash', setupFile], {encoding: 'utf8'})
      expect(forMoat.status).not.toBe(0)
      expect(forMoat.stderr).toMatch(/complete: moat: no completion specification/)
    } finally {
      rmSync(cache, {force: true, recursive: true})
    }
  })
})

describe('start-up stays cheap', () => {
  it('an ordinary command loads no plugin code, no not-found hook and no fast-glob; a --tmp-dir glob loads fast-glob', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mth-startup-'))
    try {
      mkdirSync(join(dir, 'T'))
      const loaded = (tmpDir: string) => {
        const trace = join(dir, `imports-${Math.random()}.log`)
        const env = {MOAT_HOME: join(dir, 'home'), MOAT_TRACE_IMPORTS: trace, NODE_OPTIONS: `--import ${REGISTER}`}
        const result = runCli(['system', 'clean-temp', '--dry-run', '--runtime', 'docker', '--tmp-dir', tmpDir], env)
        expect(result.exitCode, result.stderr).toBe(0)
        return loadedSources(trace)
          .filter((url) => /\/node_modules\/(fast-glob|@oclif\/plugin-[^/]+\/lib)\/|\/hooks\//.test(url))
          .map((url) => url.replace(/^.*\/node_modules\/((@oclif\/)?[^/]+)\/.*$/, '$1'))
      }

      expect(loaded(join(dir, 'T'))).toEqual([])
      expect(new Set(loaded(join(dir, '*')))).toEqual(new Set(['fast-glob']))
    } finally {
      rmSync(dir, {force: true, recursive: true})
    }
  })
})
