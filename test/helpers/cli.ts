import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll} from 'vitest'

import {collectOutput} from './child-output.js'

const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

// Every CLI run gets a private MOAT_HOME unless a test gives one: the clean lock lives there, never in ~/.moat. And
// a private XDG_STATE_HOME and XDG_CACHE_HOME: the journal of removing passes and the code caches
// (src/lib/cli/code-cache.ts) go there, never to the real ~/.local/state or ~/.cache.
// One of each per test file: vitest evaluates this module afresh for each file, and this afterAll (registered when the
// file imports it) removes them when the file is done. process.on('exit') never runs inside vitest's workers.
let defaultHome: string | undefined
let defaultState: string | undefined
let cacheHome: string | undefined
afterAll(() => {
  for (const dir of [defaultHome, defaultState, cacheHome]) if (dir) rmSync(dir, {force: true, recursive: true})
  defaultHome = undefined
  defaultState = undefined
  cacheHome = undefined
})

function privateMoatHome(): string {
  defaultHome ??= mkdtempSync(join(tmpdir(), 'mth-cli-'))
  return defaultHome
}

/** The XDG_STATE_HOME every CLI run of this test file gets unless a test gives one (its journal is under it). */
export function privateStateHome(): string {
  defaultState ??= mkdtempSync(join(tmpdir(), 'mts-cli-'))
  return defaultState
}

/** This test file's XDG_CACHE_HOME for the CLI (its first run there compiles the bundle and writes the code cache). */
export function testCacheHome(): string {
  cacheHome ??= mkdtempSync(join(tmpdir(), 'mtc-cli-'))
  return cacheHome
}

function cliEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {
    ...process.env,
    MOAT_HOME: privateMoatHome(),
    XDG_CACHE_HOME: testCacheHome(),
    XDG_STATE_HOME: privateStateHome(),
  }
  delete base.DOCKER_HOST
  delete base.DOCKER_CONTEXT
  return {...base, ...env}
}

export interface CliResult {
  exitCode: number
  stderr: string
  stdout: string
}

/**
 * Runs the built CLI as a user would (`npm test` builds first), with no terminal: stdin is a closed pipe.
 * DOCKER_HOST is removed unless given, so no test reaches the machine's own engine by accident.
 */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: cliEnv(env),
    input: '',
    // A reap of thousands of items logs a line each to stderr: more than spawnSync's 1 MB default.
    maxBuffer: 256 * 1024 * 1024,
    timeout: 60_000,
  })
  if (result.error) throw result.error
  return {exitCode: result.status ?? -1, stderr: result.stderr, stdout: result.stdout}
}

/** Parses stdout as one JSON document; fails the test with stdout shown when it is not clean JSON. */
export function jsonOf(result: CliResult): Record<string, unknown> & {items?: Array<Record<string, unknown>>} {
  try {
    return JSON.parse(result.stdout)
  } catch {
    throw new Error(`stdout is not clean JSON (exit ${result.exitCode}):\n${result.stdout}\nstderr:\n${result.stderr}`)
  }
}

/** The items of a --json run by name (a JSON document with one target). */
export function itemsByName(result: CliResult): Record<string, Record<string, unknown>> {
  return Object.fromEntries((jsonOf(result).items ?? []).map((item) => [item.name as string, item]))
}

/** The same as runCli, without blocking: for runs that must overlap or be signalled. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> & {child: ChildProcess} {
  const child = spawn(process.execPath, [BIN, ...args], {env: cliEnv(env), stdio: ['pipe', 'pipe', 'pipe']})
  child.stdin!.end()
  const done = collectOutput(child).then(({code, signal, stderr, stdout}) => ({exitCode: code ?? (signal ? -1 : 0), stderr, stdout}))
  return Object.assign(done, {child})
}

const ROOT = new URL('../../', import.meta.url)

/**
 * The modules a traced run loaded (test/fixtures/trace-imports), as source URLs: a file of the bundle (dist/moat.cjs
 * and its chunks, scripts/bundle.js) stands for every source it holds, so a test can say "docker-api.js was used, no
 * execa" on either path.
 */
export function loadedSources(trace: string): string[] {
  const holds: Record<string, string[]> = JSON.parse(readFileSync(new URL('dist/moat-bundle.json', ROOT), 'utf8'))
  return readFileSync(trace, 'utf8')
    .split('\n')
    .filter(Boolean)
    .flatMap((url) => {
      const output = url.startsWith(ROOT.href) ? url.slice(ROOT.href.length) : undefined
      return output && holds[output] ? holds[output].map((input) => new URL(input, ROOT).href) : [url]
    })
}
