import {spawnSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'

const BIN = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

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
  const base = {...process.env}
  delete base.DOCKER_HOST
  delete base.DOCKER_CONTEXT
  const result = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: {...base, ...env},
    input: '',
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
