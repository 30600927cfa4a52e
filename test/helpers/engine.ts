import {spawn} from 'node:child_process'
import {afterAll, beforeAll, beforeEach, describe, inject} from 'vitest'

import {collectOutput} from './child-output.js'
import {fixtureChanged} from './fixture-clock.js'

// Built by test/engine/engine.sh with `docker import` (nothing can be pulled): busybox with sh, sleep, true, cat, echo.
export const TEST_IMAGE = 'moat-test-busybox:latest'

// undefined when test/engine/global-setup.ts is not in the vitest globalSetup list.
const dockerHost: string | undefined = inject('dockerHost')
const engineError: string | undefined = inject('engineError')

/** True only when the run was told MOAT_TEST_ENGINE=skip; a failed engine start is an error, not a skip. */
export const engineSkipped: boolean = dockerHost === '' && !engineError

/**
 * The test engine's DOCKER_HOST. Throws (failing the caller) when the engine could not be started, and when the
 * engine suites are skipped: only describeEngine skips, visibly, a whole suite.
 */
export function requireEngine(): string {
  if (engineError) throw new Error(`Docker test engine unavailable: ${engineError}`)
  if (dockerHost === undefined) {
    throw new Error('no Docker test engine: test/engine/global-setup.ts is not in the vitest globalSetup list')
  }

  if (engineSkipped) {
    throw new Error('engine suites are skipped (MOAT_TEST_ENGINE=skip): declare this suite with describeEngine')
  }

  return dockerHost
}

/**
 * describe() for suites that need the real engine: shown as skipped under MOAT_TEST_ENGINE=skip,
 * and every test in it fails with the engine's error line when the engine could not be started.
 */
export function describeEngine(name: string, fn: () => void): void {
  const title = engineSkipped ? `${name} [skipped: MOAT_TEST_ENGINE=skip]` : name
  describe.skipIf(engineSkipped)(title, () => {
    // Per test rather than beforeAll so each test reports the reason itself.
    beforeEach(() => {
      requireEngine()
    })
    fn()
  })
}

/**
 * For suites that run the library in this process: from the suite's start DOCKER_HOST names the test engine and
 * DOCKER_CONTEXT is unset; both are put back after the suite. Call inside describeEngine.
 */
export function useEngineInProcessEnv(): void {
  const saved = {context: process.env.DOCKER_CONTEXT, host: process.env.DOCKER_HOST}
  beforeAll(() => {
    process.env.DOCKER_HOST = requireEngine()
    delete process.env.DOCKER_CONTEXT
  })
  afterAll(() => {
    if (saved.host === undefined) delete process.env.DOCKER_HOST
    else process.env.DOCKER_HOST = saved.host
    if (saved.context !== undefined) process.env.DOCKER_CONTEXT = saved.context
  })
}

/** process.env for a child (docker or the CLI under test) that must talk to the test engine and nothing else. */
export function engineEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {...process.env, ...extra, DOCKER_HOST: requireEngine()}
  // A docker context would compete with DOCKER_HOST.
  delete env.DOCKER_CONTEXT
  return env
}

export interface DockerResult {
  exitCode: number
  stderr: string
  stdout: string
}

export interface DockerOptions {
  /** Written to the CLI's stdin. */
  input?: Buffer | string
  /** Kill the CLI after this long; default 60 s. */
  timeoutMs?: number
}

/** docker commands that make an object on the engine or change its state: the events fixture ages count from. */
const CONTAINER_CHANGES = new Set(['create', 'kill', 'pause', 'rename', 'restart', 'run', 'start', 'stop', 'unpause', 'update'])
const CHANGES: Record<string, Set<string>> = {
  container: CONTAINER_CHANGES,
  network: new Set(['connect', 'create', 'disconnect']),
  volume: new Set(['create']),
}

function changesEngine([command, subcommand]: string[]): boolean {
  return CONTAINER_CHANGES.has(command!) || (CHANGES[command!]?.has(subcommand!) ?? false)
}

/** Runs the real docker CLI against the test engine. Never rejects for a non-zero exit. */
export async function docker(args: string[], opts: DockerOptions = {}): Promise<DockerResult> {
  const env = engineEnv()
  const child = spawn('docker', args, {env, stdio: ['pipe', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 60_000})
  const output = collectOutput(child)
  child.stdin.end(opts.input)
  const {code, signal, stderr, stdout} = await output
  // After the command returns: the object is at least this old on the engine.
  if (changesEngine(args)) fixtureChanged()
  const killed = signal ? `\n(docker ${args.join(' ')} killed by ${signal})` : ''
  return {exitCode: code ?? 1, stderr: `${stderr}${killed}`, stdout}
}

/** Like docker() but throws on a non-zero exit; returns stdout without surrounding whitespace. */
export async function dockerOk(args: string[], opts: DockerOptions = {}): Promise<string> {
  const result = await docker(args, opts)
  if (result.exitCode !== 0) {
    throw new Error(`docker ${args.join(' ')} exited with ${result.exitCode}: ${result.stderr.trim()}`)
  }

  return result.stdout.trim()
}

export async function containerExists(id: string): Promise<boolean> {
  return (await docker(['container', 'inspect', id])).exitCode === 0
}

export async function networkExists(id: string): Promise<boolean> {
  return (await docker(['network', 'inspect', id])).exitCode === 0
}

/** A container's State.Status: created, running, exited, ... */
export function containerState(id: string): Promise<string> {
  return dockerOk(['container', 'inspect', '--format', '{{.State.Status}}', id])
}
